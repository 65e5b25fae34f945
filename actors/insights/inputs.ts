/**
 * Shapes events into what the energy and health analyses take: per-device state series paired with their
 * power sensors, the home meter, and per-entity health histories. Pure, so the worker's SQL reads and the
 * tests' arrays go through the same pairing rules.
 */

import { domainOf, type InsightEvent, median } from "../../runtime/store/insights/types.ts";
import type { EntityColumns } from "../../runtime/store/insights-reader.ts";
import {
  type DeviceStates,
  type OnOffSeries,
  onOffOf,
  onOffSeries,
  type PowerSensor,
  type PowerSeries,
  powerOf,
  powerSeries,
  SWITCHABLE_DOMAINS,
} from "./energy.ts";
import type { HealthEvent, HealthSeries } from "./health.ts";

const HOME_METER = /home|house|total|main|grid/;

export function groupByEntity(events: Iterable<InsightEvent>): Map<string, InsightEvent[]> {
  const by = new Map<string, InsightEvent[]>();
  for (const e of events) {
    const list = by.get(e.entity_id);
    if (list) list.push(e);
    else by.set(e.entity_id, [e]);
  }
  for (const list of by.values()) list.sort((a, b) => a.ts - b.ts);
  return by;
}

function unitOf(events: InsightEvent[]): string | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const u = events[i].attributes?.unit_of_measurement;
    if (typeof u === "string") return u;
  }
  return undefined;
}

/** What the metadata registry knows of an entity: its friendly name and its device. */
export interface EntityMeta {
  name: string | null;
  device_id: string | null;
}

/** Friendly names alone, when no device registry is at hand (tests, a store without metadata). */
export function metaFromNames(names: ReadonlyMap<string, string>): Map<string, EntityMeta> {
  return new Map([...names].map(([id, name]) => [id, { name, device_id: null }]));
}

/**
 * Pairs each switchable device with its own power sensor — the one power sensor on the same HA device
 * (metadata), else by name (`switch.tv` -> `sensor.tv_power`) — and picks the home meter: the configured
 * entity, else the unpaired power sensor named like a meter (home, house, total, main, grid), else the
 * unpaired one with the highest median.
 */
/**
 * What the energy analysis keeps of one entity's history: a power sensor's readings as a series (16 bytes
 * a reading) or a switchable's on/off (9 bytes a state, no attributes). A week of events is read one entity
 * at a time and shrunk to this at once, so a busy home's week never sits in memory as full events.
 */
export type EnergyHistory = { kind: "power"; series: PowerSeries } | { kind: "states"; states: OnOffSeries };

export function energyHistory(entityId: string, events: InsightEvent[]): EnergyHistory | null {
  const domain = domainOf(entityId);
  if (domain === "sensor") {
    const series = powerSeries(entityId, events, unitOf(events));
    return series?.ts.length ? { kind: "power", series } : null;
  }
  if (SWITCHABLE_DOMAINS.has(domain)) return { kind: "states", states: onOffSeries(entityId, events) };
  return null;
}

/** energyHistory from the store's columns: no event objects, and attributes read only for the unit. */
export function energyHistoryOf(c: EntityColumns): EnergyHistory | null {
  const domain = domainOf(c.entity_id);
  if (domain === "sensor") {
    let unit: string | undefined;
    for (let i = c.length - 1; i >= 0 && unit === undefined; i--) {
      const u = c.attributes(i).unit_of_measurement;
      if (typeof u === "string") unit = u;
    }
    const series = powerOf(c.entity_id, c.ts, c.value, unit);
    return series?.ts.length ? { kind: "power", series } : null;
  }
  if (SWITCHABLE_DOMAINS.has(domain))
    return { kind: "states", states: onOffOf(c.entity_id, c.length, (i) => c.ts[i], c.stateText) };
  return null;
}

export function energyInputs(
  byEntity: ReadonlyMap<string, InsightEvent[]>,
  meta: ReadonlyMap<string, EntityMeta>,
  homePowerEntity?: string,
): { devices: DeviceStates[]; home: PowerSeries | null } {
  const histories = new Map<string, EnergyHistory>();
  for (const [id, events] of byEntity) {
    const history = energyHistory(id, events);
    if (history) histories.set(id, history);
  }
  return pairEnergyInputs(histories, meta, homePowerEntity);
}

