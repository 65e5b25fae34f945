/**
 * The edges between actors, each named once here with the message type it carries. The supervision tree
 * (runtime/app/tree.ts) wires them; actors send on them (`ctx.outbox<Carried<typeof e>>(e)`); tests and
 * benchmarks build small trees from them. Names are public: they label `/metrics` and `/health`.
 *
 * An edge is its name at runtime (a string), typed with what it carries, so the one definition gives both.
 */
import type { BatcherMessage, StoredBatch } from "../runtime/events/messages.ts";
import { type EnrichmentBatch, type EnrichmentUpdate, enricherActor } from "./enricher/messages.ts";
import type { InfluxMessage } from "./influx-writer/messages.ts";
import type { MetadataMessage } from "./metadata/messages.ts";
import type { HealthMessage } from "./webhook-dispatcher/messages.ts";

/** An edge's name, typed with the message it carries (the type exists only for the compiler). */
export type Edge<M> = string & { readonly __carries?: M };
/** The message type an edge carries. */
export type Carried<E> = E extends Edge<infer M> ? M : never;

const edge = <M>(name: string): Edge<M> => name as Edge<M>;

export const EDGES = {
  connectionToBatcher: edge<BatcherMessage>("connection->batcher"),
  connectionToMetadata: edge<MetadataMessage>("connection->metadata"),
  batcherToWebhooks: edge<StoredBatch>("batcher->webhooks"),
  /** To the main thread (the API's live feed). */
  batcherToHub: edge<StoredBatch>("batcher->hub"),
  batcherToInflux: edge<InfluxMessage>("batcher->influx"),
  /** The writer's acknowledged export position, so the batcher never evicts what InfluxDB has not received. */
  influxToBatcher: edge<BatcherMessage>("influx->batcher"),
  insightsToWebhooks: edge<HealthMessage>("insights->webhooks"),
  /** From the main thread (imports through the API). */
  hubToBatcher: edge<BatcherMessage>("hub->batcher"),
  historyImportToBatcher: edge<BatcherMessage>("history-import->batcher"),
} as const;

/** The two edges of the enricher running for `source` (one child per configured source). */
export const enricherEdges = (source: string) => ({
  toBatcher: edge<EnrichmentBatch>(`${enricherActor(source)}->batcher`),
  toWebhooks: edge<EnrichmentUpdate>(`${enricherActor(source)}->webhooks`),
});
