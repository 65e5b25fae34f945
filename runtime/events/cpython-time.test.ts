import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isoFromTimestamp, isoFromUs, jsonFloat, usFromTimestamp } from "./cpython-time.ts";

/** [time.time() float, CPython's µs, isoformat(), json.dumps()] from CPython 3 itself. */
const CPYTHON: [number, number, string, string][] = [
  [1764080292.1234565, 1764080292123456, "2025-11-25T14:18:12.123456+00:00", "1764080292.1234565"],
  [1764080292.0, 1764080292000000, "2025-11-25T14:18:12+00:00", "1764080292.0"],
  [1764080292.5, 1764080292500000, "2025-11-25T14:18:12.500000+00:00", "1764080292.5"],
  [1764080292.0000005, 1764080292000000, "2025-11-25T14:18:12+00:00", "1764080292.0000005"],
  [1764080292.0000014, 1764080292000001, "2025-11-25T14:18:12.000001+00:00", "1764080292.0000014"],
  [1764080292.9999995, 1764080293000000, "2025-11-25T14:18:13+00:00", "1764080292.9999995"],
  [1700000000.000001, 1700000000000001, "2023-11-14T22:13:20.000001+00:00", "1700000000.000001"],
  [1663337495.1026795, 1663337495102679, "2022-09-16T14:11:35.102679+00:00", "1663337495.1026795"],
  [1772059705.7053854, 1772059705705385, "2026-02-25T22:48:25.705385+00:00", "1772059705.7053854"],
  [1685487238.5958614, 1685487238595861, "2023-05-30T22:53:58.595861+00:00", "1685487238.5958614"],
  [1830637566.1832035, 1830637566183203, "2028-01-04T22:26:06.183203+00:00", "1830637566.1832035"],
  [1864271592.1742074, 1864271592174207, "2029-01-28T05:13:12.174207+00:00", "1864271592.1742074"],
];

describe("CPython's timestamp arithmetic", () => {
  test("µs, ISO text and JSON of time.time() floats are exactly CPython's, where Math.round is not", () => {
    expect(CPYTHON.map(([t]) => [usFromTimestamp(t), isoFromTimestamp(t), jsonFloat(t)])).toEqual(
      CPYTHON.map(([, us, iso, json]) => [us, iso, json]),
    );
    // The cases Math.round(s * 1e6) gets wrong (ties it rounds up, fractions in (0.375, 0.5) µs).
    expect(CPYTHON.filter(([t, us]) => Math.round(t * 1e6) !== us).length).toBeGreaterThanOrEqual(5);
  });

  test("an exact-µs float maps to its µs, and its ISO text reads back to it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_500_000_000_000_000, max: 2_000_000_000_000_000 }), (us) => {
        expect(usFromTimestamp(us / 1e6)).toBe(us);
        const iso = isoFromUs(us);
        const [whole, frac = "0"] = iso.slice(0, -6).split(".");
        expect(Date.parse(`${whole}Z`) * 1000 + Number(frac.padEnd(6, "0"))).toBe(us);
      }),
      { numRuns: 5000 },
    );
  });
});
