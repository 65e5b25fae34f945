/**
 * Continuity across connections: which state changes to forward so that, within one process, every change
 * HA emitted is forwarded exactly once even though the connect snapshot, the gap backfill and live events
 * overlap. Across process restarts the store's (entity_id, last_updated) key removes what overlaps.
 *
 * Invariants: HA sends every change once per connection, and everything fired after `subscribe_events` is
 * answered arrives live, before any later answer. A gap opens at a reconnect and closes only when its
 * backfill completed (including the recorder's uncommitted tail, see backfill.ts), so a drop during a
 * backfill loses nothing.
 *
 * `last_updated` is HA's wall clock, which can step backwards (NTP, VM restore): a live change older than
 * its entity's newest is still a new change and is forwarded (counted as out of order); only an equal key
 * is a duplicate. Every change not forwarded is reported with its reason (`events_skipped_total`).
 */
import type { StateChange } from "../../runtime/events/messages.ts";
import type { SkipReason } from "./attributes.ts";

/** What Continuity reports besides what it forwards (the session counts these in metrics). */
export interface ContinuityEvents {
  skipped(reason: SkipReason, change: StateChange): void;
  /** A live change older than the newest of its entity (HA's clock stepped back); it was forwarded. */
  outOfOrder(change: StateChange, newestUs: number): void;
}

const ignore: ContinuityEvents = { skipped() {}, outOfOrder() {} };

/** A gap that is not yet backfilled; it stays open across reconnects until a backfill completes. */
interface OpenGap {
  /** Newest last_updated forwarded before the gap (µs), or null if there was none this process. */
  startUs: number | null;
  /** Per-entity newest forwarded when the gap opened: catch-up rows at or before it are old. */
  frozen: Map<string, number>;
  /** Per entity, the live stretches forwarded since the gap opened: [oldest, newest, connection]. */
  live: Map<string, [number, number, number][]>;
  /** Per entity, the newest backfill row forwarded (backfill windows go forward in time). */
  filled: Map<string, number>;
  /** Snapshot rows forwarded since the gap opened (at most one per entity per connection). */
  snapshot: Set<string>;
  /** The highest last_updated seen before HA's clock stepped back, while the new clock is below it. */
  stepHighUs: number | null;
}

export class Continuity {
  /** Newest last_updated forwarded per entity during this process. */
  private readonly newest = new Map<string, number>();
  private gap: OpenGap | null = null;
  private connection = 0;
  /** Newest last_updated this process has forwarded (µs; after a clock step, the newest since), or null. */
  newestForwardedUs: number | null = null;
  /** last_updated of the last live change forwarded: HA's clock as it now runs (it may have stepped). */
  newestLiveUs: number | null = null;
  /** The highest last_updated seen before HA's clock last stepped back, until the clock passes it again. */
  private stepHighUs: number | null = null;
  /**
   * The oldest last_updated of the first live batch on this connection (HA's clock right after the
   * subscriptions), or null until one came: every change HA stamps after it reaches us live.
   */
  private connectionLiveFromUs: number | null = null;
  private readonly events: ContinuityEvents;

  constructor(events: ContinuityEvents = ignore) {
    this.events = events;
  }

  /** A new connection. Opens a gap unless one is still open from an earlier, unfinished backfill. */
  connected(): void {
    this.connection++;
    this.connectionLiveFromUs = null;
    if (this.gap) {
      // The first connection died before its setup finished: the gap now starts at what it forwarded live.
      if (this.gap.startUs === null) this.gap.startUs = this.newestForwardedUs;
      return;
    }
    this.gap = {
      startUs: this.newestForwardedUs,
      frozen: new Map(this.newest),
      live: new Map(),
      filled: new Map(),
      snapshot: new Set(),
      stepHighUs: this.stepHighUs,
    };
  }

  /**
   * From where (µs, HA's clock) this connection's live stream covers every change HA stamps, or null
   * while no live change has come on it: the first live batch's oldest stamp, raised to the highest stamp
   * seen before a clock step back (changes up to there may predate the subscriptions).
   */
  get liveCoversFromUs(): number | null {
    const from = this.connectionLiveFromUs;
    if (from === null) return null;
    const high = this.gap?.stepHighUs ?? this.stepHighUs;
    return high !== null && high > from ? high : from;
  }

  /**
   * HA's clock right after this connection's subscriptions (µs): the oldest stamp of its first live batch,
   * not raised after a clock step as `liveCoversFromUs` is; null while no live change has come on it.
   */
  get liveBeganUs(): number | null {
    return this.connectionLiveFromUs;
  }

  /** Where the open gap starts (µs): the newest change forwarded before it, or null (first connection). */
  get gapStartUs(): number | null {
    return this.gap?.startUs ?? null;
  }

  /** The gap has been backfilled completely. */
  gapClosed(): void {
    this.gap = null;
    if (this.stepHighUs !== null && this.newestLiveUs !== null && this.newestLiveUs > this.stepHighUs)
      this.stepHighUs = null;
  }

