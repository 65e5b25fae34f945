/**
 * What the energy fold (./energy-fold.ts) keeps of one switchable (SwitchFold) and of one sensor
 * (PowerFold), and the growable columns both keep it in.
 */
import { domainOf } from "../../runtime/store/insights/types.ts";
import type { WindowRow } from "../../runtime/store/insights-reader.ts";
import { lowerBound, type OnOffSeries, onOffClass, type PowerSeries } from "./energy.ts";
import { DayHistogram } from "./histogram.ts";

const HOUR = 3600_000;

/** Float64 columns that grow at the end and let go at the front. */
export class Columns {
  start = 0;
  end = 0;
  cols: Float64Array[];

  constructor(n: number) {
    this.cols = Array.from({ length: n }, () => new Float64Array(16));
  }

  get length(): number {
    return this.end - this.start;
  }

  get bytes(): number {
    return this.cols.reduce((sum, c) => sum + c.byteLength, 0);
  }

  push(a: number, b: number, c = 0): void {
    if (this.end === this.cols[0].length) this.makeRoom();
    const i = this.end++;
    this.cols[0][i] = a;
    this.cols[1][i] = b;
    if (this.cols.length > 2) this.cols[2][i] = c;
  }

  view(col: number): Float64Array {
    return this.cols[col].subarray(this.start, this.end);
  }

  /** Index (from the front) of the first row whose first column is at or past `x`. */
  lowerBound(x: number): number {
    return lowerBound(this.view(0), x);
  }

  drop(rows: number): void {
    this.start += Math.min(rows, this.length);
  }

  private makeRoom(): void {
    const n = this.length;
    const size = n * 2 > this.cols[0].length ? this.cols[0].length * 2 : this.cols[0].length;
    this.cols = this.cols.map((c) => {
      if (size === c.length) {
        c.copyWithin(0, this.start, this.end);
        return c;
      }
      const b = new Float64Array(size);
      b.set(c.subarray(this.start, this.end));
      return b;
    });
    this.start = 0;
    this.end = n;
  }
}

/** One switchable: its on/off changes, the steps frozen at its events, and its own sensor's off readings. */
export class SwitchFold {
  readonly domain: string;
  newest = Number.NEGATIVE_INFINITY;
  private last = 2;
  /** (time, class): class -1 neither, 0 off, 1 on; only where the class changed. */
  changes = new Columns(2);
  /** (time, step on its own sensor, step on the home meter): NaN where readings were missing. */
  readonly frozen = new Columns(3);
  /** Events at or before this are frozen (or were due and had no change to measure). */
  frozenUpTo = Number.NEGATIVE_INFINITY;
  /** Its own sensor's readings while it was off and settled, and the newest fed. */
  readonly standby = new DayHistogram();
  standbyUpTo = Number.NEGATIVE_INFINITY;
  /** Time on per hour (a ring), counted whole however many changes there were; and since when it is on. */
  private onHour: Int32Array;
  private onHourMs: Float64Array;
  private onSince = Number.NaN;

  constructor(
    readonly entityId: string,
    private readonly kept: number,
    historyDays: number,
  ) {
    this.domain = domainOf(entityId);
    this.onHour = new Int32Array(historyDays * 24 + 2).fill(-1);
    this.onHourMs = new Float64Array(this.onHour.length);
  }

  push(row: WindowRow): boolean {
    if (row.ts <= this.newest) return false;
    const c = onOffClass(this.domain, row.stateText());
    if (c !== this.last) {
      this.changes.push(row.ts, c);
      if (this.changes.length > this.kept) this.changes.drop(1);
      if (c === 1) this.onSince = row.ts;
      else if (!Number.isNaN(this.onSince)) {
        this.countOn(this.onSince, row.ts);
        this.onSince = Number.NaN;
      }
      this.last = c;
    }
    this.newest = row.ts;
    return true;
  }

  /** Starts the changes afresh (the entity is folded again from the store); frozen steps stay. */
  restart(): void {
    this.changes = new Columns(2);
    this.last = 2;
    this.newest = Number.NEGATIVE_INFINITY;
    this.onHour.fill(-1);
    this.onSince = Number.NaN;
  }

  /** Time on (ms) from `from` (by whole hours) to `now`. */
  onMs(from: number, now: number): number {
    const fromHour = Math.floor(from / HOUR);
    let ms = 0;
    for (let k = 0; k < this.onHour.length; k++) if (this.onHour[k] >= fromHour) ms += this.onHourMs[k];
    if (!Number.isNaN(this.onSince)) ms += Math.max(0, now - Math.max(this.onSince, from));
    return ms;
  }

  /** Adds an on spell [a, b) to the hours it covers. */
  private countOn(a: number, b: number): void {
    byHour(a, b, this.onHour, this.onHourMs, (slot, t, end) => {
      this.onHourMs[slot] += end - t;
    });
  }

  /** The change in force at `ts`: its index, or -1 before the first. */
  at(ts: number): number {
    return upperBound(this.changes.view(0), ts) - 1;
  }

  /** Each event (a switch between off and on) in (after, upTo], with whether it switched on. */
  *events(after: number, upTo: number): Iterable<{ ts: number; on: boolean }> {
    const ts = this.changes.view(0);
    const cls = this.changes.view(1);
    for (let i = Math.max(1, upperBound(ts, after)); i < ts.length && ts[i] <= upTo; i++)
      if (cls[i] >= 0 && cls[i - 1] >= 0) yield { ts: ts[i], on: cls[i] === 1 };
  }

