/**
 * Messages every enricher takes in (the same set for each source) and the messages it sends out:
 * readings to the batcher (stored as the series `enrichment_<source>`) and latest values to the webhook
 * dispatcher (for enrichment rules).
 */
import { type Static, Type as T } from "@sinclair/typebox";
import type { Reading } from "./source.ts";

export const enricherSchemas = {
  /** The home's location, from HA's get_config (forwarded by the main thread) or a test. */
  location: T.Object({
    type: T.Literal("location"),
    latitude: T.Number({ minimum: -90, maximum: 90 }),
    longitude: T.Number({ minimum: -180, maximum: 180 }),
  }),
  /** Poll now (if the breaker allows), e.g. after a configuration change. */
  refresh: T.Object({ type: T.Literal("refresh") }),
  /** The latest values with staleness and last error (`SourceStatus`); meaningful as a call. */
  latest: T.Object({ type: T.Literal("latest") }),
};

export type LocationMessage = Static<typeof enricherSchemas.location>;
/** What an enricher takes, on an edge or as `call(body)`; every one is answered with its `SourceStatus`. */
export type EnricherMessage =
  | LocationMessage
  | Static<typeof enricherSchemas.refresh>
  | Static<typeof enricherSchemas.latest>;

export const enricherMessage = {
  location: (latitude: number, longitude: number): LocationMessage => ({
    type: "location",
    latitude,
    longitude,
  }),
  refresh: (): EnricherMessage => ({ type: "refresh" }),
  latest: (): EnricherMessage => ({ type: "latest" }),
};

/** Sent on `enricher-<source>->batcher`: new points of the series `enrichment_<source>`. */
export interface EnrichmentBatch {
  type: "enrichment";
  source: string;
  readings: Reading[];
}

/** Sent on `enricher-<source>->webhooks` (lossy): one metric's latest value, for enrichment rules. */
export interface EnrichmentUpdate {
  type: "enrichment";
  source: string;
  metric: string;
  value: number;
  ts: number;
}

export const enrichmentBatch = (source: string, readings: Reading[]): EnrichmentBatch => ({
  type: "enrichment",
  source,
  readings,
});

export const enrichmentUpdate = (source: string, r: Reading): EnrichmentUpdate => ({
  type: "enrichment",
  source,
  metric: r.metric,
  value: r.value,
  ts: r.ts,
});

/** Notice an enricher sends when it starts without a location, so the main thread can forward HA's. */
export const NEEDS_LOCATION = "needs-location";
/** Notice the connection actor sends with HA's get_config result (latitude, longitude, ...). */
export const HA_CONFIG = "ha-config";

export const enricherActor = (source: string): string => `enricher-${source}`;
