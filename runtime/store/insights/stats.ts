/**
 * Event search and stats, as pure folds. The SQL layer (runtime/store/insights-reader.ts) reads compact count rows — one per
 * (entity, time bucket) — and these functions turn them into the answer, so the arithmetic is tested on
 * plain arrays and the database only does what it is fast at (indexed range scans and GROUP BY).
 */
import { LocalClock } from "../../kernel/local-time.ts";
import { domainOf, type InsightEvent } from "./types.ts";

const DAY_MS = 86_400_000;
const UTC = new LocalClock("UTC");

/** A stats window the API offers, with the bucket width its chart uses. */
export const STATS_WINDOWS = {
  "1h": { spanMs: 3600_000, bucketMs: 60_000 },
  "24h": { spanMs: 24 * 3600_000, bucketMs: 3600_000 },
  "7d": { spanMs: 7 * 24 * 3600_000, bucketMs: 3600_000 },
  "30d": { spanMs: 30 * 24 * 3600_000, bucketMs: 24 * 3600_000 },
} as const;
export type StatsWindow = keyof typeof STATS_WINDOWS;

/** Events of one entity within one bucket starting at `bucket` (ms, a multiple of the bucket width). */
export interface CountRow {
  entity_id: string;
  bucket: number;
  count: number;
}

export interface EventStats {
  from: number;
  to: number;
  bucketMs: number;
  total: number;
  domains: { domain: string; count: number }[];
  /** The busiest entities, most events first; at most `top`. */
  busiest: { entity_id: string; name: string | null; count: number }[];
  /** Distinct entities with at least one event in the window. */
  entities: number;
  /**
   * One point per bucket across the whole window (empty buckets are 0), for charts. Day buckets are the
   * home's local days (23 or 25 hours long on a DST change; `perMinute` divides by the real length).
   */
  series: { ts: number; count: number; perMinute: number }[];
  /**
   * Events per local hour of the day (0..23, in `timeZone`), for a daily-pattern chart. Rows finer than an
   * hour count exactly; an hourly rollup row counts at its start (in zones offset by :30 or :45 from UTC
   * its hour straddles two local hours).
   */
  hourOfDay: number[];
  /** The IANA zone hours and days are counted in: the home's (HA's time_zone), or UTC. */
  timeZone: string;
}

/** What a stats fold covers; `clock` is the home's zone (default UTC). */
export interface StatsOptions {
  from: number;
  to: number;
  bucketMs: number;
  clock?: LocalClock;
}

/**
 * Adds up counts by entity key and bucket without allocating per row: entity keys are small integers (the
 * store's entity keys, or indices), totals live in typed arrays. The SQL layer feeds it rows straight from
 * its cursors; `foldStats` feeds it arrays.
 */
export class StatsAccumulator {
  private readonly first: number;
  private readonly series: Float64Array;
  private perEntity = new Float64Array(1024);
  private readonly hourOfDay = new Float64Array(24);
  private total = 0;
  private readonly clock: LocalClock;
  /** Day buckets: local day number of the first bucket; NaN for fixed-width buckets. */
  private readonly firstDay: number = Number.NaN;

  constructor(private readonly opts: StatsOptions) {
    this.clock = opts.clock ?? UTC;
    if (opts.bucketMs === DAY_MS) {
      this.firstDay = this.clock.dayOf(opts.from);
      this.first = this.clock.startOfDay(this.firstDay);
      const lastDay = this.clock.dayOf(Math.max(opts.from, opts.to - 1));
      this.series = new Float64Array(opts.to > opts.from ? lastDay - this.firstDay + 1 : 0);
    } else {
      this.first = Math.floor(opts.from / opts.bucketMs) * opts.bucketMs;
      this.series = new Float64Array(Math.max(0, Math.ceil((opts.to - this.first) / opts.bucketMs)));
    }
  }

  /** Counts `count` events of entity `key` at time `ts` (ms; an event's time or a rollup hour's start). */
  add(key: number, ts: number, count: number): void {
    const i = Number.isNaN(this.firstDay)
      ? Math.floor((ts - this.first) / this.opts.bucketMs)
      : this.clock.dayOf(ts) - this.firstDay;
    if (i < 0 || i >= this.series.length) return;
    this.series[i] += count;
    this.total += count;
    if (key >= this.perEntity.length) {
      const grown = new Float64Array(Math.max(key + 1, this.perEntity.length * 2));
      grown.set(this.perEntity);
      this.perEntity = grown;
    }
    this.perEntity[key] += count;
    this.hourOfDay[this.clock.hourOf(ts)] += count;
  }

