/**
 * The simulated home: a deterministic (seeded) set of areas, devices and entities, and a generator of
 * plausible state changes. Everything that reaches a client is pre-rendered JSON text built here once per
 * state change, so the server can emit 100,000 changes per second without re-serialising objects.
 *
 * Timestamps are HA's: a `time.time()` double per change (`lastUpdatedTs`), and the µs CPython derives
 * from it (`lastUpdatedUs`, the key a client stores). The home's clock gives every change a distinct µs
 * until a clock-step fault moves it back.
 */
import { isoFromUs, jsonFloat } from "../runtime/events/cpython-time.ts";

export { isoFromUs };

/** mulberry32: a small, fast, seedable PRNG returning [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimArea {
  area_id: string;
  name: string;
}
export interface SimDevice {
  id: string;
  name: string;
  area_id: string;
  manufacturer: string;
  model: string;
}
type Kind =
  | "temperature"
  | "humidity"
  | "power"
  | "energy"
  | "motion"
  | "door"
  | "light"
  | "switch"
  | "climate"
  | "person"
  | "weather";

export interface SimEntity {
  entity_id: string;
  /** Registry id (stable across renames, like HA's). */
  id: string;
  unique_id: string;
  kind: Kind;
  /** The name its entity_id was made from. */
  name: string;
  /**
   * HA's `original_name` with `has_entity_name: true`: the entity's part of the name ("Temperature"), or
   * null for a device's main feature, whose friendly name is the device's. null too without a device.
   */
  entityName: string | null;
  /** The user's name in the entity registry (`name`), set by a registry update; null until then. */
  registryName: string | null;
  /** Its attributes cannot be serialised (the unserialisable fault): HA sends an error, not the state. */
  unserialisable: boolean;
  device_id: string | null;
  area_id: string | null;
  platform: string;
  state: string;
  attributes: Record<string, unknown>;
  /** The entity's current state object as JSON text (the next change's old_state); "" until rendered. */
  stateJson: string;
  /** The current state's context id. */
  ctxId: string;
  /** Attributes as JSON text (shared by history rows until they change). */
  attrsJson: string;
  /** What HA's recorder stores of `attrsJson` (recorder.ts), and the `attrsJson` it was made from. */
  recordedJson: string;
  recordedFrom: string;
  /** The `time.time()` double of the last state change, and its µs as CPython rounds them. */
  lastChangedTs: number;
  lastChangedUs: number;
  /** `lastChangedUs` as HA's ISO text (rendered once per change, reused by every later update). */
  lastChangedIso: string;
  /** The `time.time()` double of the last update (HA's `last_updated_timestamp`), and its µs. */
  lastUpdatedTs: number;
  lastUpdatedUs: number;
  /** A running value for numeric kinds. */
  value: number;
}

const AREAS = ["Living Room", "Kitchen", "Bedroom", "Office", "Bathroom", "Hallway", "Garage", "Garden"];

const TEMPLATES: { model: string; manufacturer: string; kinds: Kind[] }[] = [
  { model: "Multisensor 7", manufacturer: "Aeotec", kinds: ["temperature", "humidity", "motion"] },
  { model: "Smart Plug", manufacturer: "Shelly", kinds: ["switch", "power", "energy"] },
  { model: "Hue Bulb", manufacturer: "Signify", kinds: ["light"] },
  { model: "Door Contact", manufacturer: "Aqara", kinds: ["door"] },
  { model: "Thermostat", manufacturer: "tado", kinds: ["climate", "temperature"] },
];

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "_");

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** base-32 digits as JS writes them (0-9a-v) -> Crockford's alphabet, as ULIDs use. */
const TO_CROCKFORD: Record<string, string> = {};
for (let i = 0; i < 32; i++) TO_CROCKFORD[i.toString(32)] = CROCKFORD[i];
let ctxMs = -1;
let ctxPrefix = "";

/** A deterministic ULID-shaped context id: 10 chars of milliseconds, 16 of sequence (Crockford base32). */
export function contextId(seq: number, us: number): string {
  const ms = Math.floor(us / 1000);
  if (ms !== ctxMs) {
    ctxMs = ms;
    let out = "";
    let n = ms;
    for (let i = 0; i < 10; i++) {
      out = CROCKFORD[n % 32] + out;
      n = Math.floor(n / 32);
    }
    ctxPrefix = out;
  }
  const digits = seq.toString(32);
  let tail = "";
  for (let i = 0; i < digits.length; i++) tail += TO_CROCKFORD[digits[i]];
  return ctxPrefix + tail.padStart(16, "0");
}

export interface Home {
  areas: SimArea[];
  devices: SimDevice[];
  entities: SimEntity[];
  byId: Map<string, SimEntity>;
}

