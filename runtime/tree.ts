/**
 * The supervision tree and the wiring of mailboxes, in one place. Follow one event:
 *
 *   Home Assistant ──ws──▶ connection ──connection->batcher──▶ batcher ──▶ store (SQLite, WAL)
 *                              │                                 │  ├──batcher->webhooks──▶ webhook-dispatcher ──▶ HA webhooks
 *                              └─connection->metadata─▶ metadata │  ├──batcher->hub──▶ API (SSE live stream)
 *                                                                │  └──batcher->influx──▶ influx-writer ──▶ InfluxDB
 *   enrichers (weather, air-quality, carbon, prices) ──enricher-*->batcher──▶ batcher
 *
 * Children start in the order listed and stop in reverse: consumers first, producers last, so on shutdown
 * the producers stop and drain into consumers that are still running.
 */
import type { HomeIQConfig } from "./config/schema.ts";
import { type ChildSpec, type EdgeSpec, HUB, type TreeSpec } from "./supervisor.ts";

const actor = (name: string): ChildSpec => ({
  name,
  module: new URL(`../actors/${name}/worker.ts`, import.meta.url).pathname,
});

/** Edge names are the contract between actors: `ctx.outbox("connection->batcher")`. */
export const EDGES = {
  connectionToBatcher: "connection->batcher",
  connectionToMetadata: "connection->metadata",
  batcherToWebhooks: "batcher->webhooks",
  batcherToHub: "batcher->hub",
  batcherToInflux: "batcher->influx",
} as const;

export function buildTree(config: HomeIQConfig): TreeSpec {
  const events = config.mailbox.eventsCapacity;
  const small = config.mailbox.capacity;
  const children: ChildSpec[] = [actor("metadata"), actor("batcher"), actor("connection")];
  const edges: EdgeSpec[] = [
    { name: EDGES.connectionToMetadata, from: "connection", to: "metadata", capacity: small, retain: true },
    { name: EDGES.connectionToBatcher, from: "connection", to: "batcher", capacity: events, retain: true },
    // The live feed is a view, not storage: when the API is behind, batches for it are counted and skipped.
    { name: EDGES.batcherToHub, from: "batcher", to: HUB, capacity: events, retain: false },
  ];
  return {
    children,
    edges,
    maxRestarts: config.supervisor.maxRestarts,
    periodMs: config.supervisor.restartPeriodMs,
    backoffMinMs: config.supervisor.backoffMinMs,
    backoffMaxMs: config.supervisor.backoffMaxMs,
    startTimeoutMs: config.supervisor.startTimeoutMs,
    metricsIntervalMs: config.metricsIntervalMs,
    logLevel: config.logLevel,
    config,
  };
}
