/**
 * Filling a gap from Home Assistant's history (`history/history_during_period`), window by window.
 *
 * Each answer is one frame, so windows are sized to bring about a quarter of `ha.maxFrameBytes`: the first
 * from the live rate last seen, later ones from the answers (doubling after small ones, halving after
 * large ones). A window whose answer is refused as too large is asked again in halves; a socket that dies
 * while an answer is on its way halves the window and caps its growth for the next connections, until a
 * gap is closed. Rows go through `Continuity`, so overlap with live changes and snapshots is forwarded once.
 */
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import { historyToChanges } from "./frames.ts";
import {
  backfillStart,
  type Continuity,
  firstWindowUs,
  HISTORY_ROW_BYTES,
  MIN_WINDOW_US,
  nextWindowUs,
} from "./logic.ts";
import { RequestError } from "./request-error.ts";
import type { SessionSink } from "./session.ts";
import { isoFromUs } from "./time.ts";

export interface BackfillRun {
  /** Sends a command on the current connection and resolves with its result. */
  request(type: string, fields: Record<string, unknown>): Promise<unknown>;
  /** False once the connection this run belongs to is gone. */
  current(): boolean;
  continuity: Continuity;
  sink: SessionSink;
  ha: HomeIQConfig["ha"];
  nowMs: number;
  /** The newest stored change when the process started (µs), for the restart backfill. */
  storedAtStartUs: number | null;
  /** Entities to ask about (history requests must name them). */
  entityIds: string[];
  /** Live changes per second on the last connection, or null. */
  liveRate: number | null;
}

/** Keeps the window the answers have settled on across connections; one per session. */
export class Backfiller {
  private window: number | null = null;
  private ceiling = Number.POSITIVE_INFINITY;

  /** Fills the open gap; rejects (the gap stays open) when HA refuses or the connection goes. */
  async run(r: BackfillRun): Promise<void> {
    const plan = backfillStart({
      gapStartUs: r.continuity.gapStartUs,
      newestStoredUs: r.storedAtStartUs,
      reconnectMarginMs: r.ha.reconnectBackfillMarginMs,
      restartMarginMs: r.ha.backfillMarginMs,
      maxMs: r.ha.backfillMaxMs,
      nowMs: r.nowMs,
    });
    if (!plan || r.entityIds.length === 0) {
      r.continuity.gapClosed();
      return;
    }
    if (plan.clamped)
      r.sink.log("warn", "gap is longer than ha.backfillMaxMs; backfilling only the most recent part", {
        backfillMaxMs: r.ha.backfillMaxMs,
      });
    const endUs = r.nowMs * 1000;
    const targetRows = Math.max(1, Math.floor(r.ha.maxFrameBytes / 4 / HISTORY_ROW_BYTES));
    const maxUs = Math.min(r.ha.backfillWindowMs * 1000, this.ceiling);
    let windowUs = Math.min(maxUs, this.window ?? firstWindowUs(maxUs, r.liveRate, targetRows));
    let start = plan.startUs;
    let rows = 0;
    while (start < endUs) {
      const end = Math.min(endUs, start + windowUs);
      const last = end >= endUs;
      let result: unknown;
      try {
        result = await r.request("history/history_during_period", {
          start_time: isoFromUs(start),
          // The last window is open-ended: HA answers up to its own "now", which overlaps live events.
          ...(last ? {} : { end_time: isoFromUs(end) }),
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
        if (e instanceof RequestError && e.code === "disconnected") {
          this.window = Math.max(MIN_WINDOW_US, Math.floor(windowUs / 2));
          this.ceiling = this.window;
        }
        throw e;
      }
      if (!r.current()) return;
      const { changes, rejected } = historyToChanges(result);
      for (const x of rejected) r.sink.rejected(x);
      changes.sort((a, b) => a.last_updated - b.last_updated);
      const fresh = r.continuity.catchUp(changes, "backfill");
      rows += fresh.length;
      if (fresh.length > 0) r.sink.changes("backfill", fresh);
      start = end;
      windowUs = nextWindowUs(windowUs, changes.length, targetRows, maxUs);
      this.window = windowUs;
    }
    r.continuity.gapClosed();
    this.window = null;
    this.ceiling = Number.POSITIVE_INFINITY;
    r.sink.log("info", "gap backfilled", { fromUs: plan.startUs, toUs: endUs, forwarded: rows });
  }
}