  /** The answer; `entityOf(key)` names an entity key (null: unknown key, skipped in lists). */
  result(
    entityOf: (key: number) => string | null,
    top: number,
    names?: ReadonlyMap<string, string>,
  ): EventStats {
    const perDomain = new Map<string, number>();
    const entities: { entity_id: string; count: number }[] = [];
    for (let key = 0; key < this.perEntity.length; key++) {
      const count = this.perEntity[key];
      if (count === 0) continue;
      const entity_id = entityOf(key) ?? `unknown.${key}`;
      entities.push({ entity_id, count });
      const domain = domainOf(entity_id);
      perDomain.set(domain, (perDomain.get(domain) ?? 0) + count);
    }
    entities.sort((a, b) => b.count - a.count || a.entity_id.localeCompare(b.entity_id));
    const minutes = this.opts.bucketMs / 60_000;
    return {
      from: this.opts.from,
      to: this.opts.to,
      bucketMs: this.opts.bucketMs,
      total: this.total,
      domains: [...perDomain]
        .map(([domain, count]) => ({ domain, count }))
        .sort((a, b) => b.count - a.count || a.domain.localeCompare(b.domain)),
      busiest: entities
        .slice(0, top)
        .map(({ entity_id, count }) => ({ entity_id, name: names?.get(entity_id) ?? null, count })),
      entities: entities.length,
      series: Array.from(this.series, (count, i) => {
        if (Number.isNaN(this.firstDay))
          return { ts: this.first + i * this.opts.bucketMs, count, perMinute: count / minutes };
        const ts = this.clock.startOfDay(this.firstDay + i);
        return { ts, count, perMinute: count / (this.clock.dayLengthMs(this.firstDay + i) / 60_000) };
      }),
      hourOfDay: Array.from(this.hourOfDay),
      timeZone: this.clock.timeZone,
    };
  }
}

/** Folds count rows into stats; `names` maps entity ids to friendly names where known. */
export function foldStats(
  rows: Iterable<CountRow>,
  opts: StatsOptions & { top: number; names?: ReadonlyMap<string, string> },
): EventStats {
  const acc = new StatsAccumulator(opts);
  const keys = new Map<string, number>();
  const ids: string[] = [];
  for (const row of rows) {
    let key = keys.get(row.entity_id);
    if (key === undefined) {
      key = ids.length;
      keys.set(row.entity_id, key);
      ids.push(row.entity_id);
    }
    acc.add(key, row.bucket, row.count);
  }
  return acc.result((key) => ids[key] ?? null, opts.top, opts.names);
}

/** Turns events into count rows (tests, and small windows read as raw events). */
export function countRows(events: Iterable<InsightEvent>, bucketMs: number): CountRow[] {
  const map = new Map<string, CountRow>();
  for (const e of events) {
    const bucket = Math.floor(e.ts / bucketMs) * bucketMs;
    const key = `${e.entity_id}\u0000${bucket}`;
    const row = map.get(key);
    if (row) row.count++;
    else map.set(key, { entity_id: e.entity_id, bucket, count: 1 });
  }
  return [...map.values()];
}

/**
 * A search query: whitespace-separated terms, all of which must occur (case-insensitive) in the entity id,
 * the friendly name or the state. Quotes keep a phrase together: `"living room" on`.
 */
export function parseQuery(q: string): string[] {
  const terms: string[] = [];
  for (const m of q.matchAll(/"([^"]*)"|(\S+)/g)) {
    const term = (m[1] ?? m[2]).trim().toLowerCase();
    if (term) terms.push(term);
  }
  return terms;
}

/**
 * Splits the terms into those every candidate entity satisfies by its id or name and those left for the
 * state: the SQL layer then filters rows only on what the entity alone cannot answer.
 */
export function matchEntity(
  terms: readonly string[],
  entityId: string,
  name: string | null,
): { matched: boolean; remaining: string[] } {
  const id = entityId.toLowerCase();
  const friendly = name?.toLowerCase() ?? "";
  const remaining = terms.filter((t) => !id.includes(t) && !friendly.includes(t));
  return { matched: remaining.length === 0, remaining };
}

/** Whether an event matches every term by entity id, friendly name or state. */
export function matchesEvent(terms: readonly string[], e: InsightEvent, name: string | null): boolean {
  const { remaining } = matchEntity(terms, e.entity_id, name);
  if (remaining.length === 0) return true;
  const state = e.state.toLowerCase();
  return remaining.every((t) => state.includes(t));
}
