/**
 * The simulator's memory of every state change it emitted, bounded by `sim.historyMax` (a ring). It answers
 * `history/history_during_period` and lets tests compare exactly which changes a client received.
 * Rows are in emission order, which is `last_updated` order until the clock steps back (then queries scan
 * every row and sort each entity's rows, as HA's `ORDER BY metadata_id, last_updated_ts` does).
 *
 * Like HA's recorder, a row is only visible to history once committed: each row carries the (monotonic)
 * time it was written, and a query passes how many of the oldest rows the recorder has committed so far.
 */

import { jsonFloat } from "../runtime/events/cpython-time.ts";

/** The key tests compare: the same (entity_id, last_updated µs) pair the store deduplicates on. */
export const changeKey = (entityId: string, lastUpdatedUs: number) => `${entityId}@${lastUpdatedUs}`;

/** Rows the ring holds room for at first; it doubles up to its capacity as rows arrive. */
const INITIAL_ROWS = 4096;

export class EmittedHistory {
  readonly capacity: number;
  private readonly ids: string[] = [];
  /** null: the entity was removed (HA's recorder stores a removal as state None). */
  private readonly states: (string | null)[] = [];
  private readonly attrs: string[] = [];
  /** `last_updated_ts` as HA's recorder stores it: the raw `time.time()` double. */
  private luTs: Float64Array;
  /** The µs CPython derives from it (the key), and the last change's µs (`last_changed.timestamp()`). */
  private luUs: Float64Array;
  private lcUs: Float64Array;
  /** When each row was written (monotonic ms), to decide which rows a recorder commit has covered. */
  private writtenMs: Float64Array;
  /** Rows ever written; the ring holds the last `capacity` of them. */
  total = 0;
  /** Rows are in last_updated order (no clock step back since the oldest row held); binary search holds. */
  private sorted = true;
  private sortedSince = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    // Grown on demand: the default capacity (2M rows) preallocated was ~80 MB of a freshly started demo.
    const initial = Math.min(capacity, INITIAL_ROWS);
    this.luTs = new Float64Array(initial);
    this.luUs = new Float64Array(initial);
    this.lcUs = new Float64Array(initial);
    this.writtenMs = new Float64Array(initial);
  }

  /** Doubles the numeric columns (up to capacity); before the ring first wraps, rows are appended. */
  private grow(): void {
    const size = Math.min(this.capacity, this.luTs.length * 2);
    const grown = (a: Float64Array) => {
      const b = new Float64Array(size);
      b.set(a);
      return b;
    };
    this.luTs = grown(this.luTs);
    this.luUs = grown(this.luUs);
    this.lcUs = grown(this.lcUs);
    this.writtenMs = grown(this.writtenMs);
  }

  push(
    entityId: string,
    state: string | null,
    attrsJson: string,
    lastUpdatedTs: number,
    lastUpdatedUs: number,
    lastChangedUs: number,
    writtenMs = 0,
  ): void {
    if (this.total > 0 && lastUpdatedTs < this.luTs[(this.total - 1) % this.capacity]) {
      this.sorted = false;
      this.sortedSince = this.total;
    }
    const i = this.total % this.capacity;
    if (i >= this.luTs.length) this.grow();
    this.ids[i] = entityId;
    this.states[i] = state;
    this.attrs[i] = attrsJson;
    this.luTs[i] = lastUpdatedTs;
    this.luUs[i] = lastUpdatedUs;
    this.lcUs[i] = lastChangedUs;
    this.writtenMs[i] = writtenMs;
    this.total++;
    // Once the step back has left the ring, the rows held are in order again.
    if (!this.sorted && this.total - this.capacity >= this.sortedSince) this.sorted = true;
  }

  get size(): number {
    return Math.min(this.total, this.capacity);
  }

  /** Rows that fell out of the ring. */
  get overwritten(): number {
    return this.total - this.size;
  }

  private at(n: number): number {
    return (this.total - this.size + n) % this.capacity;
  }

  /** Keys of every state change still held, oldest first (removals are not state changes a client stores). */
  keys(): string[] {
    const out: string[] = [];
    for (let n = 0; n < this.size; n++) {
      const i = this.at(n);
      if (this.states[i] !== null) out.push(changeKey(this.ids[i], this.luUs[i]));
    }
    return out;
  }

  /** First row index (0..size) whose last_updated_ts is >= ts (binary search; only while sorted). */
  private lowerBound(ts: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.luTs[this.at(mid)] < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** How many of the oldest rows (0..size) were written before `ms` (monotonic): a commit's coverage. */
  writtenBefore(ms: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.writtenMs[this.at(mid)] < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Renders HA's compressed history result (`{entity_id: [{s, a, lu, lc?}]}`) as JSON text, over the
   * oldest `committed` rows only (what HA's recorder has written to its database). Bounds compare the
   * stored doubles with the request's µs as seconds (`datetime.timestamp()`), both exclusive as in HA's
   * query (`last_updated_ts > start_time_ts`, `< end_time_ts`); the state at the start is each entity's
   * newest row with last_updated_ts < start, stamped with the start.
   */
  renderPeriod(
    startUs: number,
    endUs: number,
    entityIds: Set<string> | null,
    opts: {
      noAttributes: boolean;
      significantOnly: boolean;
      minimal: boolean;
      includeStart: boolean;
      startExclusive?: boolean;
    },
    committed = this.size,
  ): string {
    const start = startUs / 1e6;
    const end = endUs / 1e6;
    const visible = Math.min(committed, this.size);
    const wanted = (i: number) => !entityIds || entityIds.has(this.ids[i]);
    // Sorted: the period starts at the first row >= start and ends at the first >= end. Otherwise scan all.
    const from = this.sorted ? Math.min(this.lowerBound(start), visible) : 0;
    const inPeriod: number[] = [];
    const before = new Map<string, number>();
    if (opts.includeStart && !this.sorted) {
      for (let n = 0; n < visible; n++) {
        const i = this.at(n);
        const prev = before.get(this.ids[i]);
        if (this.luTs[i] < start && wanted(i) && (prev === undefined || this.luTs[i] >= this.luTs[prev]))
          before.set(this.ids[i], i);
      }
    } else if (opts.includeStart)
      for (let n = 0; n < from; n++) {
        const i = this.at(n);
        if (wanted(i)) before.set(this.ids[i], i);
      }
    const afterStart = (ts: number) => (opts.startExclusive === false ? ts >= start : ts > start);
    for (let n = from; n < visible; n++) {
      const i = this.at(n);
      const ts = this.luTs[i];
      if (ts >= end) {
        if (this.sorted) break;
        continue;
      }
      if (afterStart(ts) && wanted(i)) inPeriod.push(i);
    }
    if (!this.sorted) inPeriod.sort((a, b) => this.luTs[a] - this.luTs[b]);

    const groups = new Map<string, string[]>();
    for (const [id, i] of before) {
      const a = opts.noAttributes ? "" : `,"a":${this.attrs[i]}`;
      groups.set(id, [`{"s":${JSON.stringify(this.states[i])}${a},"lu":${jsonFloat(start)}}`]);
    }
    for (const i of inPeriod) {
      const id = this.ids[i];
      const changedHere = this.lcUs[i] === this.luUs[i];
      if (opts.significantOnly && !changedHere && !id.startsWith("sensor.")) continue;
      let rows = groups.get(id);
      if (!rows) {
        rows = [];
        groups.set(id, rows);
      }
      const minimal = opts.minimal && rows.length > 0;
      const a = opts.noAttributes || minimal ? "" : `,"a":${this.attrs[i]}`;
      // lc only when last_changed differs from last_updated (then it is the exact-µs datetime's
      // timestamp); a removal's row has no last_changed.
      const lc =
        !minimal && this.states[i] !== null && !changedHere ? `,"lc":${jsonFloat(this.lcUs[i] / 1e6)}` : "";
      rows.push(`{"s":${JSON.stringify(this.states[i])}${a}${lc},"lu":${jsonFloat(this.luTs[i])}}`);
    }
    const parts: string[] = [];
    for (const [id, rows] of groups) parts.push(`${JSON.stringify(id)}:[${rows.join(",")}]`);
    return `{${parts.join(",")}}`;
  }
}
