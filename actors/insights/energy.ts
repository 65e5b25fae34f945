/**
 * Energy impact: how many watts each switch, light or climate device draws, measured as the step in a power
 * sensor around its on/off events. One event's step is the median power after it minus the median before
 * it; a device's step is the median over many events, so a spike or one odd reading cannot move it.
 * Honesty rules: an event with another device's event inside its window is set aside as overlapped (the step
 * would mix two devices) and counted; a device whose median step is not clearly above the noise is reported
 * as not measurable rather than given a number; every figure carries its sample count and a confidence.
 */
import { domainOf, median, robustSpread } from "../../runtime/store/insights/types.ts";

/** Device domains whose on/off is measured. */
export const SWITCHABLE_DOMAINS = new Set([
  "switch",
  "light",
  "climate",
  "fan",
  "water_heater",
  "input_boolean",
]);
const OFF_STATES = new Set(["off"]);
const VOID_STATES = new Set(["unavailable", "unknown", ""]);

/** A power series in watts, ascending by time. */
export interface PowerSeries {
  entity_id: string;
  ts: Float64Array;
  watts: Float64Array;
}

/**
 * A switchable's on/off over time as two columns, ascending by time: when (ms) it became on (1), off (0) or
 * neither (-1: unavailable, unknown, empty). Classified once as read (see onOff), and only the changes of
 * class are kept: a row that repeats its class (an attribute update, "heat" after "cool") changes nothing
 * the analysis reads, and an off spell is one spell from the switch-off. 9 bytes a change; a busy home's
 * week held twice as many rows as changes.
 */
export interface OnOffSeries {
  ts: Float64Array;
  on: Int8Array;
}

export function onOffSeries(entityId: string, states: readonly { ts: number; state: string }[]): OnOffSeries {
  return onOffOf(
    entityId,
    states.length,
    (i) => states[i].ts,
    (i) => states[i].state,
  );
}

/** onOffSeries over any ascending series read by index (the store's columns). */
export function onOffOf(
  entityId: string,
  n: number,
  tsAt: (i: number) => number,
  stateAt: (i: number) => string,
): OnOffSeries {
  const domain = domainOf(entityId);
  const classOf = (i: number) => onOffClass(domain, stateAt(i));
  // Two passes over the rows instead of a full-length buffer cut down afterwards.
  let changes = 0;
  for (let i = 0, last = 2; i < n; i++) {
    const c = classOf(i);
    if (c !== last) changes++;
    last = c;
  }
  const ts = new Float64Array(changes);
  const on = new Int8Array(changes);
  for (let i = 0, k = 0, last = 2; i < n; i++) {
    const c = classOf(i);
    if (c === last) continue;
    ts[k] = tsAt(i);
    on[k++] = c;
    last = c;
  }
  return { ts, on };
}

/** A power sensor as energyImpact names it; its readings are the PowerMeasure's business. */
export type PowerSensor = { entity_id: string };

export interface DeviceStates<S extends PowerSensor = PowerSeries> {
  entity_id: string;
  name: string | null;
  /** Its on/off over time (onOffSeries). */
  states: OnOffSeries;
  /** The device's own power sensor, when it has one; else the home sensor measures it. */
  ownSensor?: S;
}

/**
 * Where energyImpact's power figures come from: a week of readings (seriesMeasure, the full read), or what
 * the energy fold (./energy-fold.ts) kept of them.
 */
export interface PowerMeasure<S extends PowerSensor> {
  /**
   * Device `d`'s step at its transition at `ts` (after − before, sign already turned for a switch-off),
   * read on `sensor` (its own when `own`, else the home's), or null when readings around it are missing.
   */
  step(sensor: S, d: number, ts: number, on: boolean, own: boolean): number | null;
  /** Power while device `d` was off, on its own sensor (its standby draw), or null. */
  standby(device: DeviceStates<S>, d: number): number | null;
  /** Energy (kWh) of the home sensor over the window. */
  kWh(home: S): number;
  /** The home sensor's time-weighted q-quantile over the window, NaN without readings. */
  levelQuantile(home: S, q: number): number;
  /** Device `d`'s time on (ms) over the window, where the measure keeps it; else read off its states. */
  onMs?(device: DeviceStates<S>, d: number): number;
}

export interface EnergyOptions {
  from: number;
  to: number;
  /** Span of power readings taken on each side of an event. */
  windowMs: number;
  /** Readings this soon after an event are skipped: meters lag. */
  settleMs: number;
  /** Fewest clean events before a step is reported at all. */
  minEvents: number;
  /** Steps smaller than this (W) are never called measurable, however many samples. */
  minStepW: number;
}

