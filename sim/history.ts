/**
 * The simulator's memory of every state change it emitted, bounded by `sim.historyMax` (a ring). It answers
 * `history/history_during_period` and lets tests compare exactly which changes a client received.
 * Rows are in emission order, which is also `last_updated` order (the home's clock is strictly increasing).
 */

/** The key tests compare: the same (entity_id, last_updated µs) pair the store deduplicates on. */
export const changeKey = (entityId: string, lastUpdatedUs: number) => `${entityId}@${lastUpdatedUs}`;

/** Rows the ring holds room for at first; it doubles up to its capacity as rows arrive. */
const INITIAL_ROWS = 4096;

export class EmittedHistory {
  readonly capacity: number;
  private readonly ids: string[] = [];
  private readonly states: string[] = [];
  private readonly attrs: string[] = [];
  private lu: Float64Array;
  private lc: Float64Array;
  /** Rows ever written; the ring holds the last `capacity` of them. */
  total = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    // Grown on demand: the default capacity (2M rows) preallocated was ~80 MB of a freshly started demo.
    const initial = Math.min(capacity, INITIAL_ROWS);
    this.lu = new Float64Array(initial);
    this.lc = new Float64Array(initial);
  }

  push(
    entityId: string,
    state: string,
    attrsJson: string,
    lastUpdatedUs: number,
    lastChangedUs: number,
  ): void {
    const i = this.total % this.capacity;
    // Before the ring first wraps, rows are appended (i === total); the columns double when full.
    if (i >= this.lu.length) {
      const size = Math.min(this.capacity, this.lu.length * 2);
      const lu = new Float64Array(size);
      lu.set(this.lu);
      this.lu = lu;
      const lc = new Float64Array(size);
      lc.set(this.lc);
      this.lc = lc;
    }
    this.ids[i] = entityId;
    this.states[i] = state;
    this.attrs[i] = attrsJson;
    this.lu[i] = lastUpdatedUs;
    this.lc[i] = lastChangedUs;
    this.total++;
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

  /** Keys of every row still held, oldest first. */
  keys(): string[] {
    const out = new Array<string>(this.size);
    for (let n = 0; n < this.size; n++) {
      const i = this.at(n);
      out[n] = changeKey(this.ids[i], this.lu[i]);
    }
    return out;
  }

  /** First row index (0..size) whose last_updated is >= us (binary search; rows are time-ordered). */
  private lowerBound(us: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lu[this.at(mid)] < us) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Renders HA's compressed history result (`{entity_id: [{s, a, lu, lc?}]}`) for rows with
   * start <= last_updated < end, as JSON text.
   */
  renderPeriod(
    startUs: number,
    endUs: number,
    entityIds: Set<string> | null,
    opts: { noAttributes: boolean; significantOnly: boolean; minimal: boolean; includeStart: boolean },
  ): string {
    const groups = new Map<string, string[]>();
    const from = this.lowerBound(startUs);
    if (opts.includeStart) {
      // HA reports each entity's state at start_time with last_updated clamped to start_time.
      const latest = new Map<string, number>();
      for (let n = 0; n < from; n++) {
        const i = this.at(n);
        if (!entityIds || entityIds.has(this.ids[i])) latest.set(this.ids[i], i);
      }
      for (const [id, i] of latest) {
        const a = opts.noAttributes ? "" : `,"a":${this.attrs[i]}`;
        groups.set(id, [`{"s":${JSON.stringify(this.states[i])}${a},"lu":${startUs / 1e6}}`]);
      }
    }
    for (let n = from; n < this.size; n++) {
      const i = this.at(n);
      if (this.lu[i] >= endUs) break;
      const id = this.ids[i];
      if (entityIds && !entityIds.has(id)) continue;
      if (opts.significantOnly && this.lc[i] !== this.lu[i] && !id.startsWith("sensor.")) continue;
      let rows = groups.get(id);
      if (!rows) {
        rows = [];
        groups.set(id, rows);
      }
      const minimal = opts.minimal && rows.length > 0;
      const a = opts.noAttributes || minimal ? "" : `,"a":${this.attrs[i]}`;
      const lc = !minimal && this.lc[i] !== this.lu[i] ? `,"lc":${this.lc[i] / 1e6}` : "";
      rows.push(`{"s":${JSON.stringify(this.states[i])}${a}${lc},"lu":${this.lu[i] / 1e6}}`);
    }
    const parts: string[] = [];
    for (const [id, rows] of groups) parts.push(`${JSON.stringify(id)}:[${rows.join(",")}]`);
    return `{${parts.join(",")}}`;
  }
}
