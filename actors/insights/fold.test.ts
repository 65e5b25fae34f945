import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { loadConfig } from "../../runtime/config/load.ts";
import type { InsightEvent } from "../../runtime/store/insights/types.ts";
import { openInsightsReader } from "../../runtime/store/insights-reader.ts";
import { openStoreWriter } from "../../runtime/store/writer.ts";
import { toStateChange } from "../../test/support/synthetic-home/insights-store.ts";
import { energyReport, healthReport } from "./analyses.ts";
import { FoldedHistory } from "./history.ts";

const DAY = 86400_000;
const settings = {
  ...loadConfig({ env: {} }).insights,
  historyDays: 1,
  minIntervals: 4,
  flapWindowMs: 3600_000,
  flapChanges: 3,
  energyMinEvents: 2,
};
const IDS = [
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
const scenario = fc.record({
  episodes: fc.array(episode, { minLength: 1, maxLength: 16 }),
  cuts: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
  late: fc.array(fc.boolean(), { minLength: 160, maxLength: 160 }),
  // How far `now` stands behind the newest row (ahead of it when negative: entities fall silent).
  behind: fc.array(fc.integer({ min: -4 * 3600_000, max: 600_000 }), { minLength: 8, maxLength: 8 }),
});

type Episode = {
  entity: number;
  count: number;
  gap: number;
  states: string[];
  attributes: Record<string, unknown>;
  lull: number;
};

/** The episodes laid out one after the other (each from its lull after the previous began), in time order. */
function eventsOf(episodes: Episode[], start: number): InsightEvent[] {
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

describe("FoldedHistory", () => {
  test("property: folded in random chunks (rows late, window moving), health and energy equal a full read", async () => {
    const start = Date.now() - 20 * DAY;
    let compared = 0;
    const statuses = new Set<string>();
    let measured = 0;
    let refolded = 0;
    let trimmed = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async ({ episodes, cuts, late, behind }) => {
        const events = eventsOf(episodes, start);
        // Chunks in stream order; a row marked late goes into the next chunk instead (stored behind newer rows).
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
        const dir = mkdtempSync(join(tmpdir(), "insights-fold-"));
        const writer = openStoreWriter(dir, { dictionaryCache: 1000 });
        const reader = openInsightsReader(dir, settings);
        try {
          const history = new FoldedHistory(reader, settings, 100, () => Promise.resolve());
          let now = start;
          let newest = start;
          for (const [k, chunk] of chunks.entries()) {
            const r = writer.writeEvents(chunk.map(toStateChange));
            expect(r.rejected).toEqual([]);
            for (const e of chunk) newest = Math.max(newest, e.ts);
            // `now` moves forward, sometimes short of the newest row (rows ahead of now wait).
            now = Math.max(now, newest - behind[k % behind.length]);
            const health = await history.health(now, new Map());
            const energy = await history.energy(now, new Map());
            expect(health).toEqual(healthReport(reader, settings, now));
            expect(energy).toEqual(energyReport(reader, settings, now));
            for (const v of health.unhealthy) statuses.add(v.status);
            measured += energy.devices.filter((d) => d.samples > 0).length;
            compared++;
            if (health.entities < new Set(events.filter((e) => e.ts <= now).map((e) => e.entity_id)).size)
              trimmed++;
          }
          refolded += history.stats.entityRebuilds;
        } finally {
          reader.close();
          writer.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40, seed: 20261207 },
    );
    expect(compared).toBeGreaterThan(80);
    // The streams drawn reach every health rule and measure steps, so each was compared on both paths.
    expect([...statuses].sort()).toEqual(["flapping", "low_battery", "stale", "unavailable", "unknown"]);
    expect(measured).toBeGreaterThan(0);
    // ...and rows stored late were folded again, and entities left the window.
    expect(refolded).toBeGreaterThan(0);
    expect(trimmed).toBeGreaterThan(0);
  }, 120_000);
});
