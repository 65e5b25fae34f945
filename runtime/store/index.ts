/**
 * The store: `events.db`. Readers (`openStoreReader`) are for everyone; the writer is the batcher's alone.
 * Layout and SQL notes for read-only miners: ./schema.ts.
 */
export { decodeContextId, encodeContextId } from "./codec.ts";
export {
  type EventsQuery,
  type HistoryPoint,
  openStoreReader,
  type Resolution,
  type StoredEvent,
  type StoreReader,
  type StoreTotals,
  type Tier,
} from "./reader.ts";
export { ENTITY_BITS, EVENTS_DB, TABLES } from "./schema.ts";
