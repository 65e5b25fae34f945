/**
 * The simulated home's past: days of recorded state changes and months of long-term statistics before
 * the simulator started, as a real HA's recorder holds them when HomeIQ is installed on an old home.
 *
 * Nothing is held in memory: every row is a pure function of (seed, entity, change index), so any window
 * is generated when asked for and the same window always gives the same rows. Entity i's change k falls at
 * `origin + k × period + jitter(i, k)` with jitter below half a period, so the change before any instant
 * is found without walking from the start. Every row changes the state (lc = lu, as a real change), and
 * its `last_updated_ts` is a raw double with a sub-µs part, as HA's `time.time()`; the key a client
 * stores is the µs CPython derives from it (`usFromTimestamp`).
 *
 * Statistics follow HA's recorder (`recorder/statistics.py`): one row per full hour for sensors with a
 * `state_class`; `mean`/`min`/`max` time-weighted over the hour for measurements, `state`/`sum` for meters
 * (sum = growth since the statistics began). They cover `statisticsDays` before the history's end.
 */
import { jsonFloat, usFromTimestamp } from "../runtime/events/cpython-time.ts";

export const HOUR_US = 3_600_000_000;
export const DAY_US = 86_400_000_000;

/** One entity as the past knows it: what it is, its recorded attributes, and its change period. */
export interface PastEntity {
  entityId: string;
  kind: string;
  attrsJson: string;
}

interface Track {
  entityId: string;
  kind: string;
  attrsJson: string;
  hash: number;
  periodUs: number;
  stat: "measurement" | "total_increasing" | null;
}

/** Seconds between an entity's changes, by kind (a power meter reports often, a person rarely). */
const PERIOD_S: Record<string, number> = {
  temperature: 600,
  humidity: 900,
  power: 120,
  energy: 600,
  motion: 1800,
  door: 3600,
  light: 2700,
  switch: 3600,
  climate: 3600,
  person: 14400,
  weather: 1800,
};

