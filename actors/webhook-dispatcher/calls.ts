/**
 * The dispatcher's answers to API calls (`callSchemas` in ./messages.ts), shared by the worker and the
 * in-process API tests so both answer the same way. Thin: each case hands over to the dispatcher or to
 * the rule writes (./rule-writes.ts).
 */
import type { Dispatcher } from "./dispatcher.ts";
import { checkCall } from "./messages.ts";
import { deleteRule, putRule } from "./rule-writes.ts";
import type { WebhookStore } from "./store.ts";
import type { TargetPolicy } from "./targets.ts";

export interface CallDeps {
  dispatcher: Dispatcher;
  store: WebhookStore;
  targets: TargetPolicy;
  maxRules: number;
}

export async function answerCall(d: CallDeps, body: unknown): Promise<unknown> {
  const checked = checkCall(body);
  if (!checked.ok) throw new Error(checked.error);
  const c = checked.value;
  const writes = {
    store: d.store,
    targets: d.targets,
    maxRules: d.maxRules,
    reload: () => d.dispatcher.reloadRules(),
  };
  switch (c.type) {
    case "reload-rules":
      return { rules: d.dispatcher.reloadRules() };
    case "put-rule":
      return putRule(writes, c.mode, c.rule);
    case "delete-rule":
      return deleteRule(writes, c.id);
    case "test-fire":
      return (await d.dispatcher.testFire(c.ruleId)) ?? null;
    case "replay":
      return d.dispatcher.replay(c.deliveryId) ?? null;
    case "status":
      return d.dispatcher.status();
  }
}
