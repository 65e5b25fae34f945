/**
 * The webhook dispatcher's inbound messages and the calls the API makes into it.
 *
 * - `stored` (edge `batcher->webhooks`, retained): state changes the batcher has just committed.
 * - `enrichment` (edges `enricher-<source>->webhooks`): one enricher value, `ts` in ms since the epoch.
 *   Re-sending the same (source, metric, ts) is harmless: it is evaluated once.
 * - `health` (provisional, for the insights actor): an entity-health verdict. Rules of kind "health"
 *   match on entity (glob/domain) and status; extend `HealthMessage` and `Matcher.matchHealth` together.
 */
import { type Static, Type as T } from "@sinclair/typebox";
import { type StoredBatch, storedSchemas } from "../../runtime/events/messages.ts";
import { messageChecker } from "../../runtime/kernel/schema.ts";
import { type Rule, TriggerSchema } from "./rules.ts";

export const ACTOR = "webhook-dispatcher";

export const EnrichmentMessageSchema = T.Object({
  type: T.Literal("enrichment"),
  source: T.String({ minLength: 1, maxLength: 64 }),
  metric: T.String({ minLength: 1, maxLength: 64 }),
  value: T.Number(),
  ts: T.Number({ description: "ms since the epoch" }),
  unit: T.Optional(T.String()),
});
export type EnrichmentMessage = Static<typeof EnrichmentMessageSchema>;

export const HealthMessageSchema = T.Object({
  type: T.Literal("health"),
  entity_id: T.String({ minLength: 3 }),
  status: T.String({ minLength: 1, maxLength: 64 }),
  ts: T.Number({ description: "ms since the epoch" }),
  reason: T.Optional(T.String()),
});
export type HealthMessage = Static<typeof HealthMessageSchema>;

export const webhookSchemas = {
  stored: storedSchemas.stored,
  enrichment: EnrichmentMessageSchema,
  health: HealthMessageSchema,
};

export type WebhookMessage = StoredBatch | EnrichmentMessage | HealthMessage;

export const webhookMessage = {
  enrichment: (
    source: string,
    metric: string,
    value: number,
    ts: number,
    unit?: string,
  ): EnrichmentMessage => ({
    type: "enrichment",
    source,
    metric,
    value,
    ts,
    ...(unit === undefined ? {} : { unit }),
  }),
  health: (entity_id: string, status: string, ts: number, reason?: string): HealthMessage => ({
    type: "health",
    entity_id,
    status,
    ts,
    ...(reason === undefined ? {} : { reason }),
  }),
};

export const check = messageChecker(ACTOR, webhookSchemas);

/** A whole rule as the API sends it to be saved (validated again here: ./rule-writes.ts). */
const RuleSchema = T.Object({
  id: T.String({ minLength: 1, maxLength: 64 }),
  name: T.String({ minLength: 1, maxLength: 200 }),
  url: T.String({ minLength: 1, maxLength: 2048 }),
  secret: T.String({ minLength: 1, maxLength: 256 }),
  enabled: T.Boolean(),
  when: TriggerSchema,
  createdAt: T.Number(),
  updatedAt: T.Number(),
});

/**
 * Calls from the API (supervisor.call("webhook-dispatcher", body)). The dispatcher owns webhooks.db: rule
 * writes (`put-rule`, `delete-rule`) are made here and answered (`RuleWriteResult`), never by the API.
 */
export const callSchemas = {
  "reload-rules": T.Object({ type: T.Literal("reload-rules") }),
  /** `create` refuses past webhooks.maxRules; `update` refuses a rule that no longer exists. */
  "put-rule": T.Object({
    type: T.Literal("put-rule"),
    mode: T.Union([T.Literal("create"), T.Literal("update")]),
    rule: RuleSchema,
  }),
  "delete-rule": T.Object({ type: T.Literal("delete-rule"), id: T.String({ minLength: 1 }) }),
  "test-fire": T.Object({ type: T.Literal("test-fire"), ruleId: T.String({ minLength: 1 }) }),
  replay: T.Object({ type: T.Literal("replay"), deliveryId: T.String({ minLength: 1 }) }),
  status: T.Object({ type: T.Literal("status") }),
};
export const checkCall = messageChecker(`${ACTOR} call`, callSchemas);

export const webhookCall = {
  reloadRules: () => ({ type: "reload-rules" as const }),
  putRule: (mode: "create" | "update", rule: Rule) => ({ type: "put-rule" as const, mode, rule }),
  deleteRule: (id: string) => ({ type: "delete-rule" as const, id }),
  testFire: (ruleId: string) => ({ type: "test-fire" as const, ruleId }),
  replay: (deliveryId: string) => ({ type: "replay" as const, deliveryId }),
  status: () => ({ type: "status" as const }),
};

/** What a rule write answers: saved (and the rules reloaded), or why not (nothing written). */
export type RuleWriteResult =
  | { ok: true }
  | { ok: false; error: "max-rules"; maxRules: number }
  | { ok: false; error: "not-found" }
  | { ok: false; error: "invalid"; field: string; message: string };
