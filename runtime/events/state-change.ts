/**
 * One state change as it flows connection -> batcher -> store, on its own so the packed format
 * (./packed.ts) and the messages that carry it (./messages.ts) both build on it without importing each
 * other.
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