  /**
   * Live events: forwards each unless its exact key was the entity's newest forwarded (a snapshot or
   * backfill that reached it). An older one is a clock step back: forwarded, and the entity's newest
   * follows HA's clock down so the next gap starts where HA now is.
   */
  live(changes: StateChange[]): StateChange[] {
    const out: StateChange[] = [];
    const gap = this.gap;
    if (this.connectionLiveFromUs === null && changes.length > 0) {
      let from = changes[0].last_updated;
      for (const c of changes) if (c.last_updated < from) from = c.last_updated;
      this.connectionLiveFromUs = from;
    }
    for (const c of changes) {
      const id = c.entity_id;
      const lu = c.last_updated;
      if (gap) {
        let stretches = gap.live.get(id);
        if (!stretches) {
          stretches = [];
          gap.live.set(id, stretches);
        }
        const last = stretches[stretches.length - 1];
        if (last && last[2] === this.connection) {
          if (lu < last[0]) last[0] = lu;
          if (lu > last[1]) last[1] = lu;
        } else stretches.push([lu, lu, this.connection]);
      }
      const prev = this.newest.get(id);
      if (prev === lu) {
        this.events.skipped("duplicate", c);
        continue;
      }
      if (prev !== undefined && lu < prev) {
        this.events.outOfOrder(c, prev);
        if (this.stepHighUs === null || prev > this.stepHighUs) this.stepHighUs = prev;
        if (gap && (gap.stepHighUs === null || prev > gap.stepHighUs)) gap.stepHighUs = prev;
        this.newestForwardedUs = lu;
      } else if (this.newestForwardedUs === null || lu > this.newestForwardedUs) this.newestForwardedUs = lu;
      this.newest.set(id, lu);
      this.newestLiveUs = lu;
      out.push(c);
    }
    return out;
  }

  /** Snapshot or backfill rows: forwards those inside the gap that no live event or earlier row covered. */
  catchUp(changes: StateChange[], kind: "snapshot" | "backfill"): StateChange[] {
    const out: StateChange[] = [];
    const gap = this.gap;
    for (const c of changes) {
      const id = c.entity_id;
      const lu = c.last_updated;
      if (gap) {
        // Never above where the gap starts: after HA's clock stepped back, an entity's newest can lie in
        // the future of the new clock, and its changes in the gap are below it but new.
        const frozen = gap.frozen.get(id);
        const before =
          frozen !== undefined && gap.startUs !== null && frozen > gap.startUs ? gap.startUs : frozen;
        if (before !== undefined && lu <= before) {
          this.events.skipped("before_gap", c);
          continue;
        }
        if (this.coveredLive(gap, id, lu)) {
          this.events.skipped("live_covered", c);
          continue;
        }
        const key = `${id}@${lu}`;
        // Between the gap's start and the pre-step high, HA's clock ran twice: a row there may be one
        // forwarded before the step or a new one, and backfill rows are no longer in time order. Forward
        // (the store keeps each (entity_id, last_updated) once) rather than lose; `filled` stays clean.
        const ambiguous =
          gap.stepHighUs !== null && lu <= gap.stepHighUs && (gap.startUs === null || lu > gap.startUs);
        const filled = ambiguous ? undefined : gap.filled.get(id);
        if (gap.snapshot.has(key) || (filled !== undefined && lu <= filled)) {
          this.events.skipped("duplicate", c);
          continue;
        }
        if (kind === "snapshot") gap.snapshot.add(key);
        else if (!ambiguous) gap.filled.set(id, lu);
      } else {
        // No gap: the stream has been continuous, so only something newer than what was forwarded is new.
        const prev = this.newest.get(id);
        if (prev !== undefined && lu <= prev) {
          this.events.skipped("live_covered", c);
          continue;
        }
      }
      const prev = this.newest.get(id);
      if (prev === undefined || lu > prev) this.newest.set(id, lu);
      if (this.newestForwardedUs === null || lu > this.newestForwardedUs) this.newestForwardedUs = lu;
      out.push(c);
    }
    return out;
  }

  /** Whether a live stream already forwarded this change: inside a past stretch, or after the current one began. */
  private coveredLive(gap: OpenGap, id: string, lu: number): boolean {
    const stretches = gap.live.get(id);
    if (!stretches) return false;
    for (const [first, last, conn] of stretches) {
      if (lu < first) continue;
      if (lu <= last || conn === this.connection) return true;
    }
    return false;
  }

  /** An entity was renamed: its continuity moves to the new id. */
  rename(from: string, to: string): void {
    const maps: Map<string, unknown>[] = [this.newest];
    if (this.gap) maps.push(this.gap.frozen, this.gap.live, this.gap.filled);
    for (const map of maps) {
      const v = map.get(from);
      if (v === undefined) continue;
      map.delete(from);
      map.set(to, v);
    }
  }

