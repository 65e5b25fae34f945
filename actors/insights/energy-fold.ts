/**
 * Energy impact folded in as rows arrive, in memory bounded by devices and sensors, not readings: a week
 * of a meter reporting every second is 600,000 readings, and a full read held 16 bytes of each.
 *
 * Per switchable: its on/off changes in the window (at most `energyTransitionsKept`), its time on per hour, and each
 * switch event's step frozen once its after-window has passed — measured then on the device's own sensor
 * and on the home meter, as paired at that moment, from the readings still held. Per power sensor: the
 * readings of the last few windows (the tail, where steps not yet frozen are read), the energy per hour,
 * and per day histograms of its levels (by time held: the standby percentile) and readings (the median
 * that picks a home meter). Per device with its own sensor, a histogram of that sensor's readings while
 * the device was off (its standby draw). The report runs energy.ts energyImpact over these.
 *
 * What it gives up, against a full read of the window (analyses.ts energyReport):
 * - Medians and percentiles of levels come from log-spaced bins (./histogram.ts): within 1%.
 * - A step is frozen with the pairing (own sensor, home meter) of its moment; a later change of pairing
 *   moves only the steps still in the tail.
 * - The window's front edge moves by whole hours for energy and whole days for the histograms.
 * - A switch event stored after its step was due to freeze (a backfill older than the tail, an import)
 *   has no step: it counts as `noData`.
 * - Each reading is scaled by its own unit (W or kW), where the full read scales all by the newest's.
 * On/off spells, on-hours, which events overlap another device's, and the per-event steps while in the
 * tail are as a full read has them.
 */
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import { domainOf } from "../../runtime/store/insights/types.ts";
import type { WindowRow } from "../../runtime/store/insights-reader.ts";
import {
  type EnergyOptions,
  type EnergyReport,
  energyImpact,
  lowerBound,
  type OnOffSeries,
  onOffClass,
  type PowerMeasure,
  type PowerSeries,
  SWITCHABLE_DOMAINS,
  seriesMeasure,
} from "./energy.ts";
import { DayHistogram } from "./histogram.ts";
import type { WindowFold } from "./history.ts";
import { type EntityMeta, pairDevices } from "./inputs.ts";

const HOUR = 3600_000;
const DAY = 86400_000;
/** How often, in the rows' own time, due steps are frozen and tails cut. */
const FREEZE_EVERY_MS = 60_000;
/** How long past its after-window a step stays in the tail: rows stored that late still count. */
const TAIL_MARGIN_MS = 10 * 60_000;
/** How often, in the rows' time, the pairing (own sensors, home meter) is worked out again. */
const PAIR_EVERY_MS = HOUR;
/** A tail this long is checked for readings it no longer needs (after a sensor is folded again). */
const TAIL_CHECK_ROWS = 4096;

export type EnergyFoldSettings = Pick<
  HomeIQConfig["insights"],
  | "historyDays"
  | "energyWindowMs"
  | "energySettleMs"
  | "energyMinEvents"
  | "energyMinStepW"
  | "homePowerEntity"
> & {
  /** On/off changes (and their steps) kept per device; the oldest give way. */
  energyTransitionsKept: number;
};

/** Float64 columns that grow at the end and let go at the front. */
class Columns {
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
class SwitchFold {
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
class PowerFold {
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

const NO_STATES: OnOffSeries = { ts: new Float64Array(0), on: new Int8Array(0) };

/** Every switchable's and sensor's energy summary, by the store's entity key; kept current by FoldedHistory. */
export class EnergyFold implements WindowFold {
  private readonly switches = new Map<number, SwitchFold>();
  private readonly sensors = new Map<number, PowerFold>();
  /** The newest row's time folded: the rows' own clock, which decides what is due to freeze. */
  private clock = Number.NEGATIVE_INFINITY;
  private nextFreeze = Number.NEGATIVE_INFINITY;
  private keepFrom = Number.NEGATIVE_INFINITY;
  private meta: ReadonlyMap<string, EntityMeta> = new Map();
  /** By entity id: the pairing names folds by id, since one folded again is a new object. */
  private readonly switchById = new Map<string, SwitchFold>();
  private readonly sensorById = new Map<string, PowerFold>();
  private pairing: { own: Map<string, string>; owners: Map<string, string>; home: string | null } | null =
    null;
  private pairedAt = Number.NEGATIVE_INFINITY;
  private readonly step: PowerMeasure<PowerSeries>["step"];
  private readonly tailMs: number;

