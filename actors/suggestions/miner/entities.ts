/**
 * Which entities the miner treats as things a person does (actions), as triggers, and as readings, and
 * which Home Assistant action reproduces a state. Only these domains are mined; everything else streams past.
 */
import type { SensorKind } from "./types.ts";

export function domainOf(entityId: string): string {
  const dot = entityId.indexOf(".");
  return dot < 0 ? entityId : entityId.slice(0, dot);
}

/** Target states per actionable domain, with the HA action that produces each. */
const ACTIONS: Record<string, Record<string, { action: string; data?: Record<string, string> }>> = {
  light: { on: { action: "light.turn_on" }, off: { action: "light.turn_off" } },
  switch: { on: { action: "switch.turn_on" }, off: { action: "switch.turn_off" } },
  fan: { on: { action: "fan.turn_on" }, off: { action: "fan.turn_off" } },
  input_boolean: { on: { action: "input_boolean.turn_on" }, off: { action: "input_boolean.turn_off" } },
  cover: { open: { action: "cover.open_cover" }, closed: { action: "cover.close_cover" } },
  lock: { locked: { action: "lock.lock" }, unlocked: { action: "lock.unlock" } },
  climate: {
    heat: { action: "climate.set_hvac_mode", data: { hvac_mode: "heat" } },
    cool: { action: "climate.set_hvac_mode", data: { hvac_mode: "cool" } },
    heat_cool: { action: "climate.set_hvac_mode", data: { hvac_mode: "heat_cool" } },
    auto: { action: "climate.set_hvac_mode", data: { hvac_mode: "auto" } },
    off: { action: "climate.turn_off" },
  },
};

/** States that say nothing about what a person did. */
const NO_INFO = new Set(["unavailable", "unknown", ""]);

/** The HA action that puts `entityId` into `state`, or undefined when the miner does not propose it. */
export function actionFor(
  entityId: string,
  state: string,
): { action: string; data?: Record<string, string> } | undefined {
  return ACTIONS[domainOf(entityId)]?.[state];
}

/**
 * A state change is a deliberate action when the entity is actionable, the new state is one the miner
 * can reproduce, and the previous state was a different, known state (not a restart from unavailable).
 */
export function isAction(entityId: string, previous: string | undefined, state: string): boolean {
  if (previous === undefined || previous === state || NO_INFO.has(previous)) return false;
  return actionFor(entityId, state) !== undefined;
}

/** Devices that can be "left on": light, switch, fan (state "on"). */
export function canBeLeftOn(entityId: string): boolean {
  const d = domainOf(entityId);
  return d === "light" || d === "switch" || d === "fan";
}

/** Trigger candidates for co-occurrence: a binary sensor turning on, a person arriving home. */
export function triggerState(entityId: string, previous: string | undefined, state: string): boolean {
  if (previous === undefined || previous === state || NO_INFO.has(previous)) return false;
  const d = domainOf(entityId);
  if (d === "binary_sensor") return state === "on";
  if (d === "person") return state === "home";
  return false;
}

/** Sensor kind from the entity id's words, when attributes did not say. */
export function sensorKindFromId(entityId: string): SensorKind | undefined {
  if (domainOf(entityId) !== "sensor") return undefined;
  if (/temp/.test(entityId)) return "temperature";
  if (/illuminance|lux|light_level/.test(entityId)) return "illuminance";
  if (/humid/.test(entityId)) return "humidity";
  return undefined;
}

/** Sensor kind from HA attributes (device_class, then unit), for the SQL source adapter. */
export function sensorKindFromAttributes(attributes: Record<string, unknown>): SensorKind | undefined {
  const dc = attributes.device_class;
  if (dc === "temperature" || dc === "illuminance" || dc === "humidity") return dc;
  const unit = attributes.unit_of_measurement;
  if (unit === "°C" || unit === "°F") return "temperature";
  if (unit === "lx") return "illuminance";
  return undefined;
}

const NOUNS: Record<string, string> = {
  light: "light",
  switch: "switch",
  fan: "fan",
  climate: "thermostat",
  cover: "cover",
  lock: "lock",
  input_boolean: "toggle",
};

/** "light.kitchen_ceiling" -> "Kitchen ceiling light"; sensors and persons keep their own words. */
export function nameFromId(entityId: string): string {
  const object = entityId.slice(entityId.indexOf(".") + 1).replace(/_/g, " ");
  const noun = NOUNS[domainOf(entityId)];
  const name = noun && !object.endsWith(noun) ? `${object} ${noun}` : object;
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** Human verb for a target state: "turn on", "open", "set to heat". */
export function verbFor(entityId: string, state: string): string {
  const d = domainOf(entityId);
  if (d === "climate") return state === "off" ? "turn off" : `set to ${state.replace("_", "/")}`;
  if (d === "cover") return state === "open" ? "open" : "close";
  if (d === "lock") return state === "locked" ? "lock" : "unlock";
  return state === "on" ? "turn on" : "turn off";
}
