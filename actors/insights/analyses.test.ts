import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { loadConfig } from "../../runtime/config/load.ts";
import type { InsightEvent } from "../../runtime/store/insights/types.ts";
import { type InsightsReader, openInsightsReader } from "../../runtime/store/insights-reader.ts";
import { PLANTED, syntheticHome } from "../../test/support/synthetic-home/insights.ts";
import { seedStore } from "../../test/support/synthetic-home/insights-store.ts";
import { energyReport, healthReport } from "./analyses.ts";
import { energyImpact } from "./energy.ts";
import { judgeEntity } from "./health.ts";
import { energyInputs, groupByEntity, healthEvents, metaFromNames } from "./inputs.ts";

const NOW = Date.now() - 1000;
const home = syntheticHome({ seed: 9, days: 3, now: NOW, extraSensors: 3 });
const settings = loadConfig({ env: {} }).insights;
let dir: string;
let reader: InsightsReader;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "insights-a-"));
  seedStore(dir, home.events);
  reader = openInsightsReader(dir, settings);
});
afterAll(() => {
  reader.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("healthReport over a stored synthetic home (default settings)", () => {
  test("lists exactly the planted faults, worst first, and counts the rest as ok", () => {
    const r = healthReport(reader, settings, NOW, metaFromNames(home.names));
    expect(r.unhealthy.map((v) => [v.status, v.entity_id])).toEqual([
      ["unavailable", PLANTED.unavailable],
      ["stale", PLANTED.staleSensor],
      ["flapping", PLANTED.flapping],
      ["low_battery", PLANTED.lowBattery],
    ]);
    expect(r.unhealthy[2].name).toBe("Hall window");
    expect(r.counts.ok).toBe(r.entities - 4);
  });
});

describe("energyReport over a stored synthetic home (default settings)", () => {
  test("finds the planted steps and calls the silent relay not measurable", () => {
    const r = energyReport(reader, settings, NOW);
    expect(r.homeSensor).toBe(PLANTED.homePower);
    const byId = new Map(r.devices.map((d) => [d.entity_id, d]));
    for (const [entity, watts] of Object.entries(PLANTED.steps))
      expect(Math.abs((byId.get(entity)?.stepW ?? 0) - watts)).toBeLessThan(watts * 0.03 + 5);
    expect(byId.get(PLANTED.silentSwitch)).toMatchObject({ measurable: false, confidence: "none" });
    expect(byId.get(PLANTED.tv.entity)?.sensor).toBe(PLANTED.tv.sensor);
  });
});

/** What judging every entity's events in memory says: the reference the store's column path must match. */
function healthInMemory(events: InsightEvent[], now: number, names = new Map<string, string>()) {
  const all = [...groupByEntity(events)].map(([id, list]) =>
    judgeEntity(id, names.get(id) ?? null, healthEvents(list), { ...settings, now }),
  );
  return all;
}

describe("the analyses read the store's columns and judge as the events would be judged", () => {
  test("health: the synthetic home's verdict for every entity, through the store and in memory", () => {
    const expected = healthInMemory(home.events, NOW, home.names);
    const r = healthReport(reader, settings, NOW, metaFromNames(home.names));
    expect(r.entities).toBe(expected.length);
    const unhealthy = expected.filter((v) => v.status !== "ok");
    expect(new Map(r.unhealthy.map((v) => [v.entity_id, v]))).toEqual(
      new Map(unhealthy.map((v) => [v.entity_id, v])),
    );
  });

  test("energy: the same report through the store as from the events in memory", () => {
    const { devices, home: meter } = energyInputs(groupByEntity(home.events), new Map());
    const from = NOW - settings.historyDays * 86400_000;
    const expected = energyImpact(devices, meter, {
      from,
      to: NOW,
      windowMs: settings.energyWindowMs,
      settleMs: settings.energySettleMs,
      minEvents: settings.energyMinEvents,
      minStepW: settings.energyMinStepW,
    });
    const { computedAt, ...report } = energyReport(reader, settings, NOW);
    expect(computedAt).toBe(NOW);
    expect(report).toEqual(expected);
  });

  test("health, property: random histories of states, numbers, outages and batteries", () => {
    const now = Date.now() - 1000;
    const state = fc.oneof(
      fc.constantFrom("on", "off", "unavailable", "unknown", "", "open", "closed"),
      fc.integer({ min: -5, max: 40 }).map(String),
      fc
        .double({ min: -50, max: 50, noNaN: true, noDefaultInfinity: true })
        .map((x) => String(Math.round(x * 10) / 10)),
    );
    const attributes = fc.oneof(
      fc.constant({}),
      fc.record({ battery_level: fc.integer({ min: 0, max: 100 }) }),
      fc.constant({ device_class: "battery", unit_of_measurement: "%" }),
      fc.record({ unit_of_measurement: fc.constantFrom("W", "kW", "°C") }),
    );
    const entity = fc.record({
      id: fc.constantFrom("binary_sensor.door", "sensor.battery", "light.hall", "sensor.temp", "switch.pump"),
      // Silent for this long before now: recent histories can flap, old ones go stale.
      silence: fc.oneof(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 1, max: 6 * 3600_000 })),
      // Longest gap between two of its events: a chatty entity can flap, a slow one learns an interval.
      pace: fc.constantFrom(20_000, 5 * 60_000, 40 * 60_000),
      steps: fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 40 * 60_000 }),
          state,
          attributes,
          repeat: fc.integer({ min: 1, max: 4 }),
        }),
        { minLength: 1, maxLength: 80 },
      ),
    });
    const kinds = new Set<string>();
    fc.assert(
      fc.property(fc.array(entity, { minLength: 1, maxLength: 4 }), (entities) => {
        const events: InsightEvent[] = [];
        const seen = new Set<number>();
        for (const { id, silence, pace, steps } of entities) {
          // Laid out backwards from the newest event.
          let ts = now - silence;
          for (const step of steps)
            for (let k = 0; k < step.repeat; k++) {
              ts -= (step.gap % pace) + 1;
              // One event a millisecond: the store keys an entity's events by time (an id may be drawn twice).
              if (seen.has(ts)) continue;
              seen.add(ts);
              const value =
                step.state !== "" && Number.isFinite(Number(step.state)) ? Number(step.state) : null;
              events.push({
                entity_id: id,
                state: step.state,
                value,
                ts,
                context_id: null,
                context_parent_id: null,
                context_user_id: null,
                attributes: step.attributes,
              });
            }
        }
        const d = mkdtempSync(join(tmpdir(), "insights-p-"));
        try {
          seedStore(d, events);
          const r = openInsightsReader(d, settings);
          try {
            const expected = healthInMemory(events, now).filter((v) => v.status !== "ok");
            for (const v of expected) kinds.add(v.status);
            const got = healthReport(r, settings, now);
            expect(new Map(got.unhealthy.map((v) => [v.entity_id, v]))).toEqual(
              new Map(expected.map((v) => [v.entity_id, v])),
            );
          } finally {
            r.close();
          }
        } finally {
          rmSync(d, { recursive: true, force: true });
        }
      }),
      { numRuns: 60, seed: 20261130 },
    );
    // The histories drawn make every kind of issue, so each rule was compared on both paths.
    expect([...kinds].sort()).toEqual(["flapping", "low_battery", "stale", "unavailable", "unknown"]);
  });
});
