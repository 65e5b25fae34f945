import { describe, expect, test } from "bun:test";
import { usFromTimestamp } from "../runtime/events/cpython-time.ts";
import { DAY_US, HOUR_US, PastHistory } from "./past.ts";

const entities = [
  {
    entityId: "sensor.t",
    kind: "temperature",
    attrsJson: '{"state_class":"measurement","unit_of_measurement":"°C"}',
  },
  {
    entityId: "sensor.e",
    kind: "energy",
    attrsJson: '{"state_class":"total_increasing","unit_of_measurement":"kWh"}',
  },
  { entityId: "binary_sensor.m", kind: "motion", attrsJson: '{"device_class":"motion"}' },
];
const endUs = 1_796_572_357_000_000;
const past = () => new PastHistory(entities, { seed: 7, days: 2, statisticsDays: 30, endUs });

describe("PastHistory", () => {
  test("any split of a range into windows gives the same rows, once each, inside the history's days", () => {
    const p = past();
    const all = p.keys(["sensor.t", "binary_sensor.m"]);
    const windowed: string[] = [];
    for (const id of ["sensor.t", "binary_sensor.m"])
      for (let s = p.startUs; s < p.endUs; s += 3 * HOUR_US + 17)
        windowed.push(...p.keys([id], s, Math.min(p.endUs, s + 3 * HOUR_US + 17)));
    expect(windowed).toEqual(all);
    expect(new Set(all).size).toBe(all.length);
    for (const k of all) {
      const us = Number(k.slice(k.indexOf("@") + 1));
      expect(us).toBeGreaterThanOrEqual(p.startUs - 1);
      expect(us).toBeLessThan(p.endUs + 1);
    }
    // A temperature every ~10 min for 2 days.
    expect(p.keys(["sensor.t"]).length).toBeGreaterThan(250);
  });

  test("the same seed gives the same past; rows change state and carry sub-µs stamps", () => {
    expect(past().keys(["sensor.t"])).toEqual(past().keys(["sensor.t"]));
    const states: string[] = [];
    const stamps: number[] = [];
    past().forEachRow("binary_sensor.m", 0, Number.MAX_SAFE_INTEGER, true, (s, ts) => {
      states.push(s);
      stamps.push(ts);
    });
    for (let i = 1; i < states.length; i++) expect(states[i]).not.toBe(states[i - 1]);
    expect(stamps.some((ts) => usFromTimestamp(ts) / 1e6 !== ts)).toBe(true);
  });

  test("hourly statistics: measurements as time-weighted mean/min/max, meters as state and growing sum", () => {
    const p = past();
    const from = endUs - 20 * DAY_US;
    const stats = p.statistics(
      from,
      from + 3 * HOUR_US,
      ["sensor.t", "sensor.e", "binary_sensor.m"],
      new Set(["mean", "min", "max", "state", "sum"]),
    );
    expect(Object.keys(stats).sort()).toEqual(["sensor.e", "sensor.t"]);
    expect(stats["sensor.t"].length).toBe(2); // full hours only: the first starts at the next hour
    for (const r of stats["sensor.t"]) {
      expect(r.end! - r.start!).toBe(3_600_000);
      expect(r.min!).toBeLessThanOrEqual(r.mean!);
      expect(r.mean!).toBeLessThanOrEqual(r.max!);
    }
    const [a, b] = stats["sensor.e"];
    expect(b.sum! - a.sum!).toBeCloseTo(b.state! - a.state!, 6);
    expect(b.sum!).toBeGreaterThan(a.sum!);
  });
});
