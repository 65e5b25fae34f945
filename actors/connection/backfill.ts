/**
 * Filling a gap from Home Assistant's history (`history/history_during_period`), window by window.
 *
 * Each answer is one frame, parsed whole, so windows are sized to bring about `ha.backfillWindowRows` rows
 * (and at most a quarter of `ha.maxFrameBytes`): the first, a probe, from the live rate last seen, later
 * ones from the answers (doubling after small ones, shrunk in proportion after large ones). A window whose
 * answer is refused as too large is asked again in halves. A socket that dies while an answer is on its way
 * halves the window and caps its growth for the next connections, until the gap is closed — when the
 * answer's size plausibly killed it (`answerSizeBlamed`: a 1009 close, a large expected answer, or a second
 * death over the same stretch), not when HA closed a slow client on a small window (issue 23).
 * Rows go through `Continuity`, so overlap with live changes and snapshots is forwarded once.
 *
 * HA answers history from its database, which sees only what the recorder has committed: every
 * `commit_interval` (5 s by default, 30 s advised on SD cards), later when its queue backs up. A pass right
 * after a reconnect misses the changes of the last interval before it, which for a short gap is nearly all
 * of them. So the gap closes only after a later pass over that tail, `ha.backfillSettleMs` after the first,
 * finds nothing new (HA's own `history/stream` re-queries after a recorder sync for the same reason).
 *
 * HA's bounds are exclusive (`last_updated_ts > start` and `< end`): each window asks for 1 µs more on
 * both sides, so a row on a boundary is not skipped by both neighbours; the overlap is deduplicated.
 */
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { KnownAttributes } from "./attributes.ts";
import { historyToChanges } from "./frames.ts";
import {
  answerSizeBlamed,
  backfillStart,
  type Continuity,
  firstWindowUs,
  HISTORY_ROW_BYTES,
  type InterruptedWindow,
  MIN_WINDOW_US,
  nextWindowUs,
} from "./logic.ts";
import { RequestError } from "./request-error.ts";
import type { SessionSink } from "./sink.ts";
import { isoFromUs } from "./time.ts";

export interface BackfillRun {
  /** Sends a command on the current connection and resolves with its result. */
  request(type: string, fields: Record<string, unknown>): Promise<unknown>;
  /** False once the connection this run belongs to is gone. */
  current(): boolean;
  /** Resolves after `ms` on the session's clock (never, once the connection is gone). */
  sleep(ms: number): Promise<void>;
  continuity: Continuity;
  sink: SessionSink;
  ha: HomeIQConfig["ha"];
  /** Now on the session's clock (ms); read at the start and before each settle pass. */
  nowMs(): number;
  /** The newest stored change when the process started (µs), for the restart backfill. */
  storedAtStartUs: number | null;
  /** Entities to ask about (history requests must name them). */
  entityIds: string[];
  /** Live changes per second on the last connection, or null. */
  liveRate: number | null;
  /** The entity's attributes live before and after the gap (completes what the recorder strips). */
  knownAttributes(entityId: string): KnownAttributes | undefined;
}

/** Keeps the window the answers have settled on across connections; one per session. */
export class Backfiller {
  private window: number | null = null;
  private ceiling = Number.POSITIVE_INFINITY;
  /** History rows per µs in the last answer of a bounded window (the gap's density), null before one. */
  private rowsPerUs: number | null = null;
  /** The request the last disconnect of this gap interrupted. */
  private interrupted: InterruptedWindow | null = null;

