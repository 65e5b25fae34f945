import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { StateTermMatcher } from "./state-terms.ts";

describe("StateTermMatcher", () => {
  test("finds the states holding every term, like a plain filter over the newest statesMax", () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-c1 ]{0,6}$/), { maxLength: 60 }),
        fc.array(fc.array(fc.stringMatching(/^[a-c1]{1,2}$/), { minLength: 1, maxLength: 3 }), {
          maxLength: 8,
        }),
        fc.integer({ min: 1, max: 80 }),
        (states, groups, statesMax) => {
          const m = new StateTermMatcher(states.length, statesMax, (s) => states[s]);
          const lowest = Math.max(0, states.length - statesMax);
          for (const terms of groups) {
            const expected = states
              .map((_, s) => s)
              .filter((s) => s >= lowest && terms.every((t) => states[s].includes(t)));
            expect(m.statesWithAll(terms)).toEqual(expected);
          }
          expect(m.truncated).toBe(lowest > 0 && groups.length > 0);
        },
      ),
    );
  });

  test("tests each term against each state at most once, however many groups ask", () => {
    const states = Array.from({ length: 10_000 }, (_, i) => `t${i.toString(36)}`);
    let tests = 0;
    const m = new StateTermMatcher(states.length, 5_000, (s) => {
      tests++;
      return states[s];
    });
    const terms = ["a", "b", "1", "2", "z", "t", "0", "9"];
    // Every non-empty subset of the terms: 255 groups, as 500 entities matching terms differently give.
    for (let mask = 1; mask < 256; mask++) m.statesWithAll(terms.filter((_, i) => mask & (1 << i)));
    expect(tests).toBeLessThanOrEqual(terms.length * 5_000);
    expect(m.truncated).toBe(true);
  });
});
