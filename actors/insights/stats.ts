/**
 * Event search and stats, as pure folds. The SQL layer (queries.ts) reads compact count rows — one per
 * (entity, time bucket) — and these functions turn them into the answer, so the arithmetic is tested on
 * plain arrays and the database only does what it is fast at (indexed range scans and GROUP BY).
 */
import { domainOf, type InsightEvent } from "./types.ts";

/** A stats window the API offers, with the bucket width its chart uses. */
export const STATS_WINDOWS = {
  "1h": { spanMs: 3600_000, bucketMs: 60_000 },
  "24h": { spanMs: 24 * 3600_000, bucketMs: 15 * 60_000 },
  "7d": { spanMs: 7 * 24 * 3600_000, bucketMs: 3600_000 },
  "30d": { spanMs: 30 * 24 * 3600_000, bucketMs: 6 * 3600_000 },
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
  /** One point per bucket across the whole window (empty buckets are 0), for charts. */
  series: { ts: number; count: number; perMinute: number }[];
  /** Events per hour of the day (0..23, UTC), for a daily-pattern chart. */
  hourOfDay: number[];
}

/** Folds count rows into stats; `names` maps entity ids to friendly names where known. */
export function foldStats(
  rows: Iterable<CountRow>,
  opts: { from: number; to: number; bucketMs: number; top: number; names?: ReadonlyMap<string, string> },
): EventStats {
  const { from, to, bucketMs } = opts;
  const first = Math.floor(from / bucketMs) * bucketMs;
  const nBuckets = Math.max(0, Math.ceil((to - first) / bucketMs));
  const series = new Float64Array(nBuckets);
  const perEntity = new Map<string, number>();
  const perDomain = new Map<string, number>();
  const hourOfDay = new Array<number>(24).fill(0);
  let total = 0;
  for (const row of rows) {
    const i = Math.floor((row.bucket - first) / bucketMs);
    if (i < 0 || i >= nBuckets) continue;
    series[i] += row.count;
    total += row.count;
    perEntity.set(row.entity_id, (perEntity.get(row.entity_id) ?? 0) + row.count);
    const domain = domainOf(row.entity_id);
    perDomain.set(domain, (perDomain.get(domain) ?? 0) + row.count);
    // Buckets of an hour or less fall within one hour of the day; wider buckets are spread evenly.
    if (bucketMs <= 3600_000) hourOfDay[new Date(row.bucket).getUTCHours()] += row.count;
    else {
      const hours = bucketMs / 3600_000;
      const start = new Date(row.bucket).getUTCHours();
      for (let h = 0; h < hours; h++) hourOfDay[(start + h) % 24] += row.count / hours;
    }
  }
  const minutes = bucketMs / 60_000;
  return {
    from,
    to,
    bucketMs,
    total,
    domains: [...perDomain]
      .map(([domain, count]) => ({ domain, count }))
      .sort((a, b) => b.count - a.count || a.domain.localeCompare(b.domain)),
    busiest: [...perEntity]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, opts.top)
      .map(([entity_id, count]) => ({ entity_id, name: opts.names?.get(entity_id) ?? null, count })),
    entities: perEntity.size,
    series: Array.from(series, (count, i) => ({
      ts: first + i * bucketMs,
      count,
      perMinute: count / minutes,
    })),
    hourOfDay: hourOfDay.map((n) => Math.round(n)),
  };
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