  constructor(private readonly s: EnergyFoldSettings) {
    this.step = seriesMeasure(this.options(0, 0)).step;
    this.tailMs = s.energySettleMs + s.energyWindowMs + TAIL_MARGIN_MS;
  }

  /** Names and devices from the registry, for pairing: set before each run. */
  setMeta(meta: ReadonlyMap<string, EntityMeta>): void {
    this.meta = meta;
    this.pairing = null;
  }

  push(e: number, entityId: string, row: WindowRow): boolean {
    const domain = domainOf(entityId);
    let ok = true;
    if (SWITCHABLE_DOMAINS.has(domain)) {
      let sw = this.switches.get(e);
      if (!sw || sw.entityId !== entityId) {
        sw = new SwitchFold(entityId, this.s.energyTransitionsKept, this.s.historyDays);
        this.switches.set(e, sw);
        this.switchById.set(entityId, sw);
      }
      ok = sw.push(row);
    } else if (domain === "sensor") {
      let p = this.sensors.get(e);
      if (!p || p.entity_id !== entityId) {
        p = new PowerFold(entityId, this.s.historyDays);
        this.sensors.set(e, p);
        this.sensorById.set(entityId, p);
      }
      const w = p.push(row);
      ok = w !== null;
      if (w !== null && !Number.isNaN(w)) this.offReading(p, row.ts, w);
      if (p.tail.length > TAIL_CHECK_ROWS && p.tail.cols[0][p.tail.start + 1] < this.keepFrom)
        p.cutTail(this.keepFrom);
    }
    if (ok && row.ts > this.clock) {
      this.clock = row.ts;
      if (this.clock >= this.nextFreeze) {
        this.freeze(this.clock - this.tailMs);
        this.nextFreeze = this.clock + FREEZE_EVERY_MS;
      }
    }
    return ok;
  }

  refold(e: number, entityId: string): void {
    const sw = this.switches.get(e);
    if (sw && sw.entityId === entityId) sw.restart();
    else this.drop(e);
  }

  drop(e: number): void {
    const sw = this.switches.get(e);
    if (sw && this.switchById.get(sw.entityId) === sw) this.switchById.delete(sw.entityId);
    const p = this.sensors.get(e);
    if (p && this.sensorById.get(p.entity_id) === p) this.sensorById.delete(p.entity_id);
    this.switches.delete(e);
    this.sensors.delete(e);
  }

  clear(): void {
    this.switches.clear();
    this.sensors.clear();
    this.switchById.clear();
    this.sensorById.clear();
    this.clock = this.nextFreeze = this.keepFrom = Number.NEGATIVE_INFINITY;
    this.pairing = null;
  }

  trim(from: number): void {
    for (const [e, sw] of this.switches)
      if (sw.newest < from) this.drop(e);
      else sw.trim(from);
    for (const [e, p] of this.sensors)
      if (p.newest < from) this.drop(e);
      else p.trim(from);
  }

  /** The report at `now` over the window (the fold must hold the rows before `now`, trimmed to the window). */
  report(now: number): EnergyReport & { computedAt: number } {
    const from = now - this.s.historyDays * DAY;
    const { devices, home } = this.pair(from, true);
    const byId = this.switchById;
    const measure: PowerMeasure<PowerFold> = {
      step: (sensor, d, ts, on, own) => {
        const sw = byId.get(devices[d].entity_id) as SwitchFold;
        if (ts > sw.frozenUpTo) return this.step(sensor.series(), d, ts, on, own);
        const k = sw.frozen.lowerBound(ts);
        if (k >= sw.frozen.length || sw.frozen.view(0)[k] !== ts) return null;
        const step = sw.frozen.view(own ? 1 : 2)[k];
        return Number.isNaN(step) ? null : step;
      },
      standby: (device) => {
        const off = (byId.get(device.entity_id) as SwitchFold).standby.since(from);
        return off.total ? off.quantile(0.5) : null;
      },
      onMs: (device) => (byId.get(device.entity_id) as SwitchFold).onMs(from, now),
      kWh: (meter) => meter.kWh(from, now),
      levelQuantile: (meter, q) => meter.levelQuantile(from, now, q),
    };
    return { computedAt: now, ...energyImpact(devices, home, this.options(from, now), measure) };
  }

