/**
 * Continuity across connections: which state changes to forward so that, within one process, every change
 * HA emitted is forwarded exactly once even though the connect snapshot, the gap backfill and live events
 * overlap. Across process restarts the store's (entity_id, last_updated) key removes what overlaps.
 *
 * Invariants (HA guarantees them; the simulator too): live events of one entity arrive in last_updated
 * order, and everything fired after `subscribe_events` is answered arrives live.
 */
import type { StateChange } from "../batcher/messages.ts";

export class Continuity {
  /** Newest last_updated forwarded per entity during this process. */
  private readonly newest = new Map<string, number>();
  /** `newest` as it was when the current connection was made (what the gap starts after). */
  private frozen = new Map<string, number>();
  /** First live last_updated per entity on the current connection (where the gap ends). */
  private firstLive = new Map<string, number>();
  /** Keys forwarded by snapshot/backfill on the current connection (bounded by the gap's size). */
  private caughtUp = new Set<string>();
  /** Newest last_updated of any live event this process has forwarded (µs), or null. */
  newestLiveUs: number | null = null;

  /** A new connection: the gap starts after what has been forwarded so far. */
  connected(): void {
    this.frozen = new Map(this.newest);
    this.firstLive = new Map();
    this.caughtUp = new Set();
  }

  /** Live events: forwards each unless it was already forwarded (by a backfill that reached past it). */
  live(changes: StateChange[]): StateChange[] {
    const out: StateChange[] = [];
    for (const c of changes) {
      const id = c.entity_id;
      const lu = c.last_updated;
      if (!this.firstLive.has(id)) this.firstLive.set(id, lu);
      const prev = this.newest.get(id);
      if (prev !== undefined && lu <= prev) continue;
      this.newest.set(id, lu);
      if (this.newestLiveUs === null || lu > this.newestLiveUs) this.newestLiveUs = lu;
      out.push(c);
    }
    return out;
  }

  /** Snapshot or backfill rows: forwards those inside the gap (after `frozen`, before the first live one). */
  catchUp(changes: StateChange[]): StateChange[] {
    const out: StateChange[] = [];
    for (const c of changes) {
      const id = c.entity_id;
      const lu = c.last_updated;
      const before = this.frozen.get(id);
      if (before !== undefined && lu <= before) continue;
      const live = this.firstLive.get(id);
      if (live !== undefined && lu >= live) continue;
      const key = `${id}@${lu}`;
      if (this.caughtUp.has(key)) continue;
      this.caughtUp.add(key);
      const prev = this.newest.get(id);
      if (prev === undefined || lu > prev) this.newest.set(id, lu);
      out.push(c);
    }
    return out;
  }

  /** An entity was renamed: its continuity moves to the new id. */
  rename(from: string, to: string): void {
    for (const map of [this.newest, this.frozen, this.firstLive]) {
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
  newestLiveUs: number | null;
  newestStoredUs: number | null;
  reconnectMarginMs: number;
  restartMarginMs: number;
  maxMs: number;
  nowMs: number;
}): { startUs: number; clamped: boolean } | null {
  let start: number;
  if (opts.newestLiveUs !== null) start = opts.newestLiveUs - opts.reconnectMarginMs * 1000;
  else if (opts.newestStoredUs !== null) start = opts.newestStoredUs - opts.restartMarginMs * 1000;
  else return null;
  const floor = (opts.nowMs - opts.maxMs) * 1000;
  return start < floor ? { startUs: floor, clamped: true } : { startUs: start, clamped: false };
}

/** Splits [startUs, endUs) into windows of at most `windowMs`. */
export function backfillWindows(startUs: number, endUs: number, windowMs: number): [number, number][] {
  const out: [number, number][] = [];
  const step = Math.max(1, windowMs * 1000);
  for (let s = startUs; s < endUs; s += step) out.push([s, Math.min(endUs, s + step)]);
  return out;
}
