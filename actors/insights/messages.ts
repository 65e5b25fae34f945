/**
 * The insights actor's requests. It has no inbound event edges: the API reaches it with `supervisor.call`
 * for the answers that take seconds to compute (stats over 7 and 30 days, entity health, energy impact),
 * which it keeps computed in the background. Its one outbound edge, `insights->webhooks`, carries health
 * changes to the webhook dispatcher (rules of kind "health").
 */
import { Type as T } from "@sinclair/typebox";
import { type MessageOf, messageChecker } from "../../runtime/kernel/schema.ts";
import { EDGES } from "../edges.ts";

export const ACTOR = "insights";
export const EDGE_TO_WEBHOOKS = EDGES.insightsToWebhooks;

/** Stats windows the actor keeps computed; 1h and 24h are cheap enough to answer per request. */
export const BackgroundWindowSchema = T.Union([T.Literal("7d"), T.Literal("30d")]);

export const insightsSchemas = {
  stats: T.Object({ type: T.Literal("stats"), window: BackgroundWindowSchema }),
  health: T.Object({ type: T.Literal("health") }),
  energy: T.Object({ type: T.Literal("energy") }),
  /** Recompute now (health and energy), e.g. after a restore; answers when done. */
  refresh: T.Object({ type: T.Literal("refresh") }),
};

export type InsightsRequest = MessageOf<typeof insightsSchemas>;

export const check = messageChecker(ACTOR, insightsSchemas);

export const insightsRequest = {
  stats: (window: "7d" | "30d"): InsightsRequest => ({ type: "stats", window }),
  health: (): InsightsRequest => ({ type: "health" }),
  energy: (): InsightsRequest => ({ type: "energy" }),
  refresh: (): InsightsRequest => ({ type: "refresh" }),
};
