import { heapSize } from "bun:jsc";
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { changeKey, EmittedHistory } from "./history.ts";

describe("EmittedHistory", () => {
  test("a large capacity costs nothing until rows arrive (the demo's 2M rows were ~80 MB at start)", () => {
    Bun.gc(true);
    const before = heapSize();
    const rings = [new EmittedHistory(2_000_000), new EmittedHistory(2_000_000)];
    Bun.gc(true);
    expect(heapSize() - before).toBeLessThan(4 * 1024 * 1024);
    expect(rings.map((r) => r.size)).toEqual([0, 0]);
  });

  test("keeps the last `capacity` rows in order as it grows and wraps (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 0, max: 30_000 }), (capacity, n) => {
        const h = new EmittedHistory(capacity);
        for (let i = 0; i < n; i++) h.push(`sensor.s${i % 7}`, String(i), "{}", 1000 + i, 1000 + i);
        const kept = Math.min(n, capacity);
        expect([h.size, h.overwritten]).toEqual([kept, n - kept]);
        const keys = h.keys();
        expect(keys[0] as string | undefined).toEqual(
          kept ? changeKey(`sensor.s${(n - kept) % 7}`, 1000 + n - kept) : undefined,
        );
        expect(keys.at(-1)).toEqual(kept ? changeKey(`sensor.s${(n - 1) % 7}`, 1000 + n - 1) : undefined);
        // The time-ordered search still works across the grown columns.
        const period = JSON.parse(
          h.renderPeriod(1000 + n - 1, 1000 + n, null, {
            noAttributes: true,
            significantOnly: false,
            minimal: false,
            includeStart: false,
          }),
        );
        expect(Object.values(period).flat().length).toBe(n > 0 ? 1 : 0);
      }),
      { numRuns: 40 },
    );
  });
});