function hash32(text: string, seed: number): number {
  let h = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** A uniform [0, 1) from (entity hash, change index, salt): the same inputs always give the same value. */
function unit(h: number, k: number, salt: number): number {
  let t = (h ^ Math.imul(k + 0x9e3779b9, 0x85ebca6b) ^ Math.imul(salt, 0xc2b2ae35)) >>> 0;
  t = Math.imul(t ^ (t >>> 16), 0x7feb352d) >>> 0;
  t = Math.imul(t ^ (t >>> 15), 0x846ca68b) >>> 0;
  return ((t ^ (t >>> 16)) >>> 0) / 4294967296;
}

export interface PastOptions {
  seed: number;
  /** Days of raw history before `endUs` (HA's `purge_keep_days`). */
  days: number;
  /** Days of hourly statistics before `endUs` (HA keeps them for good; bounded here). */
  statisticsDays: number;
  /** The history ends here (µs): the simulator's start. */
  endUs: number;
}

export interface PastRow {
  state: string;
  /** `last_updated_ts` as HA's recorder stores it (raw seconds). */
  ts: number;
}

export class PastHistory {
  readonly startUs: number;
  readonly endUs: number;
  readonly statisticsStartUs: number;
  private readonly tracks = new Map<string, Track>();
  /** Every change is at or after this µs (the statistics start, so means have samples to hold). */
  private readonly originUs: number;

  constructor(entities: readonly PastEntity[], opts: PastOptions) {
    this.endUs = opts.endUs;
    this.startUs = opts.endUs - opts.days * DAY_US;
    this.statisticsStartUs = Math.floor((opts.endUs - opts.statisticsDays * DAY_US) / HOUR_US) * HOUR_US;
    this.originUs = Math.min(this.startUs, this.statisticsStartUs) - DAY_US;
    for (const e of entities) {
      const attrs = e.attrsJson;
      const stat = attrs.includes('"state_class":"measurement"')
        ? "measurement"
        : attrs.includes('"state_class":"total_increasing"')
          ? "total_increasing"
          : null;
      this.tracks.set(e.entityId, {
        entityId: e.entityId,
        kind: e.kind,
        attrsJson: attrs,
        hash: hash32(e.entityId, opts.seed),
        periodUs: (PERIOD_S[e.kind] ?? 1800) * 1e6,
        stat,
      });
    }
  }

  /** Change k's `last_updated_ts`: within the first half of its period, with a sub-µs part. */
  private tsOf(t: Track, k: number): number {
    const us = this.originUs + k * t.periodUs + Math.floor(unit(t.hash, k, 1) * (t.periodUs / 2));
    return (us + 0.05 + unit(t.hash, k, 2) * 0.9) / 1e6;
  }

  /** Change k's numeric value (numeric kinds); continuous in time so hours join up. */
  private valueOf(t: Track, k: number): number {
    const tod = (2 * Math.PI * ((this.originUs + k * t.periodUs) % DAY_US)) / DAY_US;
    const r = unit(t.hash, k, 3);
    switch (t.kind) {
      case "temperature":
        return Math.round((20 + 3 * Math.sin(tod) + (t.hash % 40) / 10 + r) * 10) / 10;
      case "humidity":
        return Math.round((55 + 12 * Math.cos(tod) + 5 * r) * 10) / 10;
      case "power":
        return Math.round((r < 0.1 ? 1500 + 1000 * r : 40 + 200 * r) * 10) / 10;
      default:
        // energy: a meter rising by about 0.02 kWh a change, never falling.
        return Math.round((100 + (t.hash % 1000) + k * 0.02 + 0.01 * r) * 1000) / 1000;
    }
  }

  private stateOf(t: Track, k: number): string {
    switch (t.kind) {
      case "temperature":
      case "humidity":
      case "power": {
        // A real state change: equal to the one before would not have been recorded, so nudge it.
        const v = this.valueOf(t, k);
        const prev = this.valueOf(t, k - 1);
        return (v === prev ? v + 0.1 : v).toFixed(1);
      }
      case "energy":
        return this.valueOf(t, k).toFixed(3);
      case "climate":
        return k % 2 === 0 ? "heat" : "off";
      case "person":
        return k % 2 === 0 ? "home" : "not_home";
      case "weather":
        return ["sunny", "cloudy", "rainy", "partlycloudy"][k % 4];
      default:
        return k % 2 === 0 ? "on" : "off";
    }
  }

  /** The newest change index at or before `us` (changes before the origin do not exist: -1). */
  private indexAt(t: Track, us: number): number {
    if (us < this.originUs) return -1;
    let k = Math.floor((us - this.originUs) / t.periodUs);
    while (k >= 0 && this.tsOf(t, k) * 1e6 > us) k--;
    return k;
  }

  /** Entity ids the past knows. */
  has(entityId: string): boolean {
    return this.tracks.has(entityId);
  }

  /**
   * Rows of one entity with `startUs < ts < endUs` (start inclusive when `startExclusive` is false),
   * within the history's days; calls `row` for each in time order.
   */
  forEachRow(
    entityId: string,
    startUs: number,
    endUs: number,
    startExclusive: boolean,
    row: (state: string, ts: number) => void,
  ): void {
    const t = this.tracks.get(entityId);
    if (!t) return;
    const from = Math.max(startUs, this.startUs);
    const to = Math.min(endUs, this.endUs);
    if (from >= to) return;
    for (let k = Math.max(0, this.indexAt(t, from)); ; k++) {
      const ts = this.tsOf(t, k);
      const us = ts * 1e6;
      if (us >= to) break;
      if (us < this.startUs || us < from || (startExclusive && us <= startUs)) continue;
      row(this.stateOf(t, k), ts);
    }
  }

  /** The newest row before `us` within the history, or null. */
  rowBefore(entityId: string, us: number): PastRow | null {
    const t = this.tracks.get(entityId);
    if (!t) return null;
    const k = this.indexAt(t, Math.min(us, this.endUs) - 1);
    if (k < 0 || this.tsOf(t, k) * 1e6 < this.startUs) return null;
    return { state: this.stateOf(t, k), ts: this.tsOf(t, k) };
  }

  /** The keys (`entity@µs`) of every row in [startUs, endUs), for tests that compare with a store. */
  keys(entityIds: Iterable<string>, startUs = this.startUs, endUs = this.endUs): string[] {
    const out: string[] = [];
    for (const id of entityIds)
      this.forEachRow(id, startUs, endUs, false, (_s, ts) => out.push(`${id}@${usFromTimestamp(ts)}`));
    return out;
  }

  /**
   * HA's compressed history for [startUs, endUs) as `{entity_id: rows}` parts (`"id":[...]`), one per
   * entity with rows; `includeStart` adds each entity's state at the start, stamped with the start.
   */
  renderGroups(
    startUs: number,
    endUs: number,
    entityIds: Iterable<string>,
    opts: { noAttributes: boolean; includeStart: boolean; startExclusive: boolean },
  ): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const id of entityIds) {
      const t = this.tracks.get(id);
      if (!t || startUs >= this.endUs || endUs <= this.startUs) continue;
      const a = opts.noAttributes ? "" : `,"a":${t.attrsJson}`;
      const rows: string[] = [];
      if (opts.includeStart) {
        const before = this.rowBefore(id, startUs);
        if (before) rows.push(`{"s":${JSON.stringify(before.state)}${a},"lu":${jsonFloat(startUs / 1e6)}}`);
      }
      this.forEachRow(id, startUs, endUs, opts.startExclusive, (s, ts) =>
        rows.push(`{"s":${JSON.stringify(s)}${a},"lu":${jsonFloat(ts)}}`),
      );
      if (rows.length > 0) groups.set(id, rows);
    }
    return groups;
  }

  /**
   * HA's `recorder/statistics_during_period` answer (period "hour") as an object: for each asked id with
   * statistics, one row per full hour in [startUs, endUs) within the statistics' days, with the asked
   * `types` of mean/min/max (measurements) or state/sum/last_reset (meters); start/end in ms.
   */
  statistics(
    startUs: number,
    endUs: number,
    ids: Iterable<string>,
    types: ReadonlySet<string>,
  ): Record<string, Record<string, number | null>[]> {
    const out: Record<string, Record<string, number | null>[]> = {};
    const from = Math.max(Math.ceil(startUs / HOUR_US) * HOUR_US, this.statisticsStartUs);
    const to = Math.min(endUs, Math.floor(this.endUs / HOUR_US) * HOUR_US);
    for (const id of ids) {
      const t = this.tracks.get(id);
      if (!t || t.stat === null || from >= to) continue;
      const rows: Record<string, number | null>[] = [];
      const base =
        t.stat === "total_increasing" ? this.valueOf(t, this.indexAt(t, this.statisticsStartUs)) : 0;
      for (let h = from; h + HOUR_US <= to; h += HOUR_US) {
        const row: Record<string, number | null> = { start: h / 1000, end: (h + HOUR_US) / 1000 };
        if (t.stat === "measurement") {
          const m = this.hourMeasure(t, h);
          if (types.has("mean")) row.mean = m.mean;
          if (types.has("min")) row.min = m.min;
          if (types.has("max")) row.max = m.max;
        } else {
          const state = this.valueOf(t, this.indexAt(t, h + HOUR_US - 1));
          if (types.has("last_reset")) row.last_reset = null;
          if (types.has("state")) row.state = state;
          if (types.has("sum")) row.sum = Math.round((state - base) * 1000) / 1000;
        }
        rows.push(row);
      }
      out[id] = rows;
    }
    return out;
  }

  /** Time-weighted mean, min and max of a measurement over the hour starting at `h` (µs). */
  hourMeasure(t: Track, h: number): { mean: number; min: number; max: number } {
    let k = this.indexAt(t, h);
    let value = Number(this.stateOf(t, k));
    let at = h;
    let tw = 0;
    let min = value;
    let max = value;
    for (;;) {
      const next = this.tsOf(t, k + 1) * 1e6;
      const until = Math.min(next, h + HOUR_US);
      tw += value * (until - at);
      if (next >= h + HOUR_US) break;
      k++;
      at = next;
      value = Number(this.stateOf(t, k));
      if (value < min) min = value;
      if (value > max) max = value;
    }
    return { mean: tw / HOUR_US, min, max };
  }
}
