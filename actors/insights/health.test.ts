import { describe, expect, test } from "bun:test";
import { PLANTED, syntheticHome } from "../../test/support/synthetic-home/insights.ts";
import { type EntityHealth, type HealthStatus, healthChanges, judgeEntity } from "./health.ts";
import { groupByEntity, healthEvents } from "./inputs.ts";

const NOW = Date.UTC(2026, 10, 20, 12);
const home = syntheticHome({ seed: 11, days: 3, now: NOW, extraSensors: 5 });
const opts = {
  now: NOW,
  staleFactor: 4,
  minStaleMs: 15 * 60_000,
  minIntervals: 10,
  regularityMax: 4,
  lowBatteryPct: 20,
  flapWindowMs: 3600_000,
  flapChanges: 10,
  flapFactor: 5,
};
const verdicts: EntityHealth[] = [...groupByEntity(home.events)].map(([id, events]) =>
  judgeEntity(id, home.names.get(id) ?? null, healthEvents(events), opts),
);
const unhealthy = verdicts.filter((v) => v.status !== "ok");

describe("judgeEntity on a synthetic home with planted faults", () => {
  test("finds exactly the planted faults, each with its since-when", () => {
    const found = unhealthy.map((v) => [v.entity_id, v.status, v.since]).sort();
    const expected = [
      [PLANTED.flapping, "flapping", NOW - PLANTED.flapForMs],
      [PLANTED.lowBattery, "low_battery", expect.any(Number)],
      [PLANTED.staleSensor, "stale", expect.any(Number)],
      [PLANTED.unavailable, "unavailable", NOW - PLANTED.unavailableForMs],
    ].sort();
    expect(found).toEqual(expected);
  });

  test("dates a stale sensor from its last update and states the learned interval", () => {
    const v = verdicts.find((x) => x.entity_id === PLANTED.staleSensor)!;
    expect(NOW - v.since).toBeGreaterThanOrEqual(PLANTED.staleForMs);
    expect(NOW - v.since).toBeLessThan(PLANTED.staleForMs + 80_000);
    expect(v.learning).toBe("regular");
    expect(v.usualIntervalMs!).toBeGreaterThan(50_000);
    expect(v.usualIntervalMs!).toBeLessThan(80_000);
  });

  test("dates the low battery from the first reading at or under the limit", () => {
    const v = verdicts.find((x) => x.entity_id === PLANTED.lowBattery)!;
    const readings = home.events.filter((e) => e.entity_id === PLANTED.lowBattery);
    const firstLow = readings.find((e) => (e.value ?? 100) <= 20)!;
    expect(v.since).toBe(firstLow.ts);
  });

  test("leaves noise alone: jittery sensors, a 25 % battery, a switch used 4 times an hour", () => {
    for (const id of [PLANTED.okBattery, PLANTED.calmSwitch, "sensor.kitchen_temperature", PLANTED.homePower])
      expect(verdicts.find((v) => v.entity_id === id)?.status).toBe("ok");
  });

  test("a sensor that always changes often is busy, not flapping; a burst above its habit is", () => {
    const busy = Array.from({ length: 24 * 30 }, (_, i) => ({
      ts: NOW - 24 * 3600_000 + i * 120_000,
      state: i % 2 ? "on" : "off",
      value: null,
    }));
    expect(judgeEntity("binary_sensor.busy_motion", null, busy, opts).status).toBe("ok");
    const quiet = Array.from({ length: 12 }, (_, i) => ({
      ts: NOW - 20 * 3600_000 + i * 3600_000,
      state: i % 2 ? "on" : "off",
      value: null,
    }));
    const burst = Array.from({ length: 12 }, (_, i) => ({
      ts: NOW - 1800_000 + i * 60_000,
      state: i % 2 ? "on" : "off",
      value: null,
    }));
    const v = judgeEntity("binary_sensor.door", null, [...quiet, ...burst], opts);
    expect(v.status).toBe("flapping");
    expect(v.since).toBe(burst[0].ts);
  });

  test("does not judge event-driven entities stale: their interval is irregular or too few", () => {
    const kettle = verdicts.find((v) => v.entity_id === "switch.kettle")!;
    expect(kettle.learning).not.toBe("regular");
    expect(kettle.status).toBe("ok");
  });
});

describe("healthChanges", () => {
  test("emits each change once, then the recovery, keeping only unhealthy entities", () => {
    const known = new Map<string, HealthStatus>();
    const v = (status: HealthStatus, since: number): EntityHealth => ({
      entity_id: "sensor.x",
      name: null,
      status,
      since,
      issues: [],
      state: "",
      lastSeen: 0,
      usualIntervalMs: null,
      learning: "too_few",
    });
    expect(healthChanges(known, [v("stale", 5)], 6)).toEqual([
      { type: "health", entity_id: "sensor.x", status: "stale", since: 5 },
    ]);
    expect(healthChanges(known, [v("stale", 5)], 7)).toEqual([]);
    expect(healthChanges(known, [v("ok", 9)], 9)).toEqual([
      { type: "health", entity_id: "sensor.x", status: "ok", since: 9 },
    ]);
    expect(known.size).toBe(0);
  });

  test("an entity no longer listed as unhealthy recovers at now", () => {
    const known = new Map<string, HealthStatus>([["light.porch", "unavailable"]]);
    expect(healthChanges(known, [], 42)).toEqual([
      { type: "health", entity_id: "light.porch", status: "ok", since: 42 },
    ]);
    expect(known.size).toBe(0);
  });
});
