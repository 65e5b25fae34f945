/**
 * The simulator's memory of every state change it emitted, bounded by `sim.historyMax` (a ring). It answers
 * `history/history_during_period` and lets tests compare exactly which changes a client received.
 * Rows are in emission order, which is also `last_updated` order (the home's clock is strictly increasing).
 *
 * Like HA's recorder, a row is only visible to history once committed: each row carries the (monotonic)
 * time it was written, and a query passes how many of the oldest rows the recorder has committed so far.
 */

/** The key tests compare: the same (entity_id, last_updated µs) pair the store deduplicates on. */
export const changeKey = (entityId: string, lastUpdatedUs: number) => `${entityId}@${lastUpdatedUs}`;

export class EmittedHistory {
  readonly capacity: number;
  private readonly ids: string[];
  /** null: the entity was removed (HA's recorder stores a removal as state None). */
  private readonly states: (string | null)[];
  private readonly attrs: string[];
  private readonly lu: Float64Array;
  private readonly lc: Float64Array;
  /** When each row was written (monotonic ms), to decide which rows a recorder commit has covered. */
  private readonly writtenMs: Float64Array;
  /** Rows ever written; the ring holds the last `capacity` of them. */
  total = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.ids = new Array(capacity);
    this.states = new Array(capacity);
    this.attrs = new Array(capacity);
    this.lu = new Float64Array(capacity);
    this.lc = new Float64Array(capacity);
    this.writtenMs = new Float64Array(capacity);
  }

  push(
    entityId: string,
    state: string | null,
    attrsJson: string,
    lastUpdatedUs: number,
    lastChangedUs: number,
    writtenMs = 0,
  ): void {
    const i = this.total % this.capacity;
    this.ids[i] = entityId;
    this.states[i] = state;
    this.attrs[i] = attrsJson;
    this.lu[i] = lastUpdatedUs;
    this.lc[i] = lastChangedUs;
    this.writtenMs[i] = writtenMs;
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

  /** Keys of every state change still held, oldest first (removals are not state changes a client stores). */
  keys(): string[] {
    const out: string[] = [];
    for (let n = 0; n < this.size; n++) {
      const i = this.at(n);
      if (this.states[i] !== null) out.push(changeKey(this.ids[i], this.lu[i]));
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
   * oldest `committed` rows only (what HA's recorder has written to its database). Both bounds are
   * exclusive, as in HA's query (`last_updated_ts > start_time_ts`, `< end_time_ts`); the state at the
   * start is the newest row with last_updated < start.
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
    const groups = new Map<string, string[]>();
    const visible = Math.min(committed, this.size);
    const from = Math.min(this.lowerBound(startUs), visible);
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
    for (let n = from; n < visible; n++) {
      const i = this.at(n);
      if (this.lu[i] >= endUs) break;
      if (this.lu[i] === startUs && opts.startExclusive !== false) continue;
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
      // A removal has no last_changed (its row's last_changed_ts is None), so no lc.
      const lc =
        !minimal && this.states[i] !== null && this.lc[i] !== this.lu[i] ? `,"lc":${this.lc[i] / 1e6}` : "";
      rows.push(`{"s":${JSON.stringify(this.states[i])}${a}${lc},"lu":${this.lu[i] / 1e6}}`);
    }
    const parts: string[] = [];
    for (const [id, rows] of groups) parts.push(`${JSON.stringify(id)}:[${rows.join(",")}]`);
    return `{${parts.join(",")}}`;
  }
}