  /** Entity ids seen so far (history requests must name entities). */
  entityIds(): string[] {
    return [...this.newest.keys()];
  }
}

/**
 * Where a gap backfill starts (µs), or null for none. After a reconnect it is the newest live event this
 * process forwarded; after a process restart, the newest stored event. Either way minus a margin, and no
 * further back than `maxMs`.
 */
export function backfillStart(opts: {
  gapStartUs: number | null;
  newestStoredUs: number | null;
  reconnectMarginMs: number;
  restartMarginMs: number;
  maxMs: number;
  nowMs: number;
}): { startUs: number; clamped: boolean } | null {
  let start: number;
  if (opts.gapStartUs !== null) start = opts.gapStartUs - opts.reconnectMarginMs * 1000;
  else if (opts.newestStoredUs !== null) start = opts.newestStoredUs - opts.restartMarginMs * 1000;
  else return null;
  const floor = (opts.nowMs - opts.maxMs) * 1000;
  return start < floor ? { startUs: floor, clamped: true } : { startUs: start, clamped: false };
}

/** Rough size of one history row with attributes (bytes), to size windows before any answer came. */
export const HISTORY_ROW_BYTES = 256;
/** The smallest window (µs): at Home Assistant's rates one ms never holds a frame's worth. */
export const MIN_WINDOW_US = 1000;

/**
 * How long (µs) the first history window of a backfill is: a probe of about a quarter of `targetRows` at
 * the live rate last seen, never longer than `maxUs`. A quarter, because the gap is usually denser than
 * what HomeIQ read live: HA drops a client precisely when it sends faster than that. Without a rate (first
 * connection of the process) it is `FIRST_WINDOW_WITHOUT_RATE_US`. The answers size the windows that follow
 * (`nextWindowUs`): each answer is parsed whole, so one far past `targetRows` is memory spent at once.
 */
export function firstWindowUs(maxUs: number, ratePerS: number | null, targetRows: number): number {
  if (!ratePerS || ratePerS <= 0) return Math.min(maxUs, FIRST_WINDOW_WITHOUT_RATE_US);
  return Math.max(MIN_WINDOW_US, Math.min(maxUs, Math.floor((targetRows / 4 / ratePerS) * 1e6)));
}

/** The first window when no live rate is known: 1 s (doubling reaches 5 min in 9 answers). */
export const FIRST_WINDOW_WITHOUT_RATE_US = 1_000_000;

/**
 * The next window after an answer of `rows`: shrunk in proportion after a large one (so the next brings
 * about `targetRows`), doubled after a small one.
 */
export function nextWindowUs(currentUs: number, rows: number, targetRows: number, maxUs: number): number {
  if (rows > targetRows) return Math.max(MIN_WINDOW_US, Math.floor((currentUs * targetRows) / rows));
  if (rows < targetRows / 4) return Math.min(maxUs, currentUs * 2);
  return currentUs;
}

/** The close code of a frame larger than the peer takes (RFC 6455 "message too big": aiohttp, proxies). */
export const CLOSE_MESSAGE_TOO_BIG = 1009;
/**
 * A history answer expected at this share of `ha.maxFrameBytes` or more (2 MiB by default, what a window
 * of `ha.backfillWindowRows` brings) is large enough that reading it may have cost the socket: at HA's
 * full rate its queue fills behind a frame that takes tens of ms to read.
 */
export const LARGE_ANSWER_SHARE = 1 / 8;

/** A history request the connection went away during: the range it asked for and what it expected. */
export interface InterruptedWindow {
  startUs: number;
  /** Infinity for an open-ended request. */
  endUs: number;
  /** The peer's close code, or null when we closed the socket (timeout, resync, pause). */
  closeCode: number | null;
  /** The answer's expected size from the density of earlier answers (or the live rate), null if unknown. */
  expectedBytes: number | null;
}

/**
 * Whether the connection plausibly went because of the awaited answer's size, so that later windows must
 * be smaller. HA also closes a client that falls 4,096 messages behind (code 1000), at its full rate every
 * few seconds whatever the backfill asks: halving then only multiplies round trips (issue 23: windows of
 * ~200 rows after ten such closes). Blamed: a close for a too-large message; an answer expected large
 * (`LARGE_ANSWER_SHARE`); or a second death over the same stretch of history as the previous one in this
 * gap — whatever the close says, a window that kills the socket each time it is read must shrink.
 */
export function answerSizeBlamed(
  w: InterruptedWindow,
  previous: InterruptedWindow | null,
  maxFrameBytes: number,
): boolean {
  if (w.closeCode === CLOSE_MESSAGE_TOO_BIG) return true;
  if (w.expectedBytes !== null && w.expectedBytes >= maxFrameBytes * LARGE_ANSWER_SHARE) return true;
  return previous !== null && w.startUs < previous.endUs && previous.startUs < w.endUs;
}
