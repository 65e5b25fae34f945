/**
 * The analyses' history, folded in as it arrives instead of re-read every run: per entity, what health and
 * energy read of its rows in the window, as compact columns (time 8 bytes, one flag byte, and for sensors
 * the value 8 bytes), plus the few scalars their rules ask of the newest row. Old rows leave at the front
 * when the window moves on.
 *
 * Exact by construction: the reports run the same judges (health.ts judgeSeries, energy.ts energyImpact)
 * over views of these columns that answer every question the judges ask exactly as the store's columns
 * did — the state comparisons through a changed-flag per row, battery levels through a low-flag, on/off
 * through a class per row, values only for power sensors. What the judges need is order statistics (p90 of update gaps, medians of power
 * around each switch), and those need the window's values, so a row costs 9 bytes here (17 for a power sensor)
 * where the store holds ~65: a summary with fewer bytes would make the answers approximate.
 *
 * Rows of one entity must come in time order; a row at or behind its entity's newest is refused (the
 * caller rebuilds that entity from the store). Pure: rows in, views out; no I/O.
 */

import { domainOf } from "../../runtime/store/insights/types.ts";
import type { WindowRow } from "../../runtime/store/insights-reader.ts";
import { ByEntity } from "./by-entity.ts";
import { type OnOffSeries, onOffClass, type PowerSeries, powerOf, SWITCHABLE_DOMAINS } from "./energy.ts";
import type { HealthSeries } from "./health.ts";
import { batteryLevel } from "./inputs.ts";

/** One stored row as the fold takes it (the store's WindowRow; its text is read only for switchables). */
export type FoldRow = WindowRow;

const CHANGED = 1;
const LOW_BATTERY = 2;
/** Bits 2-3: the on/off class + 1 (0 neither, 1 off, 2 on). */
const CLASS_SHIFT = 2;

/** One entity's rows in the window as columns, with what the judges ask of its newest row. */
export class EntityFold {
  readonly domain: string;
  readonly sensor: boolean;
  readonly switchable: boolean;
  private ts = new Float64Array(16);
  private flags = new Uint8Array(16);
  private value: Float64Array | null;
  private start = 0;
  private end = 0;
  private lastState = -2;
  private lastValue = Number.NaN;
  /** When the trailing run of one state began (a row's time; rows are unique in time per entity). */
  private lastChangeTs = Number.NaN;
  private lastLevel: number | null = null;
  private lastUnit: unknown;

  /**
   * @param keepValues hold each row's value: only a power sensor's are read (energy), so a sensor's are
   *   kept once a row of it reports W or kW, and the entity is folded again from the store to have them all
   */
  constructor(
    readonly entityId: string,
    private readonly lowBatteryPct: number,
    keepValues = false,
  ) {
    this.domain = domainOf(entityId);
    this.sensor = this.domain === "sensor";
    this.switchable = SWITCHABLE_DOMAINS.has(this.domain);
    this.value = this.sensor && keepValues ? new Float64Array(16) : null;
  }

  get length(): number {
    return this.end - this.start;
  }

  /** Time of the newest row, or -Infinity. */
  get newest(): number {
    return this.end > this.start ? this.ts[this.end - 1] : Number.NEGATIVE_INFINITY;
  }

  /** Bytes the columns hold (capacity), for the fold's gauge. */
  get bytes(): number {
    return this.ts.byteLength + this.flags.byteLength + (this.value?.byteLength ?? 0);
  }

  /**
   * Appends a row; false (and nothing changed) when it is not newer than the newest row, or when it is a
   * sensor's first row in W or kW and its values were not kept: fold the entity again, keeping values.
   */
  push(row: FoldRow): boolean {
    if (row.ts <= this.newest) return false;
    const unit = row.attributes.unit_of_measurement;
    if (this.sensor && !this.value && (unit === "W" || unit === "kW")) return false;
    if (this.end === this.ts.length) this.makeRoom();
    const same =
      this.length > 0 &&
      row.state === this.lastState &&
      // Numbers compare as their texts would: 0 and -0 print alike, and NaN equals NaN (as the store's columns).
      (row.state !== -1 || row.value === this.lastValue || Object.is(row.value, this.lastValue));
    if (!same) this.lastChangeTs = row.ts;
    const level = batteryLevel(row.attributes, Number.isNaN(row.value) ? null : row.value);
    let flags = same ? 0 : CHANGED;
    if (level !== null && level <= this.lowBatteryPct) flags |= LOW_BATTERY;
    if (this.switchable) flags |= (onOffClass(this.domain, row.stateText()) + 1) << CLASS_SHIFT;
    const i = this.end++;
    this.ts[i] = row.ts;
    this.flags[i] = flags;
    if (this.value) this.value[i] = row.value;
    this.lastState = row.state;
    this.lastValue = row.value;
    this.lastLevel = level;
    this.lastUnit = unit;
    return true;
  }

