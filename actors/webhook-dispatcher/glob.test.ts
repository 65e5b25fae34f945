import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type GlobStats, matchGlob } from "./glob.ts";

/** The reference: the textbook dynamic programme over (pattern position, text position), memoised. */
function reference(glob: string, text: string): boolean {
  const memo = new Map<number, boolean>();
  const at = (p: number, t: number): boolean => {
    const key = p * (text.length + 1) + t;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r: boolean;
    if (p === glob.length) r = t === text.length;
    else if (glob[p] === "*") r = at(p + 1, t) || (t < text.length && at(p, t + 1));
    else r = t < text.length && (glob[p] === "?" || glob[p] === text[t]) && at(p + 1, t + 1);
    memo.set(key, r);
    return r;
  };
  return at(0, 0);
}

describe("matchGlob", () => {
  test("* spans any characters, dots included, ? exactly one, everything else is literal", () => {
    const m = (id: string) => matchGlob("sensor.*_temp?", id);
    expect(["sensor.office_temp1", "sensor.a.b_tempX", "sensor._temp_"].map(m)).toEqual([true, true, true]);
    expect(["sensor.office_temp", "sensor.office_temp12", "sensorXoffice_temp1", ""].map(m)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect([matchGlob("*", ""), matchGlob("**", "x"), matchGlob("?", ""), matchGlob("", "")]).toEqual([
      true,
      true,
      false,
      true,
    ]);
  });

  test("agrees with the reference matcher on random globs and ids", () => {
    const alphabet = fc.constantFrom("a", "b", ".", "_", "*", "?");
    const textAlphabet = fc.constantFrom("a", "b", ".", "_");
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 14 }).map((a) => a.join("")),
        fc.array(textAlphabet, { maxLength: 24 }).map((a) => a.join("")),
        (glob, text) => matchGlob(glob, text) === reference(glob, text),
      ),
      { numRuns: 5000 },
    );
  });

  test("a pattern without wildcards matches only itself; prefix* exactly the ids with that prefix", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9_.]{0,20}$/),
        fc.stringMatching(/^[a-z0-9_.]{0,20}$/),
        (a, b) => matchGlob(a, b) === (a === b) && matchGlob(`${a}*`, b) === b.startsWith(a),
      ),
    );
  });

  test("the review's ReDoS globs cost at most pattern x text steps (RegExp needed 14-20 s per id)", () => {
    const cases = [
      // 27 characters against a 46-character sim entity id (19.8 s per id as a RegExp).
      ["*?*?*?*?*?*?*?*?*?*?*?*?zzq", "sensor.living_room_temperature_sensor_battery_"],
      // 13.7 s as a RegExp.
      [`sensor.${"*a".repeat(12)}*b`, `sensor.${"a".repeat(40)}`],
      // Worse still: the longest glob the rules allow against a long non-matching id.
      [`${"*a".repeat(8)}${"?".repeat(8)}zz`, "a".repeat(255)],
    ];
    for (const [glob, id] of cases) {
      const stats: GlobStats = { steps: 0 };
      const started = performance.now();
      expect(matchGlob(glob, id, stats)).toBe(false);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(stats.steps).toBeLessThanOrEqual((glob.length + 1) * (id.length + 1));
    }
  });
});
