/**
 * The supervision tree and the wiring of mailboxes, in one place. Follow one event:
 *
 *   Home Assistant ──ws──▶ connection ──connection->batcher──▶ batcher ──▶ store (SQLite, WAL)
 *                              │                                 │  ├──batcher->webhooks──▶ webhook-dispatcher ──▶ HA webhooks
 *                              └─connection->metadata─▶ metadata │  ├──batcher->hub──▶ API (SSE live stream)
 *                                                                │  └──batcher->influx──▶ influx-writer ──▶ InfluxDB
 *   enricher (one child per source: weather, air-quality, carbon, prices) ──enricher-*->batcher──▶ batcher
 *   store ──read-only──▶ suggestions (mines the history; no edges, the API calls it)
 *   Home Assistant ──ws (own, short-lived)──▶ history-import ──history-import->batcher──▶ batcher
 *
 * Edges are named (and typed) once, in actors/edges.ts; this file only wires them.
 *
 * Children start in the order listed and stop in reverse: consumers first, producers last, so on shutdown
 * the producers stop and drain into consumers that are still running.
 */
import { EDGES, enricherEdges } from "../../actors/edges.ts";
import { enricherActor } from "../../actors/enricher/messages.ts";
import { ENRICHERS } from "../../actors/enricher/sources/index.ts";
import type { HomeIQConfig } from "../config/schema.ts";
import { type ChildSpec, type EdgeSpec, HUB, type TreeSpec } from "../kernel/supervisor.ts";

const actor = (name: string): ChildSpec => ({
  name,
  module: new URL(`../../actors/${name}/worker.ts`, import.meta.url).pathname,
});

/** The enricher module, spawned once per enabled source with the source as its argument. */
const ENRICHER_MODULE = new URL("../../actors/enricher/worker.ts", import.meta.url).pathname;

/** Appends the enabled enrichers last: producers start after (and stop before) the actors they feed. */
function addEnrichers(config: HomeIQConfig, children: ChildSpec[], edges: EdgeSpec[]): void {
  const webhooks = children.some((c) => c.name === "webhook-dispatcher");
  for (const [source, enabled] of ENRICHERS) {
    if (!enabled(config)) continue;
    const name = enricherActor(source);
    const { toBatcher, toWebhooks } = enricherEdges(source);
    children.push({ name, module: ENRICHER_MODULE, args: [source] });
    edges.push({
      name: toBatcher,
      from: name,
      to: "batcher",
      capacity: config.mailbox.capacity,
      retain: true,
    });
    // Latest values for enrichment rules are a view: offered with trySend, dropped (and counted) when full.
    if (webhooks)
      edges.push({
        name: toWebhooks,
        from: name,
        to: "webhook-dispatcher",
        capacity: config.mailbox.capacity,
        retain: false,
      });
  }
}

export function buildTree(config: HomeIQConfig): TreeSpec {
  const events = config.mailbox.eventsCapacity;
  const small = config.mailbox.capacity;
  const children: ChildSpec[] = [
    // No edges: it reads events.db on its own read-only connection, so its place in the order is free.
    actor("suggestions"),
    actor("metadata"),
    actor("webhook-dispatcher"),
    // Own read connection to events.db; sends health changes to the dispatcher, so it starts after it.
    actor("insights"),
    actor("batcher"),
    actor("connection"),
    // Its own short-lived HA session for the recorder's past (actors/history-import/); a producer, last.
    actor("history-import"),
  ];
  const edges: EdgeSpec[] = [
    { name: EDGES.connectionToMetadata, from: "connection", to: "metadata", capacity: small, retain: true },
    { name: EDGES.connectionToBatcher, from: "connection", to: "batcher", capacity: events, retain: true },
    // Retained: a restarted dispatcher gets unacknowledged batches again and skips those already evaluated.
    {
      name: EDGES.batcherToWebhooks,
      from: "batcher",
      to: "webhook-dispatcher",
      capacity: small,
      retain: true,
    },
    // Health changes for "health" rules; retained, so a restarted dispatcher still hears of each change.
    {
      name: EDGES.insightsToWebhooks,
      from: "insights",
      to: "webhook-dispatcher",
      capacity: small,
      retain: true,
    },
    // The live feed is a view, not storage: when the API is behind, batches for it are counted and skipped.
    { name: EDGES.batcherToHub, from: "batcher", to: HUB, capacity: events, retain: false },
    // Retained: a step counts as done once the batcher acknowledged (committed) it.
    {
      name: EDGES.historyImportToBatcher,
      from: "history-import",
      to: "batcher",
      capacity: small,
      retain: true,
    },
    // Imports through the API enter the store the way live events do (deduped by the batcher).
    { name: EDGES.hubToBatcher, from: HUB, to: "batcher", capacity: small, retain: true },
  ];
  addEnrichers(config, children, edges);
  if (config.influx.url) {
    // The writer tails events.db on its own; the batcher only nudges it (lossy: a missed nudge costs one
    // influx.flushIntervalMs). Listed before the batcher so it starts first and stops last.
    children.splice(
      children.findIndex((c) => c.name === "batcher"),
      0,
      actor("influx-writer"),
    );
    edges.push({
      name: EDGES.batcherToInflux,
      from: "batcher",
      to: "influx-writer",
      capacity: small,
      retain: false,
    });
    // The writer's acknowledged position, so retention never takes a row InfluxDB lacks without the
    // batcher opening influx.db. Lossy: it is re-sent about once a second, and the batcher keeps the last.
    edges.push({
      name: EDGES.influxToBatcher,
      from: "influx-writer",
      to: "batcher",
      capacity: small,
      retain: false,
    });
  }
  return {
    children,
    edges,
    maxRestarts: config.supervisor.maxRestarts,
    periodMs: config.supervisor.restartPeriodMs,
    backoffMinMs: config.supervisor.backoffMinMs,
    backoffMaxMs: config.supervisor.backoffMaxMs,
    startTimeoutMs: config.supervisor.startTimeoutMs,
    stuckAfterMs: config.supervisor.stuckAfterMs,
    metricsIntervalMs: config.metricsIntervalMs,
    logLevel: config.logLevel,
    config,
  };
}
