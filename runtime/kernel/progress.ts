/**
 * What the supervisor can see of an actor that no longer answers: a few 32-bit words in shared memory that
 * the actor's own mailboxes write as they work, and that the supervisor (main thread) reads without asking
 * the worker. A worker caught in a synchronous loop answers no call and ships no metrics, so a stuck actor
 * can only be seen from outside, through memory it wrote while it still moved.
 *
 * - The clock: one word the supervisor sets to its own monotonic milliseconds (`tickClock`) at every watch
 *   round. Every thread stamps with it, so ages never mix two threads' clocks (a worker's
 *   `performance.timeOrigin` is the wall clock at its start, which NTP may have stepped since) and never
 *   jump with the wall clock. Stamps are int32 and compared modulo 2^32, so they stay right past 24 days.
 * - An actor slot, written by the actor's inbox: how many messages it has finished handling, and how many of
 *   its sends are waiting for credit (it is held up by a downstream actor, not stuck itself).
 * - An edge slot, written by the edge's sending end (outbox): messages sent and not yet acknowledged, and the
 *   stamp of the oldest of them. Measured at the sender, the age also counts messages the receiver has not
 *   even taken off its port because its thread is busy elsewhere (a spinning timer, a call).
 *
 * @example
 * const tick = createTick();                          // supervisor, once
 * setTick(tick, performance.now());                   // supervisor, each watch round
 * const now = tickClock(tick);                        // in a worker: the clock its outboxes stamp with
 */

/** Actor slot words. */
export const PROCESSED = 0;
export const CREDIT_WAITS = 1;
/** Edge slot words. */
export const OUTSTANDING = 0;
export const OLDEST_AT = 1;

const WORDS = 2;

export function createTick(): SharedArrayBuffer {
  return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
}

export function createActorSlot(): SharedArrayBuffer {
  return new SharedArrayBuffer(WORDS * Int32Array.BYTES_PER_ELEMENT);
}

export function createEdgeSlot(): SharedArrayBuffer {
  return new SharedArrayBuffer(WORDS * Int32Array.BYTES_PER_ELEMENT);
}

/** Sets the shared clock to `nowMs` (the supervisor's monotonic clock). */
export function setTick(tick: SharedArrayBuffer, nowMs: number): void {
  Atomics.store(new Int32Array(tick), 0, Math.floor(nowMs) | 0);
}

/** A clock that reads the shared tick: what outboxes stamp with inside a worker. */
export function tickClock(tick: SharedArrayBuffer): () => number {
  const word = new Int32Array(tick);
  return () => Atomics.load(word, 0);
}

/** Milliseconds from `stamp` to `now`, both int32 clock readings; 0 if the stamp is ahead (a stale tick). */
export function ageMs(now: number, stamp: number): number {
  const d = ((now | 0) - (stamp | 0)) | 0;
  return Math.max(d, 0);
}

/** What the supervisor reads of one actor in a watch round. */
export interface ProgressReading {
  /** Messages handled so far (the actor slot's PROCESSED word). */
  processed: number;
  /** Messages sent to the actor and not yet acknowledged, over all its inbound edges. */
  waiting: number;
  /** Age of the oldest of them (0 when none waits). */
  oldestAgeMs: number;
  /** The actor is waiting for credit on one of its own outbound edges (held up downstream). */
  blocked: boolean;
}

/** The supervisor's memory of one actor between rounds. */
export interface ProgressWatch {
  processed: number;
  /** When (supervisor clock) the actor was last seen handling something, or with nothing to handle. */
  progressAt: number;
}

export type Verdict =
  | { kind: "ok" }
  /** Held up by a stuck or slow downstream actor: reported, never restarted (the downstream one is). */
  | { kind: "blocked"; stalledMs: number }
  | { kind: "stuck"; stalledMs: number; waiting: number; oldestAgeMs: number };

/**
 * One watch round for one actor. Stuck means: messages have waited for it, and it has finished none of
 * them, for `stuckAfterMs` or longer, and it is not merely waiting for credit downstream. The clock is the
 * supervisor's own, so nothing here depends on the worker's time or on it answering.
 */
export function judge(
  watch: ProgressWatch,
  reading: ProgressReading,
  now: number,
  stuckAfterMs: number,
): { watch: ProgressWatch; verdict: Verdict } {
  if (reading.processed !== watch.processed || reading.waiting === 0)
    return { watch: { processed: reading.processed, progressAt: now }, verdict: { kind: "ok" } };
  const stalledMs = now - watch.progressAt;
  if (stalledMs < stuckAfterMs) return { watch, verdict: { kind: "ok" } };
  if (reading.blocked) return { watch, verdict: { kind: "blocked", stalledMs } };
  return {
    watch,
    verdict: { kind: "stuck", stalledMs, waiting: reading.waiting, oldestAgeMs: reading.oldestAgeMs },
  };
}

/** How often the supervisor runs a watch round: a tenth of the bound, between 10 ms and 1 s. */
export function watchIntervalMs(stuckAfterMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(stuckAfterMs / 10)));
}