  /** Its on/off changes in the window, and the one in force at its start. */
  states(): OnOffSeries {
    return { ts: this.changes.view(0).slice(), on: Int8Array.from(this.changes.view(1)) };
  }

  trim(from: number): void {
    const k = this.changes.lowerBound(from);
    if (k > 1) this.changes.drop(k - 1);
    this.frozen.drop(this.frozen.lowerBound(from));
    this.standby.trim(from);
  }

  get bytes(): number {
    return this.changes.bytes + this.frozen.bytes + this.onHour.byteLength * 3 + this.standby.entries * 40;
  }
}

/** One sensor: its unit, and for a power sensor the tail of readings, energy per hour and level histograms. */
export class PowerFold {
  newest = Number.NEGATIVE_INFINITY;
  unit: unknown;
  /** The reading in force (W) and since when; NaN before the first. */
  lastTs = Number.NaN;
  lastW = Number.NaN;
  /** (time, W) of the newest readings. */
  readonly tail = new Columns(2);
  private hour: Int32Array | null = null;
  private wattMs: Float64Array | null = null;
  /** Time held at each level, and readings at each level, per day. */
  readonly levels = new DayHistogram();
  readonly readings = new DayHistogram();

  constructor(
    readonly entity_id: string,
    private readonly historyDays: number,
  ) {}

  /** Appends a row; the watts it reads, NaN when it is no power reading, or null when refused (not newer). */
  push(row: WindowRow): number | null {
    if (row.ts <= this.newest) return null;
    this.newest = row.ts;
    this.unit = row.attributes.unit_of_measurement;
    const scale = this.unit === "W" ? 1 : this.unit === "kW" ? 1000 : null;
    if (scale === null || !Number.isFinite(row.value)) return Number.NaN;
    const w = row.value * scale;
    if (!Number.isNaN(this.lastTs)) this.hold(this.lastTs, row.ts, this.lastW);
    this.readings.add(row.ts, w);
    this.tail.push(row.ts, w);
    this.lastTs = row.ts;
    this.lastW = w;
    return w;
  }

  /** A power sensor with a reading at or after `from` (a full read would have a series of it). */
  isPower(from: number): boolean {
    return (this.unit === "W" || this.unit === "kW") && this.lastTs >= from;
  }

  /** The tail as a series (energy.ts reads steps off it). */
  series(): PowerSeries {
    return { entity_id: this.entity_id, ts: this.tail.view(0), watts: this.tail.view(1) };
  }

  /** Lets go of tail readings before `keep`, but the one in force there. */
  cutTail(keep: number): void {
    const k = this.tail.lowerBound(keep);
    if (k > 1) this.tail.drop(k - 1);
  }

  kWh(from: number, now: number): number {
    let wattMs = 0;
    const fromHour = Math.floor(from / HOUR);
    if (this.hour && this.wattMs)
      for (let k = 0; k < this.hour.length; k++) if (this.hour[k] >= fromHour) wattMs += this.wattMs[k];
    if (this.lastTs < now) wattMs += this.lastW * (now - this.lastTs);
    return wattMs / 3_600_000 / 1000;
  }

  levelQuantile(from: number, now: number, q: number): number {
    const merged = this.levels.since(from);
    return (this.lastTs < now ? merged.add(this.lastW, now - this.lastTs) : merged).weightedQuantile(q);
  }

  median(from: number): number {
    return this.readings.since(from).quantile(0.5);
  }

  trim(from: number): void {
    this.levels.trim(from);
    this.readings.trim(from);
  }

  get bytes(): number {
    return (
      this.tail.bytes + (this.hour?.byteLength ?? 0) * 3 + (this.levels.entries + this.readings.entries) * 40
    );
  }

  /** Adds a level held over [a, b) to the hours' energy and the day's time at that level. */
  private hold(a: number, b: number, w: number): void {
    if (!this.hour || !this.wattMs) {
      const slots = this.historyDays * 24 + 2;
      this.hour = new Int32Array(slots).fill(-1);
      this.wattMs = new Float64Array(slots);
    }
    const wattMs = this.wattMs;
    byHour(a, b, this.hour, wattMs, (slot, t, end) => {
      wattMs[slot] += w * (end - t);
      this.levels.add(t, w, end - t);
    });
  }
}

/**
 * Splits [a, b) at the hours it crosses, for a ring of hourly slots (`hours` says which hour each holds;
 * `sums` is zeroed where a slot is taken for a new hour). A span longer than the ring counts from the
 * ring's length back.
 */
function byHour(
  a: number,
  b: number,
  hours: Int32Array,
  sums: Float64Array,
  add: (slot: number, from: number, to: number) => void,
): void {
  for (let t = Math.max(a, b - hours.length * HOUR); t < b; ) {
    const h = Math.floor(t / HOUR);
    const end = Math.min(b, (h + 1) * HOUR);
    const slot = h % hours.length;
    if (hours[slot] !== h) {
      hours[slot] = h;
      sums[slot] = 0;
    }
    add(slot, t, end);
    t = end;
  }
}

/** Index of the first element > x in an ascending array. */
function upperBound(a: Float64Array, x: number): number {
  let i = lowerBound(a, x);
  while (i < a.length && a[i] === x) i++;
  return i;
}
