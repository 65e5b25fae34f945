/**
 * Home Assistant's long-term statistics as rollup buckets (./rollup.ts), for the hours before the raw
 * history HomeIQ holds: one HA hourly row becomes one hourly bucket, and its day's bucket grows by it.
 *
 * - A measurement's row (`mean`, `min`, `max`) is a bucket held for the whole hour: `tw = mean × 3600`,
 *   `tws = 3600`, so the bucket's mean is HA's time-weighted mean; one sample (`n = 1`, `sum = mean`).
 * - A meter's row (`state`, `sum`) grows by the change of HA's `sum` over the hour (`growth`); its state at
 *   the hour's end is its one sample (`n = 1`, `sum`, `min`, `max` = state).
 * - A bucket that exists is never touched: raw rollups (or an earlier import) made it, and they know better.
 *   Only an hour that was new here is added to its day (the day tier is the sum of its hours), so a day
 *   half from statistics and half from raw rollups adds up once.
 * - Days before the hourly tier's retention (`hourlyFromS`, rounded up to a whole day) keep no hours: an
 *   hour retention deleted would look new to a later import and count in its day twice. Such a day is
 *   written whole from its hours, once (an existing day bucket is kept), so its hours must come in one
 *   call (the history import asks for day-aligned windows).
 */
import type { Statement } from "bun:sqlite";
import type { StoreWriter } from "./writer.ts";

/** One HA statistics hour of one entity. */
export interface StatisticHour {
  entity_id: string;
  /** Hour start, unix seconds (a multiple of 3600). */
  t: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  /** A meter's state at the hour's end, or null. */
  state: number | null;
  /** A meter's growth over the hour (change of HA's `sum`), 0 otherwise. */
  growth: number;
}

export interface StatisticsWriteResult {
  /** Hours stored as new buckets. */
  written: number;
  /** Hours whose bucket was there already (left as it was). */
  kept: number;
  /** Rows refused, with the reason (the entity key space full, a non-hour start, no value). */
  rejected: { index: number; error: string }[];
}

const statements = new WeakMap<StoreWriter, { hour: Statement; day: Statement; dayOnce: Statement }>();

function prepare(store: StoreWriter) {
  let q = statements.get(store);
  if (!q) {
    q = {
      hour: store.db.prepare(
        `INSERT OR IGNORE INTO hourly (e, t, n, sum, min, max, tn, tw, tws, growth, on_s, ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, 0, 0)`,
      ),
      dayOnce: store.db.prepare(
        `INSERT OR IGNORE INTO daily (e, t, n, sum, min, max, tn, tw, tws, growth, on_s, ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, 0, 0)`,
      ),
      day: store.db.prepare(
        `INSERT INTO daily (e, t, n, sum, min, max, tn, tw, tws, growth, on_s, ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, 0, 0)
         ON CONFLICT (e, t) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
           tw = tw + excluded.tw, tws = tws + excluded.tws, growth = growth + excluded.growth,
           min = CASE WHEN min IS NULL THEN excluded.min WHEN excluded.min IS NULL THEN min ELSE min(min, excluded.min) END,
           max = CASE WHEN max IS NULL THEN excluded.max WHEN excluded.max IS NULL THEN max ELSE max(max, excluded.max) END`,
      ),
    };
    statements.set(store, q);
  }
  return q;
}

/**
 * Writes statistics hours in one transaction. `hourlyFromS`: the oldest hour the hourly tier keeps (unix
 * seconds, from `store.hourlyDays`); `ceiling` bounds the entity keys new entities may take.
 */
export function writeStatisticHours(
  store: StoreWriter,
  rows: readonly StatisticHour[],
  opts: { hourlyFromS: number; ceiling?: number },
): StatisticsWriteResult {
  const q = prepare(store);
  const out: StatisticsWriteResult = { written: 0, kept: 0, rejected: [] };
  const daysOnlyBefore = Math.ceil(opts.hourlyFromS / 86400) * 86400;
  /** Days before the hourly horizon, summed from their hours: key e * 2^32 + day index. */
  const oldDays = new Map<number, { e: number; t: number; hours: number; row: number[] }>();
  store.db
    .transaction(() => {
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        const measured = r.mean !== null && Number.isFinite(r.mean);
        const metered = r.state !== null && Number.isFinite(r.state);
        if (!Number.isInteger(r.t) || r.t % 3600 !== 0 || (!measured && !metered)) {
          out.rejected.push({
            index: i,
            error: `statistics row of ${r.entity_id}: needs an hour start (unix seconds, multiple of 3600) and a mean or a state`,
          });
          continue;
        }
        const e = store.entityKey(r.entity_id, opts.ceiling);
        if (e === null) {
          out.rejected.push({ index: i, error: `store: no entity key left for ${r.entity_id}` });
          continue;
        }
        const value = measured ? (r.mean as number) : (r.state as number);
        const min = measured ? (r.min ?? value) : value;
        const max = measured ? (r.max ?? value) : value;
        const tw = measured ? value * 3600 : 0;
        const tws = measured ? 3600 : 0;
        const growth = Number.isFinite(r.growth) ? r.growth : 0;
        if (r.t < daysOnlyBefore) {
          const day = r.t - (r.t % 86400);
          const key = e * 2 ** 32 + day / 86400;
          const d = oldDays.get(key);
          if (!d) oldDays.set(key, { e, t: day, hours: 1, row: [1, value, min, max, tw, tws, growth] });
          else {
            d.hours++;
            d.row[0]++;
            d.row[1] += value;
            d.row[2] = Math.min(d.row[2], min);
            d.row[3] = Math.max(d.row[3], max);
            d.row[4] += tw;
            d.row[5] += tws;
            d.row[6] += growth;
          }
          continue;
        }
        if (q.hour.run(e, r.t, 1, value, min, max, tw, tws, growth).changes === 0) {
          out.kept++;
          continue;
        }
        q.day.run(e, r.t - (r.t % 86400), 1, value, min, max, tw, tws, growth);
        out.written++;
      }
      for (const d of oldDays.values()) {
        if (q.dayOnce.run(d.e, d.t, ...d.row).changes === 0) out.kept += d.hours;
        else out.written += d.hours;
      }
    })
    .immediate();
  return out;
}
