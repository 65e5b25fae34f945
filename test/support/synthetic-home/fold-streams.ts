/**
 * Streams of a few entities' rows for the fold tests (./actors/insights/fold.test.ts, health-fold.test.ts):
 * episodes of steady reports, cut into chunks stored one after another with some rows held back (stored
 * late), and where `now` stands after each chunk.
 */
import fc from "fast-check";
import type { InsightEvent } from "../../../runtime/store/insights/types.ts";

export const IDS = [
  "binary_sensor.door",
  "sensor.battery",
  "light.hall",
  "sensor.temp",
  "switch.pump",
  "sensor.pump_power",
  "sensor.home_power",
  "climate.den",
];

const state = fc.oneof(
  fc.constantFrom("on", "off", "unavailable", "unknown", "", "heat", "open"),
  fc.integer({ min: -5, max: 3000 }).map(String),
  fc.constantFrom("0", "-0", "0.5"),
);
const attributes = fc.oneof(
  fc.constant({}),
  fc.record({ battery_level: fc.integer({ min: 0, max: 100 }) }),
  fc.constant({ device_class: "battery", unit_of_measurement: "%" }),
  fc.record({ unit_of_measurement: fc.constantFrom("W", "W", "kW", "°C") }),
);
/** An episode: one entity reports `count` times at a steady `gap`, cycling through `states`. */
const episode = fc.record({
  entity: fc.integer({ min: 0, max: IDS.length - 1 }),
  count: fc.integer({ min: 1, max: 30 }),
  gap: fc.constantFrom(4_000, 60_000, 600_000),
  states: fc.array(state, { minLength: 1, maxLength: 3 }),
  attributes,
  // Quiet before the episode: a switch that was calm for hours and then toggles is flapping.
  lull: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 6 * 3600_000 })),
});
/** A stream, its cut into chunks (some rows held back to a later chunk: stored late), and where `now` stands. */
export const scenario = fc.record({
  episodes: fc.array(episode, { minLength: 1, maxLength: 16 }),
  cuts: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
  late: fc.array(fc.boolean(), { minLength: 160, maxLength: 160 }),
  // How far `now` stands behind the newest row (ahead of it when negative: entities fall silent).
  behind: fc.array(fc.integer({ min: -4 * 3600_000, max: 600_000 }), { minLength: 8, maxLength: 8 }),
});

export type Episode = {
  entity: number;
  count: number;
  gap: number;
  states: string[];
  attributes: Record<string, unknown>;
  lull: number;
};

/** The episodes laid out one after the other (each from its lull after the previous began), in time order. */
export function eventsOf(episodes: Episode[], start: number): InsightEvent[] {
  const out: InsightEvent[] = [];
  let t0 = start;
  for (const ep of episodes) {
    t0 += ep.lull;
    for (let k = 0; k < ep.count; k++) {
      const s = ep.states[k % ep.states.length];
      out.push({
        entity_id: IDS[ep.entity],
        state: s,
        value: s !== "" && Number.isFinite(Number(s)) ? Number(s) : null,
        // A few ms apart per episode and row: an entity's rows never share a millisecond.
        ts: t0 + k * ep.gap + (k % 3),
        context_id: null,
        context_parent_id: null,
        context_user_id: null,
        attributes: ep.attributes,
      });
    }
  }
  // Episodes overlap in time; an entity keeps one row per millisecond, as the store does.
  const seen = new Set<string>();
  return out
    .sort((a, b) => a.ts - b.ts)
    .filter((e) => {
      const key = `${e.entity_id}@${e.ts}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/** The events cut into chunks in stream order; a row marked late goes into the next chunk instead. */
export function chunksOf(events: InsightEvent[], cuts: number[], late: boolean[]): InsightEvent[][] {
  const chunks: InsightEvent[][] = [];
  let at = 0;
  let held: InsightEvent[] = [];
  for (const n of [...cuts, events.length]) {
    const chunk = [...held];
    held = [];
    for (const [k, e] of events.slice(at, at + n).entries())
      (late[(at + k) % late.length] ? held : chunk).push(e);
    at += n;
    chunks.push(chunk);
    if (at >= events.length) break;
  }
  if (held.length) chunks.push(held);
  return chunks;
}
