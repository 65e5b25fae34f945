/**
 * Rule writes, made by the dispatcher (webhooks.db's owner) when the API asks (`put-rule`, `delete-rule`
 * calls): the bound check and the write in one transaction on the dispatcher's connection, then the rules
 * are reloaded. The API validates first (its 400s name the field); the rule is checked again here, since
 * a call is input too. Nothing is written unless the answer is `{ ok: true }`.
 */

import type { RuleWriteResult } from "./messages.ts";
import { checkRule, type Rule, RuleError } from "./rules.ts";
import type { WebhookStore } from "./store.ts";
import type { TargetPolicy } from "./targets.ts";

export interface RuleWriteDeps {
  store: WebhookStore;
  targets: TargetPolicy;
  /** webhooks.maxRules */
  maxRules: number;
  /** Called after a write so matching uses the new rules at once. */
  reload: () => void;
}

export function putRule(d: RuleWriteDeps, mode: "create" | "update", rule: Rule): RuleWriteResult {
  try {
    checkRule(rule, d.targets);
  } catch (error) {
    if (error instanceof RuleError)
      return { ok: false, error: "invalid", field: error.field, message: error.message };
    throw error;
  }
  const result = d.store.transaction((): RuleWriteResult => {
    const exists = d.store.rule(rule.id) !== undefined;
    if (mode === "update" && !exists) return { ok: false, error: "not-found" };
    if (mode === "create" && !exists && d.store.ruleCount() >= d.maxRules)
      return { ok: false, error: "max-rules", maxRules: d.maxRules };
    d.store.putRule(rule);
    return { ok: true };
  });
  if (result.ok) d.reload();
  return result;
}

export function deleteRule(d: RuleWriteDeps, id: string): RuleWriteResult {
  if (!d.store.deleteRule(id)) return { ok: false, error: "not-found" };
  d.reload();
  return { ok: true };
}
