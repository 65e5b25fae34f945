/**
 * The batcher's inbound messages and the state-change record that flows connection -> batcher -> store.
 *
 * A state change is identified by (entity_id, last_updated): Home Assistant stamps last_updated with
 * microsecond precision and never reuses it for an entity, so that pair is the idempotency key that makes
 * live events, the connect snapshot, gap backfill and redeliveries all store exactly once.
 */
import { type Static, Type as T } from "@sinclair/typebox";
import { type MessageCheck, messageChecker } from "../kernel/schema.ts";
import { type PackedEvents, packEvents } from "./packed.ts";
import type { StateChange } from "./state-change.ts";

export { type StateChange, StateChangeSchema } from "./state-change.ts";

export const EventSourceSchema = T.Union([
  T.Literal("live"),
  T.Literal("snapshot"),
  T.Literal("backfill"),
  T.Literal("spool"),
  T.Literal("import"),
  /** HA's recorded past, read by the history import (actors/history-import/); no webhook rule selects it. */
  T.Literal("history"),
]);
export type EventSource = Static<typeof EventSourceSchema>;

/**
 * One enrichment reading (weather, air quality, carbon intensity, prices, ...), as the enrichers send it
 * (actors/enricher/messages.ts `EnrichmentBatch`); stored as the time series (source, metric).
 */
export const ReadingSchema = T.Object({
  /** What was measured, e.g. "temperature_c"; the Influx field name. */
  metric: T.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9_.-]+$" }),
  /** Milliseconds since the Unix epoch; with (source, metric) the idempotency key. */
  ts: T.Number(),
  value: T.Number(),
});
export type Reading = Static<typeof ReadingSchema>;

/** One hour of HA's long-term statistics of one entity (runtime/store/statistics.ts). */
export const StatisticHourSchema = T.Object({
  entity_id: T.String({ minLength: 3 }),
  t: T.Integer(),
  mean: T.Union([T.Number(), T.Null()]),
  min: T.Union([T.Number(), T.Null()]),
  max: T.Union([T.Number(), T.Null()]),
  state: T.Union([T.Number(), T.Null()]),
  growth: T.Number(),
});
export type StatisticHour = Static<typeof StatisticHourSchema>;

/** A packed batch (./packed.ts): one string and one Float64Array; its contents are checked on opening. */
export const PackedEventsSchema = T.Object({
  n: T.Integer({ minimum: 0 }),
  text: T.String(),
  times: T.Unknown(),
});

/**
 * Event traffic moves as one message per batch, packed. The boundary check covers the envelope; the
 * records are built by our own connection actor from frames it has already validated, so they are not
 * re-walked here, and `openPacked` refuses a batch whose parts do not add up.
 */
export const batcherSchemas = {
  events: T.Object({
    type: T.Literal("events"),
    source: EventSourceSchema,
    events: PackedEventsSchema,
  }),
  /**
   * An entity was renamed in HA (entity registry `update` with `old_entity_id`): the new id joins the old
   * history; the store keeps the entity's key, so Influx's `entity_id` tag (the first name) stays stable.
   */
  rename: T.Object({
    type: T.Literal("rename"),
    from: T.String({ minLength: 3 }),
    to: T.String({ minLength: 3 }),
  }),
  /** Enrichment readings of one source (low volume, so validated record by record). */
  enrichment: T.Object({
    type: T.Literal("enrichment"),
    /** The enricher, e.g. "weather"; Influx measurement `enrichment_<source>`. */
    source: T.String({ minLength: 1, maxLength: 64, pattern: "^[a-z0-9_-]+$" }),
    readings: T.Array(ReadingSchema, { maxItems: 100_000 }),
  }),
  /** Home Assistant's hourly long-term statistics for hours before the raw history (actors/history-import). */
  statistics: T.Object({
    type: T.Literal("statistics"),
    hours: T.Array(StatisticHourSchema, { maxItems: 100_000 }),
  }),
  /**
   * The Influx writer's acknowledged position (`influx->batcher`, ../store/export-ack.ts): rows up to it
   * are in InfluxDB, so retention and the disk bound may take them. Sent again about once a second.
   */
  "export-position": T.Object({
    type: T.Literal("export-position"),
    t: T.Integer(),
    e: T.Integer({ minimum: 0 }),
    seq: T.Integer({ minimum: 0 }),
  }),
};