function baseAttributes(kind: Kind, name: string): Record<string, unknown> {
  switch (kind) {
    case "temperature":
      return {
        state_class: "measurement",
        unit_of_measurement: "°C",
        device_class: "temperature",
        friendly_name: name,
      };
    case "humidity":
      return {
        state_class: "measurement",
        unit_of_measurement: "%",
        device_class: "humidity",
        friendly_name: name,
      };
    case "power":
      return {
        state_class: "measurement",
        unit_of_measurement: "W",
        device_class: "power",
        friendly_name: name,
      };
    case "energy":
      return {
        state_class: "total_increasing",
        unit_of_measurement: "kWh",
        device_class: "energy",
        friendly_name: name,
      };
    case "motion":
      return { device_class: "motion", friendly_name: name };
    case "door":
      return { device_class: "door", friendly_name: name };
    case "light":
      return {
        supported_color_modes: ["brightness"],
        color_mode: null,
        brightness: null,
        friendly_name: name,
        supported_features: 40,
      };
    case "switch":
      return { friendly_name: name };
    case "climate":
      return {
        hvac_modes: ["off", "heat"],
        min_temp: 7,
        max_temp: 35,
        current_temperature: 20,
        temperature: 21,
        friendly_name: name,
        supported_features: 385,
      };
    case "person":
      return { source: "device_tracker.phone", friendly_name: name };
    case "weather":
      return {
        temperature: 12,
        temperature_unit: "°C",
        humidity: 70,
        pressure: 1013,
        pressure_unit: "hPa",
        wind_speed: 10,
        wind_speed_unit: "km/h",
        attribution: "Weather forecast from met.no, delivered by the Norwegian Meteorological Institute.",
        friendly_name: name,
        supported_features: 3,
      };
  }
}

const DOMAIN: Record<Kind, string> = {
  temperature: "sensor",
  humidity: "sensor",
  power: "sensor",
  energy: "sensor",
  motion: "binary_sensor",
  door: "binary_sensor",
  light: "light",
  switch: "switch",
  climate: "climate",
  person: "person",
  weather: "weather",
};

/** Builds a home of `count` entities; the same seed always gives the same home. */
export function buildHome(count: number, random: () => number, startUs: number): Home {
  const areas: SimArea[] = AREAS.map((name) => ({ area_id: slug(name), name }));
  const devices: SimDevice[] = [];
  const entities: SimEntity[] = [];
  const usedIds = new Set<string>();
  const add = (
    kind: Kind,
    name: string,
    device: SimDevice | null,
    area: string | null,
    entityName: string | null = null,
  ) => {
    let objectId = slug(name);
    for (let n = 2; usedIds.has(`${DOMAIN[kind]}.${objectId}`); n++) objectId = `${slug(name)}_${n}`;
    const entityId = `${DOMAIN[kind]}.${objectId}`;
    usedIds.add(entityId);
    const serial = entities.length + 1;
    entities.push({
      entity_id: entityId,
      id: `e${serial.toString(16).padStart(8, "0")}`,
      unique_id: `sim-${serial}`,
      kind,
      name,
      entityName,
      registryName: null,
      unserialisable: false,
      device_id: device?.id ?? null,
      area_id: area,
      platform: kind === "person" ? "person" : kind === "weather" ? "met" : "sim",
      state: "",
      // As HA names an entity with has_entity_name: the device's name, then the entity's part if any.
      attributes: baseAttributes(kind, device ? [device.name, entityName].filter(Boolean).join(" ") : name),
      stateJson: "",
      ctxId: "",
      attrsJson: "",
      recordedJson: "",
      recordedFrom: "",
      lastChangedTs: startUs / 1e6,
      lastChangedUs: startUs,
      lastChangedIso: "",
      lastUpdatedTs: startUs / 1e6,
      lastUpdatedUs: startUs,
      value: initialValue(kind, random),
    });
  };
  add("weather", "Home", null, null);
  if (count > 1) add("person", "Alice", null, null);
  if (count > 2) add("person", "Bob", null, null);
  for (let d = 0; entities.length < count; d++) {
    const template = TEMPLATES[d % TEMPLATES.length];
    const area = areas[Math.floor(d / TEMPLATES.length) % areas.length];
    const device: SimDevice = {
      id: `d${(d + 1).toString(16).padStart(8, "0")}`,
      name: `${area.name} ${template.model} ${Math.floor(d / (TEMPLATES.length * areas.length)) + 1}`,
      area_id: area.area_id,
      manufacturer: template.manufacturer,
      model: template.model,
    };
    devices.push(device);
    for (const kind of template.kinds) {
      if (entities.length >= count) break;
      const main = kind === "light" || kind === "switch" || kind === "climate";
      add(kind, `${device.name} ${kind}`, device, null, main ? null : kind[0].toUpperCase() + kind.slice(1));
    }
  }
  return { areas, devices, entities, byId: new Map(entities.map((e) => [e.entity_id, e])) };
}

