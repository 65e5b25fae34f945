/**
 * The influx-writer's inbound messages. It tails events.db on its own; the batcher only nudges it after a
 * commit (`batcher->influx`, lossy: a missed wake-up costs at most one `influx.flushIntervalMs`).
 */
import { Type as T } from "@sinclair/typebox";
import { messageChecker } from "../../runtime/kernel/schema.ts";

export const influxSchemas = {
  wake: T.Object({ type: T.Literal("wake") }),
};

export type InfluxMessage = { type: "wake" };

/** The one wake-up message, shared (it carries nothing). */
export const WAKE: InfluxMessage = Object.freeze({ type: "wake" });

export const check = messageChecker("influx-writer", influxSchemas);
