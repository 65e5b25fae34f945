/**
 * The batcher's inbound messages and the state-change record that flows connection -> batcher -> store.
 *
 * A state change is identified by (entity_id, last_updated): Home Assistant stamps last_updated with
 * microsecond precision and never reuses it for an entity, so that pair is the idempotency key that makes
 * live events, the connect snapshot, gap backfill and redeliveries all store exactly once.
 */
import { type Static, Type as T } from "@sinclair/typebox";

export const StateChangeSchema = T.Object({
  entity_id: T.String({ minLength: 3 }),
  state: T.String(),
  /** Attributes as JSON text, serialised once by the connection actor; stored de-duplicated. */
  attributes: T.String(),
  /** Microseconds since the Unix epoch. */
  last_changed: T.Number(),
  /** Microseconds since the Unix epoch; with entity_id the idempotency key. */
  last_updated: T.Number(),
  context_id: T.Union([T.String(), T.Null()]),
  context_parent_id: T.Union([T.String(), T.Null()]),
  context_user_id: T.Union([T.String(), T.Null()]),
});
export type StateChange = Static<typeof StateChangeSchema>;

export const EventSourceSchema = T.Union([
  T.Literal("live"),
  T.Literal("snapshot"),
  T.Literal("backfill"),
  T.Literal("spool"),
]);
export type EventSource = Static<typeof EventSourceSchema>;

/**
 * Event traffic moves as one message per batch. The boundary check covers the envelope; the records are
 * built by our own connection actor from frames it has already validated, so they are not re-walked here.
 */
export const batcherSchemas = {
  events: T.Object({
    type: T.Literal("events"),
    source: EventSourceSchema,
    events: T.Array(T.Unknown()),
  }),
};

export type BatcherMessage = { type: "events"; source: EventSource; events: StateChange[] };

export const batcherMessage = {
  events: (source: EventSource, events: StateChange[]): BatcherMessage => ({
    type: "events",
    source,
    events,
  }),
};

/**
 * What the batcher sends on after a batch is committed (to the webhook dispatcher and the API's live feed):
 * only the state changes that were new to the store, never duplicates.
 */
export type StoredBatch = { type: "stored"; events: StateChange[] };
export const storedBatch = (events: StateChange[]): StoredBatch => ({ type: "stored", events });
export const storedSchemas = {
  stored: T.Object({ type: T.Literal("stored"), events: T.Array(T.Unknown()) }),
};
