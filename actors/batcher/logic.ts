/**
 * The batcher's rules, free of workers and SQLite.
 *
 * Durability first: an inbound message is written to the store (one transaction, split at
 * `batcher.maxEvents` rows) before the handler returns, because returning acknowledges it to the
 * connection; acknowledging first would let a batcher crash lose events the sender no longer holds.
 * The inbox hands over one message at a time, so grouping for *disk* happens in the sender's batches.
 *
 * Grouping by size and time (`maxEvents` / `maxDelayMs`) applies to the lossy fan-out: newly stored events
 * for the API's live feed are coalesced into one StoredBatch per `maxDelayMs` (or per `maxEvents`), and the
 * Influx writer gets at most one wake-up per flush. The webhook dispatcher is sent each commit's new events
 * at once (a retained edge, awaited for credit), so rules see events as soon as they are durable.
 */
import { concatPacked, type PackedEvents } from "../../runtime/events/packed.ts";

export interface FanOutState {
  pending: PackedEvents[];
  /** Events in `pending`. */
  count: number;
  /** When the oldest pending event was committed (ms), or null when nothing is pending. */
  since: number | null;
}

export const initialFanOut = (): FanOutState => ({ pending: [], count: 0, since: null });

/** What to do after new events were committed at `now`: flush them now, or arm the timer. */
export function addStored(
  state: FanOutState,
  events: PackedEvents,
  now: number,
  limits: { maxEvents: number; maxDelayMs: number },
): { state: FanOutState; flush: PackedEvents | null; armMs: number | null } {
  if (events.n === 0) return { state, flush: null, armMs: null };
  const pending = [...state.pending, events];
  const count = state.count + events.n;
  const since = state.since ?? now;
  if (count >= limits.maxEvents || now - since >= limits.maxDelayMs)
    return { state: initialFanOut(), flush: concatPacked(pending), armMs: null };
  return {
    state: { pending, count, since },
    flush: null,
    armMs: state.since === null ? limits.maxDelayMs : null,
  };
}

/** The timer fired (or the actor is closing): whatever is pending goes out. */
export function flushDue(state: FanOutState): { state: FanOutState; flush: PackedEvents | null } {
  return state.count === 0
    ? { state, flush: null }
    : { state: initialFanOut(), flush: concatPacked(state.pending) };
}

/**
 * The highest entity key an import may give a new entity: the key space less the reserve kept for the
 * home's own new entities (ops.importEntityKeyReserve), so no import can leave live ingest without keys.
 */
export const importKeyCeiling = (maxKey: number, reserve: number): number => Math.max(0, maxKey - reserve);