/** Pairs switchables with their power sensors and picks the home meter. */
export function pairEnergyInputs(
  histories: ReadonlyMap<string, EnergyHistory>,
  meta: ReadonlyMap<string, EntityMeta>,
  homePowerEntity?: string,
): { devices: DeviceStates[]; home: PowerSeries | null } {
  const power = new Map<string, PowerSeries>();
  const switches = new Map<string, OnOffSeries>();
  for (const [id, history] of histories)
    if (history.kind === "power") power.set(id, history.series);
    else switches.set(id, history.states);
  return pairDevices(switches, power, (s) => median(s.watts), meta, homePowerEntity);
}

/**
 * The pairing rules over any kind of power sensor: the full read's series, or what the energy fold keeps
 * (./energy-fold.ts). `medianOf` is asked only of sensors that may be the home meter.
 */
export function pairDevices<S extends PowerSensor>(
  switches: ReadonlyMap<string, OnOffSeries>,
  power: ReadonlyMap<string, S>,
  medianOf: (sensor: S) => number,
  meta: ReadonlyMap<string, EntityMeta>,
  homePowerEntity?: string,
): { devices: DeviceStates<S>[]; home: S | null } {
  const powerByDevice = new Map<string, S[]>();
  for (const series of power.values()) {
    const device = meta.get(series.entity_id)?.device_id;
    if (device) powerByDevice.set(device, [...(powerByDevice.get(device) ?? []), series]);
  }
  const paired = new Set<string>();
  const devices: DeviceStates<S>[] = [];
  for (const [id, states] of switches) {
    const device = meta.get(id)?.device_id;
    const sameDevice = device ? powerByDevice.get(device) : undefined;
    const own =
      sameDevice?.length === 1 ? sameDevice[0] : power.get(`sensor.${id.slice(id.indexOf(".") + 1)}_power`);
    if (own) paired.add(own.entity_id);
    devices.push({ entity_id: id, name: meta.get(id)?.name ?? null, states, ownSensor: own });
  }
  let home: S | null = homePowerEntity ? (power.get(homePowerEntity) ?? null) : null;
  if (!home && !homePowerEntity) {
    const candidates = [...power.values()].filter((s) => !paired.has(s.entity_id));
    // Each median once: computed in the comparator, a week of readings was copied and sorted per comparison.
    const medians = new Map(candidates.map((s) => [s, medianOf(s)]));
    home =
      candidates.find((s) => HOME_METER.test(s.entity_id)) ??
      candidates.sort((a, b) => (medians.get(b) ?? 0) - (medians.get(a) ?? 0))[0] ??
      null;
  }
  devices.sort((a, b) => a.entity_id.localeCompare(b.entity_id));
  return { devices, home };
}

/** The battery level (%) a reading reports: a battery sensor's own value, else a battery_level attribute. */
export function batteryLevel(
  attributes: Readonly<Record<string, unknown>> | undefined,
  value: number | null,
): number | null {
  if (attributes?.device_class === "battery") return value;
  const level = attributes?.battery_level;
  return typeof level === "number" ? level : null;
}

/** One entity's events as health readings. */
export function healthEvents(events: readonly InsightEvent[]): HealthEvent[] {
  return events.map((e) => ({
    ts: e.ts,
    state: e.state,
    value: e.value,
    battery: batteryLevel(e.attributes, e.value),
  }));
}

/**
 * The store's columns as a health series. Battery levels come from attributes, which are parsed only for an
 * entity whose latest reading reports one: a level that is not in the last reading never makes an issue.
 */
export function healthSeries(c: EntityColumns): HealthSeries {
  const last = c.length ? c.attributes(c.length - 1) : {};
  const reportsBattery = last.device_class === "battery" || typeof last.battery_level === "number";
  return {
    length: c.length,
    ts: (i) => c.ts[i],
    state: c.stateText,
    sameState: c.sameState,
    battery: reportsBattery
      ? (i) => batteryLevel(c.attributes(i), Number.isNaN(c.value[i]) ? null : c.value[i])
      : () => null,
  };
}