  /** Fills the open gap; rejects (the gap stays open) when HA refuses or the connection goes. */
  async run(r: BackfillRun): Promise<void> {
    const subscribedMs = r.nowMs();
    const plan = backfillStart({
      gapStartUs: r.continuity.gapStartUs,
      newestStoredUs: r.storedAtStartUs,
      reconnectMarginMs: r.ha.reconnectBackfillMarginMs,
      restartMarginMs: r.ha.backfillMarginMs,
      maxMs: r.ha.backfillMaxMs,
      nowMs: subscribedMs,
    });
    if (!plan || r.entityIds.length === 0) {
      r.continuity.gapClosed();
      return;
    }
    if (plan.clamped)
      r.sink.log("warn", "gap is longer than ha.backfillMaxMs; backfilling only the most recent part", {
        backfillMaxMs: r.ha.backfillMaxMs,
      });
    const endUs = subscribedMs * 1000;
    let rows = await this.pass(r, plan.startUs, endUs, true);
    if (rows === null) return;
    // The recorder's tail: what was not committed when the first pass ran. Live changes cover everything
    // after the subscriptions (up to a clock-skew margin past them), so the tail ends there.
    // HA's clock at the subscriptions: where this connection's live stream began (the newest live change
    // is HA's clock after the first pass, which at HA's full rate re-reads all of that pass's time again).
    // After HA's clock stepped back, where live covers from is raised to the pre-step high, which lies
    // after the gap's tail on HA's new clock: the tail starts from where live began.
    const settle = tailPassRange(
      plan.startUs,
      endUs,
      r.continuity.liveBeganUs ?? r.continuity.newestLiveUs,
      r.ha,
      r.continuity.liveCoversFromUs ?? r.continuity.newestLiveUs,
    );
    let passes = 1;
    while (settle) {
      await r.sleep(r.ha.backfillSettleMs);
      if (!r.current()) return;
      const more = await this.pass(r, settle.startUs, settle.endUs, false);
      if (more === null) return;
      passes++;
      rows += more;
      if (more === 0) break;
    }
    r.continuity.gapClosed();
    this.window = null;
    this.ceiling = Number.POSITIVE_INFINITY;
    this.rowsPerUs = null;
    this.interrupted = null;
    r.sink.log("info", "gap backfilled", { fromUs: plan.startUs, toUs: endUs, forwarded: rows, passes });
  }

  /**
   * One pass over [startUs, endUs] in windows; the last window is open-ended when `openEnd`, unless this
   * connection's live stream has begun by then: the pass then ends where live covers (plus the reconnect
   * margin for HA's clock), in windows like the rest. An open end returns everything HA stamped since, all
   * of it already read live: at HA's full rate, after a long pass, tens of MB in one frame (issue 23).
   * Returns the rows forwarded, or null when the connection went while an answer was awaited.
   */
  private async pass(
    r: BackfillRun,
    startUs: number,
    passEndUs: number,
    openEndAsked: boolean,
  ): Promise<number | null> {
    let endUs = passEndUs;
    let openEnd = openEndAsked;
    // Each answer is one frame held whole as text and then as parsed rows: bounded by rows (the memory)
    // and by a quarter of ha.maxFrameBytes (an answer over it is refused and asked again in halves).
    const targetRows = Math.max(
      1,
      Math.min(r.ha.backfillWindowRows, Math.floor(r.ha.maxFrameBytes / 4 / HISTORY_ROW_BYTES)),
    );
    const maxUs = Math.min(r.ha.backfillWindowMs * 1000, this.ceiling);
    let windowUs = Math.min(maxUs, this.window ?? firstWindowUs(maxUs, r.liveRate, targetRows));
    let start = startUs;
    let rows = 0;
    while (start < endUs) {
      if (openEnd) {
        const liveFrom = r.continuity.liveCoversFromUs;
        if (liveFrom !== null) {
          openEnd = false;
          endUs = Math.max(endUs, liveFrom + r.ha.reconnectBackfillMarginMs * 1000);
        }
      }
      const end = Math.min(endUs, start + windowUs);
      const last = end >= endUs;
      let result: unknown;
      try {
        result = await r.request("history/history_during_period", {
          // HA's bounds are exclusive: one µs wider on each side (the overlap is deduplicated).
          start_time: isoFromUs(start - 1),
          // Open-ended (no live change yet on this connection): HA answers up to its own "now".
          ...(last && openEnd ? {} : { end_time: isoFromUs(end + 1) }),
          entity_ids: r.entityIds,
          include_start_time_state: false,
          significant_changes_only: false,
          minimal_response: false,
          no_attributes: false,
        });
      } catch (e) {
        if (e instanceof RequestError && e.code === "too_large" && windowUs > MIN_WINDOW_US) {
          windowUs = Math.max(MIN_WINDOW_US, Math.floor(windowUs / 2));
          continue;
        }
        if (e instanceof RequestError && e.code === "disconnected")
          this.disconnected(r, e, start, last && openEnd ? Number.POSITIVE_INFINITY : end, windowUs);
        throw e;
      }
      if (!r.current()) return null;
      const { changes, rejected, skipped } = historyToChanges(result, {
        maxDepth: r.ha.maxAttributeDepth,
        known: r.knownAttributes,
      });
      for (const x of rejected) r.sink.rejected(x);
      for (const reason of skipped) r.sink.skipped(reason, 1);
      changes.sort((a, b) => a.last_updated - b.last_updated);
      const fresh = r.continuity.catchUp(changes, "backfill");
      rows += fresh.length;
      if (fresh.length > 0) r.sink.changes("backfill", fresh);
      if (!(last && openEnd)) this.rowsPerUs = changes.length / (end - start);
      start = end;
      windowUs = nextWindowUs(windowUs, changes.length, targetRows, maxUs);
      this.window = windowUs;
    }
    return rows;
  }

