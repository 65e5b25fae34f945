/**
 * Entity health folded in as rows arrive, in memory bounded by entities, not rows: per entity a few scalars
 * of its newest rows, hourly counts (rows, state changes, the first row's time), a gap histogram per day,
 * and the newest `changesKept` state-change times. A week of a 1,000/s home is ~600 million rows; the
 * exact fold (./fold.ts) held 9 bytes of each.
 *
 * What it gives up, against a full read of the window (analyses.ts healthReport):
 * - Gap quantiles (p50, p90: the usual interval) come from log-spaced bins: within 1% of the exact value.
 * - The window's front edge moves by whole hours for counts and the first row's time, and by whole days
 *   for the gap histogram: rows up to an hour (a day) older than `from` still count until their slot ends.
 * - A flapping spell's start is at most as old as the oldest of the newest `changesKept` changes.
 * Everything else — the newest state and since when, battery runs, when the entity was last seen, which
 * entities are judged at all — is exact.
 *
 * Rows of one entity must come in time order; a row at or behind its entity's newest is refused (the
 * caller folds that entity again from the store). Pure: rows in, facts out; no I/O.
 */
import { domainOf } from "../../runtime/store/insights/types.ts";
import type { WindowRow } from "../../runtime/store/insights-reader.ts";
import { ByEntity } from "./by-entity.ts";
import type { HealthFacts } from "./health.ts";
import { MEASURING } from "./health.ts";
import { DayHistogram } from "./histogram.ts";
import { batteryLevel } from "./inputs.ts";

const HOUR = 3600_000;

export interface HealthFoldLimits {
  historyDays: number;
  lowBatteryPct: number;
  /** State-change times kept per entity for the flapping rule (its window and a spell's start). */
  changesKept: number;
}

/** One entity's health summary. */
export class EntityHealthFold {
  private newest = Number.NEGATIVE_INFINITY;
  private lastState = -2;
  private lastValue = Number.NaN;
  private lastText = "";
  private stateSince = Number.NaN;
  private level: number | null = null;
  private lowSince = Number.NaN;
  /** Ring of hourly slots: which hour each holds, and its rows, state changes and first row's time. */
  private readonly hour: Int32Array;
  private readonly rows: Uint32Array;
  private readonly changes: Uint32Array;
  private readonly first: Float64Array;
  /** Update gaps, per day. */
  private readonly gaps = new DayHistogram();
  /** The newest state changes' times (a ring), for entities the flapping rule reads. */
  private recent: Float64Array | null;
  private recentStart = 0;
  private recentLength = 0;

  constructor(
    readonly entityId: string,
    private readonly limits: HealthFoldLimits,
  ) {
    const slots = limits.historyDays * 24 + 2;
    this.hour = new Int32Array(slots).fill(-1);
    this.rows = new Uint32Array(slots);
    this.changes = new Uint32Array(slots);
    this.first = new Float64Array(slots);
    this.recent = MEASURING.has(domainOf(entityId)) ? null : new Float64Array(16);
  }

  /** Time of the newest row, or -Infinity. */
  get newestTs(): number {
    return this.newest;
  }

  /** Appends a row; false (and nothing changed) when it is not newer than the newest row. */
  push(row: WindowRow): boolean {
    const ts = row.ts;
    if (ts <= this.newest) return false;
    const first = this.newest === Number.NEGATIVE_INFINITY;
    // Numbers compare as their texts would: 0 and -0 print alike, and NaN equals NaN (as the store's columns).
    const same =
      !first &&
      row.state === this.lastState &&
      (row.state !== -1 || row.value === this.lastValue || Object.is(row.value, this.lastValue));
    const h = Math.floor(ts / HOUR);
    const slot = h % this.hour.length;
    if (this.hour[slot] !== h) {
      this.hour[slot] = h;
      this.rows[slot] = 0;
      this.changes[slot] = 0;
      this.first[slot] = ts;
    }
    this.rows[slot]++;
    if (!first) this.gaps.add(ts, ts - this.newest);
    if (!same) {
      this.stateSince = ts;
      this.lastText = row.stateText();
      if (!first) {
        this.changes[slot]++;
        this.remember(ts);
      }
    }
    const level = batteryLevel(row.attributes, Number.isNaN(row.value) ? null : row.value);
    if (level !== null && level <= this.limits.lowBatteryPct) {
      if (this.level === null || this.level > this.limits.lowBatteryPct) this.lowSince = ts;
    } else this.lowSince = Number.NaN;
    this.level = level;
    this.lastState = row.state;
    this.lastValue = row.value;
    this.newest = ts;
    return true;
  }