export type Confidence = "high" | "medium" | "low" | "none";

export interface DeviceImpact {
  entity_id: string;
  name: string | null;
  /** The power sensor the step was read from. */
  sensor: string | null;
  /** Median power step in W when measurable, else null. */
  stepW: number | null;
  /** The median step even when not measurable, for transparency. */
  rawMedianW: number | null;
  /** Robust spread (W) of the per-event steps. */
  spreadW: number;
  /** Clean on/off events the step is the median of. */
  samples: number;
  /** Events set aside because another device switched within the window. */
  overlapped: number;
  /** Events set aside for want of power readings around them. */
  noData: number;
  measurable: boolean;
  confidence: Confidence;
  /** |median| / its standard error. */
  signalToNoise: number;
  onHours: number;
  /** stepW × onHours, when measurable. */
  kWh: number | null;
  /** kWh / the home's total kWh in the window, when both are known. */
  share: number | null;
  /** Power while off, from the device's own sensor (its standby draw); null without one. */
  standbyW: number | null;
}

export interface EnergyReport {
  from: number;
  to: number;
  homeSensor: string | null;
  /** Integral of the home sensor over the window. */
  totalKWh: number | null;
  /** Always-on floor of the home: the time-weighted 5th percentile of its power. */
  standbyW: number | null;
  standbyShare: number | null;
  /** Measurable devices first, by kWh; then the rest, most samples first, then by name. */
  devices: DeviceImpact[];
}

/** A state's on/off class: 1 on, 0 off, -1 neither (unavailable, unknown, empty). */
export function onOffClass(domain: string, state: string): -1 | 0 | 1 {
  const c = onOff(domain, state);
  return c === null ? -1 : c ? 1 : 0;
}

/** Whether a state means on (true), off (false) or nothing known (null). */
function onOff(domain: string, state: string): boolean | null {
  if (VOID_STATES.has(state)) return null;
  if (OFF_STATES.has(state)) return false;
  if (domain === "climate" || domain === "water_heater") return true; // any hvac/operation mode but off
  return state === "on";
}