function initialValue(kind: Kind, random: () => number): number {
  switch (kind) {
    case "temperature":
      return 18 + random() * 6;
    case "humidity":
      return 40 + random() * 20;
    case "power":
      return random() * 300;
    case "energy":
      return random() * 1000;
    default:
      return random();
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Moves an entity to its next plausible state; returns whether the state text changed. */
export function advance(e: SimEntity, random: () => number): boolean {
  const before = e.state;
  const a = e.attributes;
  switch (e.kind) {
    case "temperature":
      e.value = clamp(e.value + (random() - 0.5) * 0.4, 10, 32);
      e.state = round1(e.value).toFixed(1);
      break;
    case "humidity":
      e.value = clamp(e.value + (random() - 0.5) * 2, 20, 95);
      e.state = round1(e.value).toFixed(1);
      break;
    case "power":
      e.value = random() < 0.05 ? random() * 2500 : clamp(e.value + (random() - 0.5) * 20, 0, 3500);
      e.state = round1(e.value).toFixed(1);
      break;
    case "energy":
      e.value += random() * 0.01;
      e.state = e.value.toFixed(3);
      break;
    case "motion":
    case "door":
    case "switch":
      e.state = random() < 0.5 ? "on" : "off";
      break;
    case "light": {
      const on = random() < 0.5;
      e.state = on ? "on" : "off";
      a.brightness = on ? 1 + Math.floor(random() * 254) : null;
      a.color_mode = on ? "brightness" : null;
      break;
    }
    case "climate":
      e.state = random() < 0.7 ? "heat" : "off";
      a.current_temperature = round1(
        clamp((a.current_temperature as number) + (random() - 0.5) * 0.4, 10, 30),
      );
      a.temperature = random() < 0.1 ? 18 + Math.floor(random() * 6) : a.temperature;
      break;
    case "person":
      e.state = random() < 0.7 ? "home" : "not_home";
      break;
    case "weather": {
      const states = ["sunny", "partlycloudy", "cloudy", "rainy", "clear-night"];
      e.state = states[Math.floor(random() * states.length)];
      a.temperature = round1(clamp((a.temperature as number) + (random() - 0.5), -10, 35));
      a.humidity = Math.round(clamp((a.humidity as number) + (random() - 0.5) * 4, 20, 100));
      break;
    }
  }
  return e.state !== before;
}

/** The attributes `advance` may change, per kind (the others keep their attributes JSON). */
const VARYING: Partial<Record<Kind, readonly string[]>> = {
  light: ["brightness", "color_mode"],
  climate: ["current_temperature", "temperature"],
  weather: ["temperature", "humidity"],
};

export const attributesVary = (e: SimEntity) => VARYING[e.kind] !== undefined;

/** The values of the attributes that may vary, to diff against after `advance`. */
export const varyingValues = (e: SimEntity): unknown[] => (VARYING[e.kind] ?? []).map((k) => e.attributes[k]);

/** The varying attributes whose value differs from `before` (HA's diff `+ a`), as JSON, or "". */
export function changedAttributes(e: SimEntity, before: unknown[]): string {
  const keys = VARYING[e.kind] ?? [];
  let out = "";
  for (let i = 0; i < keys.length; i++) {
    const v = e.attributes[keys[i]];
    if (v !== before[i]) out += `${out ? "," : ""}"${keys[i]}":${JSON.stringify(v)}`;
  }
  return out && `{${out}}`;
}

/** Renders the entity's state object as HA sends it in state_changed and get_states. */
export function renderState(e: SimEntity): string {
  const lu = isoFromUs(e.lastUpdatedUs);
  return `{"entity_id":${JSON.stringify(e.entity_id)},"state":${JSON.stringify(e.state)},"attributes":${e.attrsJson},"last_changed":"${e.lastChangedIso}","last_reported":"${lu}","last_updated":"${lu}","context":{"id":"${e.ctxId}","parent_id":null,"user_id":null}}`;
}

/**
 * The entity's compressed state, as `subscribe_entities` sends it in `a` (`State.as_compressed_state`):
 * right after a state change `lc` is the raw double it was stamped with; after attribute-only updates
 * `lc` is `last_changed.timestamp()` (exact µs, from the datetime) and `lu` the raw double.
 */
export function renderCompressed(e: SimEntity): string {
  const same = e.lastUpdatedTs === e.lastChangedTs;
  const lc = same ? e.lastChangedTs : e.lastChangedUs / 1e6;
  const lu = same ? "" : `,"lu":${jsonFloat(e.lastUpdatedTs)}`;
  return `{"s":${JSON.stringify(e.state)},"a":${e.attrsJson},"c":"${e.ctxId}","lc":${jsonFloat(lc)}${lu}}`;
}
