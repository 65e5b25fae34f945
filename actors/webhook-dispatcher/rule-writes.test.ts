import { afterAll, describe, expect, test } from "bun:test";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { deleteRule, putRule, type RuleWriteDeps } from "./rule-writes.ts";
import type { Rule } from "./rules.ts";
import { WebhookStore } from "./store.ts";
import { TargetPolicy } from "./targets.ts";

const tempDir = tempDirs("homeiq-rule-writes-");
const stores: WebhookStore[] = [];
afterAll(() => {
  for (const s of stores) s.close();
});

const rule = (id: string, extra: Partial<Rule> = {}): Rule => ({
  id,
  name: `rule ${id}`,
  url: "http://ha.local:8123/api/webhook/x",
  secret: "0123456789abcdef0123",
  enabled: true,
  when: { kind: "state", entity: "light.kitchen" },
  createdAt: 1,
  updatedAt: 1,
  ...extra,
});

function deps(maxRules: number): RuleWriteDeps & { reloads: number } {
  const store = new WebhookStore(tempDir());
  stores.push(store);
  const d = {
    store,
    targets: new TargetPolicy(["ha.local"]),
    maxRules,
    reloads: 0,
    reload: () => {
      d.reloads++;
    },
  };
  return d;
}

describe("rule writes by the dispatcher", () => {
  test("creates up to webhooks.maxRules, then refuses without writing; each write reloads once", () => {
    const d = deps(2);
    expect(putRule(d, "create", rule("a"))).toEqual({ ok: true });
    expect(putRule(d, "create", rule("b"))).toEqual({ ok: true });
    expect(putRule(d, "create", rule("c"))).toEqual({ ok: false, error: "max-rules", maxRules: 2 });
    expect(d.store.rules().map((r) => r.id)).toEqual(["a", "b"]);
    expect(d.reloads).toBe(2);
  });

  test("an update of a rule deleted meanwhile is refused, not re-created", () => {
    const d = deps(10);
    putRule(d, "create", rule("a"));
    expect(deleteRule(d, "a")).toEqual({ ok: true });
    expect(putRule(d, "update", rule("a", { name: "late" }))).toEqual({ ok: false, error: "not-found" });
    expect(d.store.rule("a")).toBeUndefined();
    expect(deleteRule(d, "a")).toEqual({ ok: false, error: "not-found" });
    expect(d.reloads).toBe(2);
  });

  test("a rule the API should have refused is refused here too, naming the field", () => {
    const d = deps(10);
    const bad = putRule(d, "create", rule("a", { url: "http://elsewhere.example/x" }));
    expect(bad).toMatchObject({ ok: false, error: "invalid", field: "url" });
    expect(d.store.ruleCount()).toBe(0);
    expect(d.reloads).toBe(0);
  });
});