  /** Devices, power sensors and bytes held. */
  usage(): { entities: number; bytes: number } {
    let bytes = 0;
    for (const sw of this.switches.values()) bytes += sw.bytes;
    for (const p of this.sensors.values()) bytes += p.bytes;
    return { entities: this.switches.size + this.sensors.size, bytes };
  }

  private options(from: number, to: number): EnergyOptions {
    return {
      from,
      to,
      windowMs: this.s.energyWindowMs,
      settleMs: this.s.energySettleMs,
      minEvents: this.s.energyMinEvents,
      minStepW: this.s.energyMinStepW,
    };
  }

  /** Pairs devices with sensors (energy.ts rules) as the window from `from` holds them. */
  private pair(from: number, withStates: boolean) {
    const switches = new Map<string, OnOffSeries>();
    for (const sw of [...this.switches.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v))
      switches.set(sw.entityId, withStates ? sw.states() : NO_STATES);
    const power = new Map<string, PowerFold>();
    for (const [, p] of [...this.sensors.entries()].sort((a, b) => a[0] - b[0]))
      if (p.isPower(from)) power.set(p.entity_id, p);
    return pairDevices(switches, power, (p) => p.median(from), this.meta, this.s.homePowerEntity);
  }

  /** The pairing in force for freezing and standby, worked out again every PAIR_EVERY_MS of the rows' time. */
  private currentPairing() {
    if (!this.pairing || this.clock >= this.pairedAt + PAIR_EVERY_MS) {
      const { devices, home } = this.pair(this.clock - this.s.historyDays * DAY, false);
      const own = new Map<string, string>();
      const owners = new Map<string, string>();
      for (const d of devices)
        if (d.ownSensor) {
          own.set(d.entity_id, d.ownSensor.entity_id);
          owners.set(d.ownSensor.entity_id, d.entity_id);
        }
      this.pairing = { own, owners, home: home?.entity_id ?? null };
      this.pairedAt = this.clock;
    }
    return this.pairing;
  }

  /** A reading of a device's own sensor while the device has been off for settleMs: its standby draw. */
  private offReading(p: PowerFold, ts: number, w: number): void {
    const owner = this.currentPairing().owners.get(p.entity_id);
    const sw = owner === undefined ? undefined : this.switchById.get(owner);
    if (!sw || ts <= sw.standbyUpTo) return;
    const i = sw.at(ts);
    if (i < 0 || sw.changes.view(1)[i] !== 0 || ts < sw.changes.view(0)[i] + this.s.energySettleMs) return;
    sw.standby.add(ts, w);
    sw.standbyUpTo = ts;
  }

  /** Freezes the steps of every event at or before `upTo` not yet frozen, then cuts the tails. */
  private freeze(upTo: number): void {
    const pairing = this.currentPairing();
    const home = pairing.home === null ? undefined : this.sensorById.get(pairing.home);
    for (const sw of this.switches.values()) {
      if (upTo <= sw.frozenUpTo) continue;
      const ownId = pairing.own.get(sw.entityId);
      const mine = ownId === undefined ? undefined : this.sensorById.get(ownId);
      for (const ev of sw.events(sw.frozenUpTo, upTo)) {
        const onOwn = mine ? this.step(mine.series(), 0, ev.ts, ev.on, true) : null;
        const onHome = home ? this.step(home.series(), 0, ev.ts, ev.on, false) : null;
        sw.frozen.push(ev.ts, onOwn ?? Number.NaN, onHome ?? Number.NaN);
        if (sw.frozen.length > this.s.energyTransitionsKept) sw.frozen.drop(1);
      }
      sw.frozenUpTo = upTo;
    }
    this.keepFrom = upTo - this.s.energyWindowMs;
    for (const p of this.sensors.values()) p.cutTail(this.keepFrom);
  }
}
