import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { quantile } from "./evidence.ts";
import { ValueCounts } from "./value-counts.ts";

describe("ValueCounts", () => {
  test("keeps repeats as counts of distinct values", () => {
    const c = new ValueCounts();
    for (const v of [18, 17.5, 18, 21, 18]) c.add(v);
    expect([c.size, c.quantile(0.5), c.quantile(0.9), c.quantile(0.1), c.countWhere((v) => v <= 18)]).toEqual(
      [5, 18, 21, 17.5, 4],
    );
  });

  test("gives the same quantiles and counts as the full list of values", () => {
    const reading = fc.oneof(
      fc.integer({ min: -10, max: 40 }).map((v) => v / 2),
      fc.double({ min: -10, max: 1000, noNaN: true, noDefaultInfinity: true }).map((v) => v + 0),
    );
    fc.assert(
      fc.property(
        fc.array(reading, { minLength: 1, maxLength: 2000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (xs, q) => {
          const c = new ValueCounts();
          for (const v of xs) c.add(v);
          const t = quantile(xs, 0.5);
          expect([
            c.size,
            c.quantile(q),
            c.quantile(0.9),
            c.quantile(0.1),
            c.countWhere((v) => v <= t),
          ]).toEqual([
            xs.length,
            quantile(xs, q),
            quantile(xs, 0.9),
            quantile(xs, 0.1),
            xs.filter((v) => v <= t).length,
          ]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
