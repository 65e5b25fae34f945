import { describe, expect, test } from "bun:test";
import { PLANTED, syntheticHome } from "../../../test/support/synthetic-home/insights.ts";
import { arrayLookup, traceEvent } from "./trace.ts";

const NOW = Date.UTC(2026, 10, 20, 12);
const home = syntheticHome({ seed: 3, days: 1, now: NOW });
const lookup = arrayLookup(home.events);
const limits = { maxDepth: 8, maxEvents: 200 };
const find = (entity: string, context: string) =>
  home.events.find((e) => e.entity_id === entity && e.context_id === context)!;
const [motion, auto1, light, auto2, fan] = PLANTED.chain;
const [m, a1, a2] = home.chainContexts;

describe("traceEvent over a planted three-step chain", () => {
  test("from the fan: causes are motion -> hall light automation -> fan automation, origin the motion", () => {
    const t = traceEvent(find(fan, a2), lookup, limits);
    expect(t.causes.map((s) => [s.context_id, s.kind, s.automation, s.depth])).toEqual([
      [m, "state_change", null, -2],
      [a1, "automation", auto1, -1],
      [a2, "automation", auto2, 0],
    ]);
    expect(t.causes[1].events.map((e) => e.entity_id)).toEqual([auto1, light]);
    expect(t.origin).toEqual({ kind: "state_change", entity_id: motion, user_id: null });
    expect(t.effects).toEqual([]);
    expect(t.truncated).toBe(false);
  });

  test("from the motion: effects are the two automation contexts, in order, and nothing unrelated", () => {
    const t = traceEvent(find(motion, m), lookup, limits);
    expect(t.causes.map((s) => s.context_id)).toEqual([m]);
    expect(t.effects.map((s) => [s.context_id, s.depth])).toEqual([
      [a1, 1],
      [a2, 2],
    ]);
    expect(t.effects.flatMap((s) => s.events.map((e) => e.entity_id))).toEqual([auto1, light, auto2, fan]);
  });

  test("a person's action has the user as origin and no causes beyond itself", () => {
    const e = home.events.find((x) => x.context_user_id === PLANTED.userAction.user)!;
    const t = traceEvent(e, lookup, limits);
    expect(t.origin).toEqual({
      kind: "user",
      entity_id: PLANTED.userAction.entity,
      user_id: PLANTED.userAction.user,
    });
    expect(t.causes).toHaveLength(1);
  });

  test("an ordinary sensor reading stands alone", () => {
    const e = home.events.find((x) => x.entity_id === PLANTED.homePower)!;
    const t = traceEvent(e, lookup, limits);
    expect(t.causes).toHaveLength(1);
    expect(t.effects).toEqual([]);
    expect(t.origin.kind).toBe("state_change");
  });

  test("a parent context that was never stored is shown as unknown, and depth limits truncate", () => {
    const orphan = { ...find(fan, a2), context_id: "ctx-x", context_parent_id: "ctx-missing" };
    const t = traceEvent(orphan, arrayLookup([orphan]), limits);
    expect(t.causes.map((s) => [s.context_id, s.kind])).toEqual([
      ["ctx-missing", "unknown"],
      ["ctx-x", "state_change"],
    ]);
    const short = traceEvent(find(motion, m), lookup, { maxDepth: 1, maxEvents: 200 });
    expect(short.effects.map((s) => s.context_id)).toEqual([a1]);
    expect(short.truncated).toBe(true);
  });
});