  /**
   * The connection went while the answer to [startUs, endUs] was awaited. When its size plausibly killed
   * the socket, the window halves and its growth is capped until the gap is closed; otherwise (HA closed
   * a slow client, we paused) the window the answers settled on is kept.
   */
  private disconnected(
    r: BackfillRun,
    e: RequestError,
    startUs: number,
    endUs: number,
    windowUs: number,
  ): void {
    // The gap's density from the answers so far; before any, the probe's guess (firstWindowUs: a gap
    // four times as dense as the live rate).
    const density = this.rowsPerUs ?? (r.liveRate ? (r.liveRate * 4) / 1e6 : null);
    const spanUs = Number.isFinite(endUs) ? endUs - startUs : Math.max(windowUs, r.nowMs() * 1000 - startUs);
    const w: InterruptedWindow = {
      startUs,
      endUs,
      closeCode: e.closeCode,
      expectedBytes: density === null ? null : density * spanUs * HISTORY_ROW_BYTES,
    };
    const blamed = answerSizeBlamed(w, this.interrupted, r.ha.maxFrameBytes);
    this.interrupted = w;
    if (!blamed) {
      this.window = windowUs;
      return;
    }
    this.window = Math.max(MIN_WINDOW_US, Math.floor(windowUs / 2));
    this.ceiling = this.window;
    r.sink.log("warn", "the connection went during a history answer that may be too large; smaller windows", {
      windowMs: windowUs / 1000,
      nextWindowMs: this.window / 1000,
      closeCode: e.closeCode,
      expectedBytes: w.expectedBytes === null ? null : Math.round(w.expectedBytes),
    });
  }
}

/**
 * The range the settle passes re-read: from `ha.backfillSettleMs` (and the reconnect margin) before the
 * subscriptions to the reconnect margin after them, never before the gap; null when settling is off.
 * "The subscriptions" is taken on both clocks, ours and HA's (where the live stream began, at HA's now):
 * HA's stamps are its wall clock, which may be off ours or have stepped. `haCoversUs` (default
 * `haNowUs`) is where live covers from, higher than HA's now after a step back: the range ends after it.
 */
export function tailPassRange(
  gapStartUs: number,
  subscribedUs: number,
  haNowUs: number | null,
  ha: Pick<HomeIQConfig["ha"], "backfillSettleMs" | "reconnectBackfillMarginMs">,
  haCoversUs: number | null = haNowUs,
): { startUs: number; endUs: number } | null {
  if (ha.backfillSettleMs <= 0) return null;
  const margin = ha.reconnectBackfillMarginMs * 1000;
  const early = haNowUs === null ? subscribedUs : Math.min(subscribedUs, haNowUs);
  const late = Math.max(subscribedUs, haNowUs ?? subscribedUs, haCoversUs ?? subscribedUs);
  return {
    startUs: Math.max(gapStartUs, early - ha.backfillSettleMs * 1000 - margin),
    endUs: late + margin,
  };
}