  /** Drops rows before `from`; the newest row's scalars stay (they only matter while it is in the window). */
  trim(from: number): void {
    let i = this.start;
    while (i < this.end && this.ts[i] < from) i++;
    this.start = i;
  }

  /** The rows as the health judge reads them. `stateText` resolves the newest row's state. */
  healthSeries(stateText: (state: number, value: number) => string): HealthSeries {
    const { ts, flags, start } = this;
    const n = this.length;
    const low = this.lowBatteryPct;
    return {
      length: n,
      ts: (i) => ts[start + i],
      state: () => stateText(this.lastState, this.lastValue),
      sameState: (i, j) => {
        const a = Math.min(i, j);
        const b = Math.max(i, j);
        if (b === a + 1) return (flags[start + b] & CHANGED) === 0;
        if (b !== n - 1)
          throw new Error("EntityFold: sameState only between neighbours or with the newest row");
        // Every row from the trailing run's start on holds the newest row's state.
        return ts[start + a] >= this.lastChangeTs;
      },
      battery: (i) => (i === n - 1 ? this.lastLevel : (flags[start + i] & LOW_BATTERY) !== 0 ? low : null),
    };
  }

  /** A sensor's readings as power (W), when its newest row's unit is W or kW; else null. */
  power(): PowerSeries | null {
    if (!this.value || (this.lastUnit !== "W" && this.lastUnit !== "kW")) return null;
    const values = this.value.subarray(this.start, this.end);
    // In W and every reading a number (the usual meter): the columns themselves, no week-long copy per run.
    if (this.lastUnit === "W" && values.every(Number.isFinite))
      return values.length
        ? { entity_id: this.entityId, ts: this.ts.subarray(this.start, this.end), watts: values }
        : null;
    const series = powerOf(
      this.entityId,
      this.ts.subarray(this.start, this.end),
      this.value.subarray(this.start, this.end),
      this.lastUnit,
    );
    return series?.ts.length ? series : null;
  }

  /** A switchable's on/off changes (as energy.ts onOffOf gives them over the same rows). */
  onOff(): OnOffSeries {
    const { ts, flags, start, end } = this;
    const classAt = (i: number) => ((flags[i] >> CLASS_SHIFT) & 3) - 1;
    let changes = 0;
    for (let i = start, last = 2; i < end; i++) {
      const c = classAt(i);
      if (c !== last) changes++;
      last = c;
    }
    const out = { ts: new Float64Array(changes), on: new Int8Array(changes) };
    for (let i = start, k = 0, last = 2; i < end; i++) {
      const c = classAt(i);
      if (c === last) continue;
      out.ts[k] = ts[i];
      out.on[k++] = c;
      last = c;
    }
    return out;
  }

  /** Moves the window's rows to the front, or grows the columns when they are more than half full. */
  private makeRoom(): void {
    const n = this.length;
    const size = n * 2 > this.ts.length ? this.ts.length * 2 : this.ts.length;
    const move = <A extends Float64Array | Uint8Array>(a: A, make: (k: number) => A): A => {
      if (size === a.length) {
        a.copyWithin(0, this.start, this.end);
        return a;
      }
      const b = make(size);
      b.set(a.subarray(this.start, this.end), 0);
      return b;
    };
    this.ts = move(this.ts, (k) => new Float64Array(k));
    this.flags = move(this.flags, (k) => new Uint8Array(k));
    if (this.value) this.value = move(this.value, (k) => new Float64Array(k));
    this.start = 0;
    this.end = n;
  }
}

/** Every entity's fold, by the store's entity key. */
export class HistoryFold {
  private readonly entities: ByEntity<EntityFold>;

  constructor(private readonly lowBatteryPct: number) {
    this.entities = new ByEntity((id) => new EntityFold(id, lowBatteryPct));
  }

  /** Folds one row of entity `e`; false when the entity must be folded again from the store (refold). */
  push(e: number, entityId: string, row: FoldRow): boolean {
    return this.entities.of(e, entityId).push(row);
  }

  /** Starts entity `e` afresh, keeping its values, before its rows are folded again from the store. */
  refold(e: number, entityId: string): void {
    this.entities.replace(e, new EntityFold(entityId, this.lowBatteryPct, true));
  }

  /** Forgets one entity (none of its rows is in the window any more). */
  drop(e: number): void {
    this.entities.delete(e);
  }

  clear(): void {
    this.entities.clear();
  }

  /** Drops rows before `from`, and entities left with none. */
  trim(from: number): void {
    this.entities.retain((fold) => {
      fold.trim(from);
      return fold.length > 0;
    });
  }

  /** Entities with rows, in the store's key order (the order the full read visits them in). */
  each(): Iterable<EntityFold> {
    return this.entities.each();
  }

  get size(): number {
    return this.entities.size;
  }

  /** Rows held, and the bytes their columns take. */
  usage(): { rows: number; bytes: number } {
    let rows = 0;
    let bytes = 0;
    for (const f of this.entities.values()) {
      rows += f.length;
      bytes += f.bytes;
    }
    return { rows, bytes };
  }
}