/** Index of the first element >= x (lower bound) in an ascending array. */
export function lowerBound(a: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A reused buffer of readings: the windows around ~400,000 transitions a week, and a device's off spells,
 * were an array each, and with devices paired to their own sensors they were most of an energy run's peak.
 */
class Levels {
  length = 0;
  private buf = new Float64Array(1024);

  clear(): this {
    this.length = 0;
    return this;
  }

  /** Adds the readings in [start, end) plus the reading in force at `start`: the level a step function holds there. */
  addWindow(series: PowerSeries, start: number, end: number): this {
    const i = lowerBound(series.ts, start);
    if (i > 0) this.push(series.watts[i - 1]);
    for (let j = i; j < series.ts.length && series.ts[j] < end; j++) this.push(series.watts[j]);
    return this;
  }

  /** The median of the readings held (reorders them). */
  median(): number {
    return medianInPlace(this.buf, this.length);
  }

  private push(w: number): void {
    if (this.length === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = w;
  }
}

/**
 * The median of a[0, n), as quantileSorted of the sorted values gives it, by selection in place (reorders
 * them): no sorted copy, and not even a subarray view — one per window of ~800,000 was garbage enough to
 * double an energy run's heap.
 */
export function medianInPlace(a: Float64Array, n: number): number {
  if (n === 0) return Number.NaN;
  const lo = (n - 1) >> 1;
  select(a, n, lo);
  // + 0 as quantileSorted's interpolation adds it: a median of -0 comes out as 0 there too.
  if (n % 2 === 1) return a[lo] + 0;
  let next = a[lo + 1];
  for (let i = lo + 2; i < n; i++) if (a[i] < next) next = a[i];
  return a[lo] + (next - a[lo]) * 0.5;
}

/** Puts the k-th smallest of a[0, n) at a[k], smaller ones before it and larger ones after (Hoare's select). */
function select(a: Float64Array, n: number, k: number): void {
  let left = 0;
  let right = n - 1;
  while (right > left) {
    const pivot = a[(left + right) >> 1];
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return;
  }
}

/** Time-weighted quantile of a step-function series over [from, to]. */
export function timeWeightedQuantile(series: PowerSeries, from: number, to: number, q: number): number {
  // Each reading's level and how long it held, as columns sorted by level through an index: a week of a
  // home meter's readings as [level, duration] pairs was an array each.
  const i0 = Math.max(0, lowerBound(series.ts, from) - 1);
  const levels = new Float64Array(Math.max(0, series.ts.length - i0));
  const held = new Float64Array(levels.length);
  let n = 0;
  for (let i = i0; i < series.ts.length && series.ts[i] < to; i++) {
    const start = Math.max(from, series.ts[i]);
    const end = Math.min(to, i + 1 < series.ts.length ? series.ts[i + 1] : to);
    if (end > start) {
      levels[n] = series.watts[i];
      held[n++] = end - start;
    }
  }
  if (!n) return Number.NaN;
  const order = new Uint32Array(n);
  for (let j = 0; j < n; j++) order[j] = j;
  order.sort((a, b) => levels[a] - levels[b] || a - b);
  let total = 0;
  for (let j = 0; j < n; j++) total += held[order[j]];
  let acc = 0;
  for (let j = 0; j < n; j++) {
    acc += held[order[j]];
    if (acc >= q * total) return levels[order[j]];
  }
  return levels[order[n - 1]];
}

/** Energy (kWh) of a step-function series over [from, to]; the first reading is held back to `from`. */
export function integrateKWh(series: PowerSeries, from: number, to: number): number {
  let wattMs = 0;
  const i0 = Math.max(0, lowerBound(series.ts, from) - 1);
  for (let i = i0; i < series.ts.length && series.ts[i] < to; i++) {
    const start = Math.max(from, series.ts[i]);
    const end = Math.min(to, i + 1 < series.ts.length ? series.ts[i + 1] : to);
    if (end > start) wattMs += series.watts[i] * (end - start);
  }
  return wattMs / 3_600_000 / 1000;
}

/**
 * Every device's on/off transitions in time order, as columns: a busy week holds ~10^6 of them, and as
 * objects they were most of an energy run's peak memory.
 */
interface Transitions {
  length: number;
  ts: Float64Array;
  device: Int32Array;
  on: Uint8Array;
}

/**
 * Walks one device's states transition by transition, within [from, to], summing its on-time on the way:
 * each device's transitions come out in its own time order, so all devices' are merged without a sort.
 */
class TransitionCursor {
  /** The current transition: when, and whether it switched on. */
  ts = Number.NaN;
  on = false;
  /** On-time so far (ms); the whole span's once `next` has returned false. */
  onMs = 0;
  private i = 0;
  private prev: boolean | null = null;
  private onSince: number | null = null;

  constructor(
    private readonly states: OnOffSeries,
    private readonly opts: EnergyOptions,
  ) {}

  next(): boolean {
    const { ts, on } = this.states;
    const { from, to } = this.opts;
    while (this.i < ts.length) {
      const i = this.i++;
      const t = ts[i];
      if (on[i] < 0) {
        if (this.onSince !== null) this.onMs += Math.max(0, Math.min(t, to) - Math.max(this.onSince, from));
        this.onSince = null;
        this.prev = null;
        continue;
      }
      const now = on[i] === 1;
      const switched = this.prev !== null && now !== this.prev && t >= from && t <= to;
      if (now && this.onSince === null) this.onSince = t;
      if (!now && this.onSince !== null) {
        this.onMs += Math.max(0, Math.min(t, to) - Math.max(this.onSince, from));
        this.onSince = null;
      }
      this.prev = now;
      if (switched) {
        this.ts = t;
        this.on = now;
        return true;
      }
    }
    if (this.onSince !== null) this.onMs += Math.max(0, to - Math.max(this.onSince, from));
    this.onSince = null;
    return false;
  }
}

/**
 * All devices' transitions in time order; ties keep device order, then each device's own order. A k-way
 * merge of the devices' cursors straight into the columns: a week of a busy home holds ~400,000
 * transitions, and the index-sort-and-copy this replaced held three columns' worth at once.
 */
function transitionsOf(devices: readonly DeviceStates<PowerSensor>[], opts: EnergyOptions): Transitions {
  let n = 0;
  for (const d of devices) {
    const counting = new TransitionCursor(d.states, opts);
    while (counting.next()) n++;
  }
  const out: Transitions = {
    length: n,
    ts: new Float64Array(n),
    device: new Int32Array(n),
    on: new Uint8Array(n),
  };
  const cursors = devices.map((d) => new TransitionCursor(d.states, opts));
  // A binary min-heap of device indexes, by (current transition time, device index).
  const heap: number[] = [];
  const before = (a: number, b: number) =>
    cursors[a].ts < cursors[b].ts || (cursors[a].ts === cursors[b].ts && a < b);
  const siftDown = (at: number) => {
    for (;;) {
      const l = 2 * at + 1;
      const r = l + 1;
      let least = at;
      if (l < heap.length && before(heap[l], heap[least])) least = l;
      if (r < heap.length && before(heap[r], heap[least])) least = r;
      if (least === at) return;
      const d = heap[at];
      heap[at] = heap[least];
      heap[least] = d;
      at = least;
    }
  };
  for (let d = 0; d < cursors.length; d++) {
    if (!cursors[d].next()) continue;
    heap.push(d);
    for (let at = heap.length - 1; at > 0; ) {
      const parent = (at - 1) >> 1;
      if (!before(heap[at], heap[parent])) break;
      heap[at] = heap[parent];
      heap[parent] = d;
      at = parent;
    }
  }
  for (let k = 0; heap.length; k++) {
    const d = heap[0];
    const c = cursors[d];
    out.ts[k] = c.ts;
    out.device[k] = d;
    out.on[k] = c.on ? 1 : 0;
    if (!c.next()) {
      const last = heap.pop() as number;
      if (heap.length) heap[0] = last;
    }
    siftDown(0);
  }
  return out;
}

function confidenceOf(samples: number, snr: number, measurable: boolean): Confidence {
  if (!measurable) return "none";
  if (samples >= 10 && snr >= 10) return "high";
  if (samples >= 5 && snr >= 5) return "medium";
  return "low";
}

/** PowerMeasure over the readings themselves. */
export function seriesMeasure(opts: EnergyOptions): PowerMeasure<PowerSeries> {
  const before = new Levels();
  const after = new Levels();
  return {
    step(series, _d, ts, on) {
      before.clear().addWindow(series, ts - opts.windowMs, ts);
      after.clear().addWindow(series, ts + opts.settleMs, ts + opts.settleMs + opts.windowMs);
      if (!before.length || !after.length || series.ts[0] > ts - opts.windowMs) return null;
      const delta = after.median() - before.median();
      return on ? delta : -delta;
    },
    standby(d) {
      if (!d.ownSensor) return null;
      const offLevels = before.clear();
      const { ts, on } = d.states;
      for (let j = 0; j < ts.length; j++) {
        if (on[j] !== 0) continue;
        const end = j + 1 < ts.length ? ts[j + 1] : opts.to;
        offLevels.addWindow(d.ownSensor, ts[j] + opts.settleMs, end);
      }
      return offLevels.length ? offLevels.median() : null;
    },
    kWh: (home) => integrateKWh(home, opts.from, opts.to),
    levelQuantile: (home, q) => timeWeightedQuantile(home, opts.from, opts.to, q),
  };
}

/** Measures every device's power step, its share of the home's energy, and the home's standby load. */
export function energyImpact(
  devices: readonly DeviceStates[],
  home: PowerSeries | null,
  opts: EnergyOptions,
): EnergyReport;
export function energyImpact<S extends PowerSensor>(
  devices: readonly DeviceStates<S>[],
  home: S | null,
  opts: EnergyOptions,
  measure: PowerMeasure<S>,
): EnergyReport;
export function energyImpact<S extends PowerSensor>(
  devices: readonly DeviceStates<S>[],
  home: S | null,
  opts: EnergyOptions,
  measure: PowerMeasure<S> = seriesMeasure(opts) as unknown as PowerMeasure<S>,
): EnergyReport {
  // Meters lag by up to settleMs, so an earlier event still moves the readings settleMs after it.
  const guardBefore = opts.windowMs + opts.settleMs;
  const guardAfter = opts.settleMs + opts.windowMs;
  // A dedicated sensor sees only its device; the home sensor sees every device, so a device measured on it
  // is checked against every device's transitions: merged only when some device is.
  const all = home && devices.some((d) => !d.ownSensor) ? transitionsOf(devices, opts) : null;
  const onMs = devices.map(() => 0);
  const steps: Float64Array[] = [];
  const overlapped = devices.map(() => 0);
  const noData = devices.map(() => 0);
  for (let d = 0; d < devices.length; d++) {
    const device = devices[d];
    const series = device.ownSensor ?? home;
    // At most one step per transition, and each transition is a change in the on/off series.
    const mine = new Float64Array(device.states.ts.length);
    let n = 0;
    const cursor = new TransitionCursor(device.states, opts);
    while (cursor.next()) {
      const ts = cursor.ts;
      if (!series) {
        noData[d]++;
        continue;
      }
      if (!device.ownSensor && all && clashes(all, d, ts - guardBefore, ts + guardAfter)) {
        overlapped[d]++;
        continue;
      }
      const step = measure.step(series, d, ts, cursor.on, series === device.ownSensor);
      if (step === null) {
        noData[d]++;
        continue;
      }
      mine[n++] = step;
    }
    onMs[d] = measure.onMs ? measure.onMs(device, d) : cursor.onMs;
    steps.push(mine.subarray(0, n));
  }

  const span = Math.max(0, opts.to - opts.from);
  const totalKWh = home ? measure.kWh(home) : null;
  const homeStandby = home ? measure.levelQuantile(home, 0.05) : Number.NaN;
  const standbyW = Number.isFinite(homeStandby) ? homeStandby : null;
  const impacts: DeviceImpact[] = devices.map((d, i) => {
    const s = steps[i];
    const n = s.length;
    const med = n ? median(s) : Number.NaN;
    const spread = n >= 2 ? robustSpread(s) : 0;
    // Standard error of a median ≈ 1.2533 σ / √n; a floor of 1 W keeps a perfectly flat series finite.
    const se = (1.2533 * Math.max(spread, 1)) / Math.sqrt(Math.max(n, 1));
    const snr = n ? Math.abs(med) / se : 0;
    const measurable = n >= opts.minEvents && snr >= 3 && Math.abs(med) >= opts.minStepW;
    const onHours = onMs[i] / 3_600_000;
    const kWh = measurable ? (Math.max(0, med) * onHours) / 1000 : null;
    const standby = d.ownSensor ? measure.standby(d, i) : null;
    const deviceStandby = standby === null ? null : round(standby);
    return {
      entity_id: d.entity_id,
      name: d.name,
      sensor: (d.ownSensor ?? home)?.entity_id ?? null,
      stepW: measurable ? round(med) : null,
      rawMedianW: n ? round(med) : null,
      spreadW: round(spread),
      samples: n,
      overlapped: overlapped[i],
      noData: noData[i],
      measurable,
      confidence: confidenceOf(n, snr, measurable),
      signalToNoise: round(snr),
      onHours: round(onHours),
      kWh: kWh === null ? null : round(kWh),
      share: kWh !== null && totalKWh ? round(kWh / totalKWh, 4) : null,
      standbyW: deviceStandby,
    };
  });
  impacts.sort((a, b) => {
    if (a.measurable !== b.measurable) return a.measurable ? -1 : 1;
    if (a.measurable) return (b.kWh ?? 0) - (a.kWh ?? 0);
    return b.samples - a.samples || a.entity_id.localeCompare(b.entity_id);
  });
  return {
    from: opts.from,
    to: opts.to,
    homeSensor: home?.entity_id ?? null,
    totalKWh: totalKWh === null ? null : round(totalKWh),
    standbyW: standbyW === null ? null : round(standbyW),
    standbyShare:
      standbyW !== null && totalKWh ? round((standbyW * span) / 3_600_000 / 1000 / totalKWh, 4) : null,
    devices: impacts,
  };
}

/** Whether a device other than `d` switched within [from, to]. */
function clashes(all: Transitions, d: number, from: number, to: number): boolean {
  for (let j = lowerBound(all.ts, from); j < all.length && all.ts[j] <= to; j++)
    if (all.device[j] !== d) return true;
  return false;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Builds a power series from numeric readings in W or kW (by unit); other units are not power. */
export function powerSeries(
  entityId: string,
  readings: readonly { ts: number; value: number | null }[],
  unit: string | undefined,
): PowerSeries | null {
  const sorted = [...readings].sort((a, b) => a.ts - b.ts);
  return powerOf(
    entityId,
    Float64Array.from(sorted, (r) => r.ts),
    Float64Array.from(sorted, (r) => r.value ?? Number.NaN),
    unit,
  );
}

/** powerSeries over ascending columns (the store's): a value that is not a finite number is skipped. */
export function powerOf(
  entityId: string,
  ts: Float64Array,
  values: Float64Array,
  unit: string | undefined,
): PowerSeries | null {
  const scale = unit === "W" ? 1 : unit === "kW" ? 1000 : null;
  if (scale === null) return null;
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) n++;
  const out = { entity_id: entityId, ts: new Float64Array(n), watts: new Float64Array(n) };
  for (let i = 0, k = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) continue;
    out.ts[k] = ts[i];
    out.watts[k++] = values[i] * scale;
  }
  return out;
}
