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
  type OnOffSeries,
  type PowerMeasure,
  type PowerSeries,
  SWITCHABLE_DOMAINS,
  seriesMeasure,
} from "./energy.ts";
import { PowerFold, SwitchFold } from "./energy-fold-entities.ts";
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
