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

/** Calls from the API (supervisor.call("webhook-dispatcher", body)). */
export const callSchemas = {
  "reload-rules": T.Object({ type: T.Literal("reload-rules") }),
  "test-fire": T.Object({ type: T.Literal("test-fire"), ruleId: T.String({ minLength: 1 }) }),
  replay: T.Object({ type: T.Literal("replay"), deliveryId: T.String({ minLength: 1 }) }),
  status: T.Object({ type: T.Literal("status") }),
};
export const checkCall = messageChecker(`${ACTOR} call`, callSchemas);

export const webhookCall = {
  reloadRules: () => ({ type: "reload-rules" as const }),
  testFire: (ruleId: string) => ({ type: "test-fire" as const, ruleId }),
  replay: (deliveryId: string) => ({ type: "replay" as const, deliveryId }),
  status: () => ({ type: "status" as const }),
};
