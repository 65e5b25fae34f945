/**
 * Webhook API models. Rule bodies use the dispatcher's own schemas (actors/webhook-dispatcher/rules.ts),
 * so the HTTP body and what webhooks.db stores are one definition.
 */
import { t } from "elysia";
import { RuleInputSchema, RulePatchSchema, TriggerSchema } from "../../../actors/webhook-dispatcher/rules.ts";
import { fields } from "../fields.ts";

export const DEFAULT_PAGE = 50;

export { RuleInputSchema as RuleInput, RulePatchSchema as RulePatch };

export const RuleView = t.Object({
  id: t.String(),
  name: t.String(),
  url: t.String(),
  enabled: t.Boolean(),
  when: TriggerSchema,
  createdAt: t.Number(),
  updatedAt: t.Number(),
});
export const CreatedRule = t.Composite([RuleView, t.Object({ secret: t.String() })]);

export const Delivery = t.Object({
  id: t.String(),
  ruleId: t.String(),
  event: t.String(),
  status: t.String({ description: "pending, delivered, dead or failed (test fires)" }),
  attempts: t.Number(),
  createdAt: t.Number(),
  nextAt: t.Number(),
  lastAttemptAt: t.Union([t.Number(), t.Null()]),
  lastStatus: t.Union([t.Number(), t.Null()]),
  lastError: t.Union([t.String(), t.Null()]),
  finishedAt: t.Union([t.Number(), t.Null()]),
  payload: t.Unknown(),
});
export const DeadLetter = t.Composite([Delivery, t.Object({ reason: t.String(), deadAt: t.Number() })]);

export function webhookModels(pageMax: number) {
  return {
    IdParams: t.Object({
      id: t.String({
        pattern: "^[A-Za-z0-9_-]{1,64}$",
        error: () => ({ field: "params.id", expected: "a webhook or delivery id as listed by the API" }),
      }),
    }),
    PageQuery: t.Object({
      limit: t.Optional(
        fields.int("query.limit", 1, pageMax, "rows per page", Math.min(DEFAULT_PAGE, pageMax)),
      ),
      cursor: t.Optional(fields.cursor("query.cursor")),
    }),
  };
}
