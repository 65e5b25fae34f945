import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { median } from "./evidence.ts";
import { RoundedMedians } from "./rounded-medians.ts";

/** What the co-occurrence detector reported when it kept every delay. */
const reference = (xs: number[]) => Math.round(median(xs.map((x) => x + 0)) / 1000);

describe("RoundedMedians", () => {
  test("gives the median in whole units for each slot apart", () => {
    const m = new RoundedMedians(1000, 30_000);
    const a = m.open();
    const b = m.open();
    for (const d of [1200, 1800, 2600]) m.add(a, d);
    for (const d of [29_000, 30_000]) m.add(b, d);
    expect([m.result(a), m.size(a), m.result(b), m.size(b)]).toEqual([2, 3, 30, 2]);
  });

  test("resolves an even count whose middle values straddle a unit edge exactly", () => {
    const m = new RoundedMedians(1000, 30_000);
    const s = m.open();
    // Middle values 1499 and 2500: mean 1999.5 rounds to 2, though they lie in the bins of 1 and 3.
    for (const d of [100, 1499, 2500, 9000]) m.add(s, d);
    expect(m.result(s)).toBe(reference([100, 1499, 2500, 9000]));
    expect(m.result(s)).toBe(2);
  });

  test("is NaN for an empty slot, as the median of no delays was", () => {
    const m = new RoundedMedians(1000, 30_000);
    expect(m.result(m.open())).toBeNaN();
  });

  test("equals Math.round(median / unit) over any values, in or outside the bins, across many slots", () => {
    const value = fc.oneof(
      fc.integer({ min: 0, max: 30_000 }),
      fc.integer({ min: -600, max: 600 }),
      fc.integer({ min: -5_000, max: 40_000 }),
      fc.double({ min: -2_000, max: 35_000, noNaN: true }),
      fc.constantFrom(-0, 0, -500, 499, 500, 501, 1499, 1500, 29_500, 30_000),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(value, { minLength: 1, maxLength: 400 }), { minLength: 1, maxLength: 90 }),
        (lists) => {
          const m = new RoundedMedians(1000, 30_000);
          const slots = lists.map(() => m.open());
          // Interleaved, as pairs are credited in turn.
          for (let i = 0; i < 400; i++)
            lists.forEach((xs, j) => {
              if (i < xs.length) m.add(slots[j], xs[i]);
            });
          expect(lists.map((_, j) => m.result(slots[j]))).toEqual(lists.map(reference));
        },
      ),
      { numRuns: 200 },
    );
  });
});
