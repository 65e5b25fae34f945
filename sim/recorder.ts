/**
 * What HA's recorder keeps of a state's attributes (`recorder/db_schema.py`
 * `StateAttributes.shared_attrs_bytes_from_event`), so history answers differ from live states as HA's do:
 * attributes every domain drops, each entity component's `_entity_component_unrecorded_attributes` for
 * the domains the simulated home has, and `{}` in place of attributes over 16 KiB.
 */

/** `recorder/const.py` `ALL_DOMAIN_EXCLUDE_ATTRS`. */
export const ALL_DOMAIN_EXCLUDE_ATTRS: readonly string[] = ["attribution", "restored", "supported_features"];

/** `recorder/const.py` `MAX_STATE_ATTRS_BYTES`: larger attributes are stored as `{}` ("will not be stored"). */
export const MAX_STATE_ATTRS_BYTES = 16384;

/**
 * Per domain, the attributes its entity component declares unrecorded (HA 2025: `ClimateEntity`,
 * `LightEntity`, `SensorEntity`); binary_sensor, switch, person and weather declare none.
 */
export const UNRECORDED_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  climate: [
    "hvac_modes",
    "fan_modes",
    "swing_modes",
    "min_temp",
    "max_temp",
    "min_humidity",
    "max_humidity",
    "target_humidity_step",
    "target_temp_step",
    "preset_modes",
  ],
  light: [
    "supported_color_modes",
    "effect_list",
    "min_mireds",
    "max_mireds",
    "min_color_temp_kelvin",
    "max_color_temp_kelvin",
    "brightness",
    "color_mode",
    "color_temp",
    "color_temp_kelvin",
    "effect",
    "hs_color",
    "rgb_color",
    "rgbw_color",
    "rgbww_color",
    "xy_color",
  ],
  sensor: ["options"],
};

const excluded = new Map<string, Set<string>>();
const excludedFor = (domain: string): Set<string> => {
  let set = excluded.get(domain);
  if (!set) {
    set = new Set([...ALL_DOMAIN_EXCLUDE_ATTRS, ...(UNRECORDED_ATTRIBUTES[domain] ?? [])]);
    excluded.set(domain, set);
  }
  return set;
};

/** The attributes JSON HA's recorder stores for an entity of `domain` with these attributes. */
export function recordedAttributesJson(domain: string, attributes: Record<string, unknown>): string {
  const drop = excludedFor(domain);
  const kept: Record<string, unknown> = {};
  for (const key in attributes) if (!drop.has(key)) kept[key] = attributes[key];
  const json = JSON.stringify(kept);
  // HA measures the encoded bytes; JSON text is at most 3 bytes a UTF-16 unit, so short text skips it.
  if (json.length * 3 > MAX_STATE_ATTRS_BYTES && Buffer.byteLength(json) > MAX_STATE_ATTRS_BYTES) return "{}";
  return json;
}
