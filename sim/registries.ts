/**
 * What the simulated Home Assistant answers about itself: the registry lists and `get_config`, in HA's
 * shapes. Rendered on request (rare), from the home the simulator keeps.
 */
import type { Home } from "./home.ts";

export const SIM_HA_VERSION = "2025.11.2";

/** HA's registry lists (`config/*_registry/list`) of the simulated home, as HA renders them. */
export const registry = {
  areas: (home: Home) =>
    JSON.stringify(
      home.areas.map((a) => ({
        area_id: a.area_id,
        name: a.name,
        aliases: [],
        floor_id: null,
        icon: null,
        labels: [],
        picture: null,
      })),
    ),
  devices: (home: Home) =>
    JSON.stringify(
      home.devices.map((d) => ({
        id: d.id,
        area_id: d.area_id,
        name: d.name,
        name_by_user: null,
        manufacturer: d.manufacturer,
        model: d.model,
        sw_version: "1.0",
        hw_version: null,
        identifiers: [["sim", d.id]],
        config_entries: ["sim"],
        via_device_id: null,
        disabled_by: null,
        entry_type: null,
        labels: [],
      })),
    ),
  /**
   * With `hasEntityName` (modern integrations, HA's default for new ones) an entity of a device carries
   * `has_entity_name: true` and only its own part as `original_name` ("Temperature"), or null for the
   * device's main feature: a client must add the device's name. Without it, the full name.
   */
  entities: (home: Home, hasEntityName = true) =>
    JSON.stringify(
      home.entities.map((e) => {
        const partial = hasEntityName && e.device_id !== null;
        return {
          area_id: e.area_id,
          categories: {},
          config_entry_id: null,
          device_id: e.device_id,
          disabled_by: null,
          entity_category: null,
          entity_id: e.entity_id,
          has_entity_name: partial,
          hidden_by: null,
          icon: null,
          id: e.id,
          labels: [],
          name: e.registryName,
          original_name: partial ? e.entityName : e.name,
          platform: e.platform,
          translation_key: null,
          unique_id: e.unique_id,
        };
      }),
    ),
};

/** HA's `get_config` answer for the simulated home. */
export const config = () =>
  JSON.stringify({
    latitude: 52.3731,
    longitude: 4.8922,
    elevation: 2,
    unit_system: {
      length: "km",
      accumulated_precipitation: "mm",
      mass: "g",
      pressure: "Pa",
      temperature: "°C",
      volume: "L",
      wind_speed: "m/s",
    },
    location_name: "HomeIQ Demo Home",
    time_zone: "Europe/Amsterdam",
    components: ["sensor", "binary_sensor", "light", "switch", "climate", "person", "weather", "history"],
    config_dir: "/config",
    allowlist_external_dirs: [],
    allowlist_external_urls: [],
    version: SIM_HA_VERSION,
    config_source: "storage",
    recovery_mode: false,
    state: "RUNNING",
    external_url: null,
    internal_url: null,
    currency: "EUR",
    country: "NL",
    language: "en",
    safe_mode: false,
    debug: false,
    radius: 100,
  });