  /** Forgets what lies before the window's slots: past days' gaps and changes older than `from`. */
  trim(from: number): void {
    this.gaps.trim(from);
    while (this.recentLength && (this.recent as Float64Array)[this.recentStart] < from) {
      this.recentStart = (this.recentStart + 1) % (this.recent as Float64Array).length;
      this.recentLength--;
    }
  }

  /** The facts the judge reads (health.ts judgeFacts), over the window from `from`. */
  facts(from: number): HealthFacts {
    const fromHour = Math.floor(from / HOUR);
    let rows = 0;
    let changes = 0;
    let firstTs = Number.POSITIVE_INFINITY;
    for (let k = 0; k < this.hour.length; k++) {
      if (this.hour[k] < fromHour) continue;
      rows += this.rows[k];
      changes += this.changes[k];
      if (this.first[k] < firstTs) firstTs = this.first[k];
    }
    const gaps = this.gaps.since(from);
    const recent = this.recentChanges(firstTs);
    return {
      rows,
      firstTs,
      lastTs: this.newest,
      state: this.lastText,
      // A run or a spell starts no earlier than the window's first row, as in a read of the window.
      stateSince: Math.max(this.stateSince, firstTs),
      gaps: gaps.total,
      gapQuantile: (q) => gaps.quantile(q),
      changes,
      recentChanges: recent,
      battery: this.level,
      lowSince: Math.max(this.lowSince, firstTs),
    };
  }

  /** Bytes held (typed arrays' capacity, and ~40 bytes a histogram entry). */
  get bytes(): number {
    return (
      this.hour.byteLength +
      this.rows.byteLength +
      this.changes.byteLength +
      this.first.byteLength +
      (this.recent?.byteLength ?? 0) +
      this.gaps.entries * 40
    );
  }

  private remember(ts: number): void {
    let ring = this.recent;
    if (!ring) return;
    const cap = this.limits.changesKept;
    if (this.recentLength === ring.length && ring.length < cap) {
      const bigger = new Float64Array(Math.min(cap, ring.length * 2));
      for (let k = 0; k < this.recentLength; k++) bigger[k] = ring[(this.recentStart + k) % ring.length];
      this.recent = ring = bigger;
      this.recentStart = 0;
    }
    if (this.recentLength === ring.length) {
      // Full at the bound: the oldest change gives way.
      ring[this.recentStart] = ts;
      this.recentStart = (this.recentStart + 1) % ring.length;
    } else ring[(this.recentStart + this.recentLength++) % ring.length] = ts;
  }

  private recentChanges(from: number): Float64Array {
    const ring = this.recent;
    if (!ring) return new Float64Array(0);
    const out = new Float64Array(this.recentLength);
    let n = 0;
    for (let k = 0; k < this.recentLength; k++) {
      const t = ring[(this.recentStart + k) % ring.length];
      if (t >= from) out[n++] = t;
    }
    return out.subarray(0, n);
  }
}

/** Every entity's health summary, by the store's entity key; the fold FoldedHistory (./history.ts) keeps current. */
export class HealthFold {
  private readonly entities: ByEntity<EntityHealthFold>;

  constructor(private readonly limits: HealthFoldLimits) {
    this.entities = new ByEntity((id) => new EntityHealthFold(id, limits));
  }

  push(e: number, entityId: string, row: WindowRow): boolean {
    return this.entities.of(e, entityId).push(row);
  }

  /** Starts entity `e` afresh, before its rows are folded again from the store. */
  refold(e: number, entityId: string): void {
    this.entities.replace(e, new EntityHealthFold(entityId, this.limits));
  }

  drop(e: number): void {
    this.entities.delete(e);
  }

  clear(): void {
    this.entities.clear();
  }

  /** Forgets entities with no row at or after `from` (a read of the window would not see them) and old slots. */
  trim(from: number): void {
    this.entities.retain((fold) => {
      fold.trim(from);
      return fold.newestTs >= from;
    });
  }

  /** Entities in the store's key order (the order the full read visits them in). */
  each(): Iterable<EntityHealthFold> {
    return this.entities.each();
  }

  get size(): number {
    return this.entities.size;
  }

  usage(): { entities: number; bytes: number } {
    let bytes = 0;
    for (const f of this.entities.values()) bytes += f.bytes;
    return { entities: this.entities.size, bytes };
  }
}