export type BatcherMessage =
  | { type: "events"; source: EventSource; events: PackedEvents }
  | { type: "rename"; from: string; to: string }
  | { type: "enrichment"; source: string; readings: Reading[] }
  | { type: "statistics"; hours: StatisticHour[] }
  | { type: "export-position"; t: number; e: number; seq: number };

export const batcherMessage = {
  /** Packs `events` when given as records (imports, tests); the connection packs as it parses. */
  events: (source: EventSource, events: readonly StateChange[] | PackedEvents): BatcherMessage => ({
    type: "events",
    source,
    events: Array.isArray(events) ? packEvents(events) : (events as PackedEvents),
  }),
  rename: (from: string, to: string): BatcherMessage => ({ type: "rename", from, to }),
  statistics: (hours: StatisticHour[]): BatcherMessage => ({ type: "statistics", hours }),
  exportPosition: (pos: { t: number; e: number; seq: number }): BatcherMessage => ({
    type: "export-position",
    t: pos.t,
    e: pos.e,
    seq: pos.seq,
  }),
  enrichment: (source: string, readings: Reading[]): BatcherMessage => ({
    type: "enrichment",
    source,
    readings,
  }),
};

/**
 * What the batcher sends on after a batch is committed (to the webhook dispatcher and the API's live feed):
 * only the state changes that were new to the store, never duplicates. `source` says where they came from
 * when all did from one (always so on batcher->webhooks, where rules fire on live changes only by
 * default); the live feed's coalesced batches may mix sources and leave it out.
 */
export type StoredBatch = { type: "stored"; events: PackedEvents; source?: EventSource };
export const storedBatch = (
  events: readonly StateChange[] | PackedEvents,
  source?: EventSource,
): StoredBatch => ({
  type: "stored",
  events: Array.isArray(events) ? packEvents(events) : (events as PackedEvents),
  ...(source === undefined ? {} : { source }),
});
export const storedSchemas = {
  stored: T.Object({
    type: T.Literal("stored"),
    events: PackedEventsSchema,
    source: T.Optional(EventSourceSchema),
  }),
};

/**
 * The batcher's boundary check. Event records inside an `events` message are typed by the sender (our own
 * connection actor), so the checked value is narrowed to `BatcherMessage`.
 */
export const check = messageChecker("batcher", batcherSchemas) as MessageCheck<BatcherMessage>;

/**
 * Requests the hub makes of the batcher with `supervisor.call("batcher", body)` (answered, unlike mailbox
 * messages): totals for the API, and the import's two steps, so an import learns what was really stored.
 */
export type BatcherCall =
  | { type: "totals" }
  /** Which of these entity ids the store has never seen, and how many keys an import may still take. */
  | { type: "import-check"; entityIds: string[] }
  /** Stores one batch of an import (new entities only below the import ceiling) and answers what happened. */
  | { type: "import"; events: PackedEvents };

export const batcherCall = {
  importCheck: (entityIds: string[]): BatcherCall => ({ type: "import-check", entityIds }),
  import: (events: readonly StateChange[]): BatcherCall => ({ type: "import", events: packEvents(events) }),
};

export interface ImportCheckResult {
  /** The asked entity ids the store has never seen. */
  unknown: string[];
  /** New entities imports may still add before reaching the keys kept for live entities. */
  keysLeft: number;
  /** last_updated (µs) the store can hold: within ±4.4 years of its time origin. */
  minUs: number;
  maxUs: number;
}

export interface ImportWriteResult {
  stored: number;
  duplicates: number;
  /** Refused records by index into the batch, with the store's reason. */
  rejected: { index: number; error: string }[];
}
