import { describe, expect, test } from "bun:test";
import type { StateChange } from "../../runtime/events/messages.ts";
import { type Fire, Matcher } from "../webhook-dispatcher/logic.ts";
import { RULE_SOURCES } from "../webhook-dispatcher/rules.ts";

describe("imported history and webhooks", () => {
  test("no rule fires for the history import's source, not even one that selects every source it can", () => {
    const now = 1_800_000_000_000;
    const m = new Matcher();
    m.setRules([
      {
        id: "any",
        name: "any",
        url: "http://127.0.0.1/hook",
        secret: "0123456789abcdef",
        enabled: true,
        when: { kind: "state", entity: "binary_sensor.door", sources: [...RULE_SOURCES] },
        createdAt: 1,
        updatedAt: 1,
      },
    ]);
    const change = (state: string, agoMs: number): StateChange => ({
      entity_id: "binary_sensor.door",
      state,
      attributes: "{}",
      last_changed: (now - agoMs) * 1000,
      last_updated: (now - agoMs) * 1000,
      context_id: null,
      context_parent_id: null,
      context_user_id: null,
    });
    const out: Fire[] = [];
    m.matchStates([change("off", 2000), change("on", 1000)], out, {
      source: "history",
      nowMs: now,
      maxAgeMs: 0,
    });
    expect(out).toEqual([]);
    m.matchStates([change("off", 800), change("on", 500)], out, {
      source: "backfill",
      nowMs: now,
      maxAgeMs: 0,
    });
    expect(out.map((f) => f.source)).toEqual(["backfill", "backfill"]); // the same rule fires for a source it selects
  });
});
