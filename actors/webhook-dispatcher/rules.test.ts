import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { GLOB_MAX_LENGTH, GLOB_MAX_WILDCARDS, parseRuleInput, RuleError } from "./rules.ts";
import { TargetPolicy } from "./targets.ts";

const targets = new TargetPolicy(["ha.local"]);
const url = "http://ha.local:8123/api/webhook/x";
const parse = (when: unknown, extra: object = {}) =>
  parseRuleInput({ name: "r", url, when, ...extra }, targets);
const errorOf = (when: unknown) => {
  const r = parse(when);
  return r.ok ? null : r.error.message;
};

/** Values a hostile client sends where numbers and strings are expected. */
const hostileValue = fc.oneof(
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 1e308, Number.MAX_SAFE_INTEGER + 2),
  fc.string({ maxLength: 300 }),
  fc.constantFrom("*?".repeat(40), `sensor.${"*a".repeat(30)}`, "", "\u0000", "__proto__"),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.constantFrom("live", "snapshot", "backfill", "spool", "LIVE", ""), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer()),
);

describe("parseRuleInput", () => {
  test("never throws on anything: it returns a rule or a RuleError naming a field", () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 3 }), (input) => {
        const r = parseRuleInput(input, targets);
        if (!r.ok) expect(r.error).toBeInstanceOf(RuleError);
      }),
      { numRuns: 2000 },
    );
  });

  test("hostile thresholds, selectors and sources in a state trigger give a value or a typed error", () => {
    const key = fc.constantFrom(
      "entity",
      "domain",
      "from",
      "to",
      "above",
      "below",
      "hysteresis",
      "sources",
      "status",
      "extra",
    );
    fc.assert(
      fc.property(
        fc.constantFrom("state", "enrichment", "health", "other", "constructor", "__proto__", "toString"),
        fc.dictionary(key, hostileValue, { maxKeys: 5 }),
        (kind, fields) => {
          const r = parse({ kind, source: "carbon", metric: "intensity", ...fields });
          if (!r.ok) {
            expect(r.error).toBeInstanceOf(RuleError);
            expect(r.error.field.length).toBeGreaterThan(0);
          } else {
            const w = r.value.when;
            if ("above" in w && w.above !== undefined) expect(Number.isFinite(w.above)).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("a glob is bounded in length and wildcards, with an error saying so", () => {
    expect(errorOf({ kind: "state", entity: `sensor.${"a".repeat(GLOB_MAX_LENGTH)}*` })).toContain(
      `at most ${GLOB_MAX_LENGTH} characters`,
    );
    expect(errorOf({ kind: "state", entity: "*?".repeat(GLOB_MAX_WILDCARDS / 2) })).toBeNull();
    expect(errorOf({ kind: "state", entity: "*?*?*?*?*?*?*?*?*?*?*?*?*?*?zzq" })).toContain(
      `at most ${GLOB_MAX_WILDCARDS} wildcards`,
    );
    // An exact entity id may be as long as HA allows; the glob bounds do not apply to it.
    expect(errorOf({ kind: "state", entity: `sensor.${"a".repeat(200)}` })).toBeNull();
  });

  test("sources: any of live, snapshot, backfill once each; absent means live only", () => {
    expect(parse({ kind: "state", entity: "light.a" }).ok).toBe(true);
    expect(parse({ kind: "state", sources: ["live", "snapshot", "backfill"] }).ok).toBe(true);
    for (const bad of [[], ["live", "live"], ["spool"], ["import"], "live"])
      expect(errorOf({ kind: "state", sources: bad })).toContain("when.sources");
    expect(errorOf({ kind: "health", sources: ["live"] })).not.toBeNull();
  });

  test("a URL outside the target policy is refused at creation, naming the field", () => {
    const r = parseRuleInput({ name: "r", url: "http://169.254.169.254/", when: { kind: "state" } }, targets);
    expect(r.ok ? null : [r.error.field, r.error.message]).toEqual([
      "url",
      expect.stringContaining('host "169.254.169.254" is not an allowed webhook target'),
    ]);
  });
});
