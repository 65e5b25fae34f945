/**
 * Rollups, retention and the disk bound, as bounded steps the batcher interleaves with ingest.
 *
 * - Rollup: a tail position (./tail.ts: insertion order, so late backfill is rolled too) folds at most
 *   `rollupChunk` raw events per step into `hourly` and `daily`, position and tiers in one transaction.
 * - Entity index: rows past `meta.indexed_to` go into `entity_index` in (entity, id) order, at most
 *   `rollupChunk` per step, so each entity's pages are touched once per step instead of once per commit.
 * - Retention: raw events older than `rawDays` are deleted once rolled up; hourly buckets older than
 *   `hourlyDays`, daily older than `dailyDays`, readings older than `dailyDays`.
 * - Disk bound (`maxBytes`, bytes in use = pages not on the free list): while over it, the oldest
 *   rolled-up raw events go first (chunk by chunk), then the oldest hourly, then daily buckets. Freed pages
 *   are reused by SQLite, so the file stops growing instead of shrinking (no VACUUM stalls).
 * - While a sink (InfluxDB) is configured, neither retention nor the disk bound deletes a raw event the
 *   sink has not acknowledged: an InfluxDB outage on a full store must not lose what InfluxDB never got.
 *   Held events may take the store past `maxBytes` by at most `unexportedHoldBytes`; past that the disk
 *   bound wins, loudly: the step reports each such event as `droppedUnexported` (a counter, an error log
 *   and a degraded /health/deep in the batcher and API).
 * - Journal (late rows only): truncated behind both the rollup and the Influx writer (when it runs).
 */
import type { Statement } from "bun:sqlite";
import { ENTITY_BITS } from "./schema.ts";
import { metaPosition, positionIdSql, StoredPosition, type TailPosition, TailReader } from "./tail.ts";
import type { StoreWriter } from "./writer.ts";

export interface MaintenanceOptions {
  rawDays: number;
  hourlyDays: number;
  dailyDays: number;
  maxBytes: number;
  rollupChunk: number;
  /** How far past `maxBytes` raw events the sink has not acknowledged are held before the bound wins. */
  unexportedHoldBytes: number;
}

export interface StepReport {
  rolled: number;
  expired: number;
  evicted: number;
  journalTrimmed: number;
  /** Raw events deleted before the sink acknowledged them (the disk bound won past the hold). */
  droppedUnexported: number;
  /** Whether the store is over `maxBytes` because it holds events the sink has not acknowledged. */
  holdingUnexported: boolean;
}

type Agg = {
  e: number;
  t: number;
  n: number;
  sum: number;
  min: number;
  max: number;
  tn: number;
  lastS: number | null;
  lastUs: number;
};

const HOUR_US = 3_600_000_000;
const DAY_US = 86_400_000_000;
const DAY_MS = 86_400_000;

type RollupRow = { v: number | null; s: number | null };

export class StoreMaintenance {
  private readonly q: Record<string, Statement>;
  private readonly tail: TailReader<RollupRow>;
  private readonly stored: StoredPosition;
  private rollup: TailPosition;

  constructor(
    private readonly store: StoreWriter,
    private readonly opts: MaintenanceOptions,
    /**
     * Where the Influx writer stands in events.db, or null when it is off. Rows past it (and journal rows
     * past its seq) are unacknowledged: retention and the disk bound keep them.
     */
    private readonly exportPosition: () => TailPosition | null = () => null,
  ) {
    const db = store.db;
    const upsert = (tier: string) =>
      db.prepare(`INSERT INTO ${tier} (e, t, n, sum, min, max, tn, last_s, last_us) VALUES (?,?,?,?,?,?,?,?,?)
        ON CONFLICT (e, t) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
          min = CASE WHEN min IS NULL THEN excluded.min WHEN excluded.min IS NULL THEN min ELSE min(min, excluded.min) END,
          max = CASE WHEN max IS NULL THEN excluded.max WHEN excluded.max IS NULL THEN max ELSE max(max, excluded.max) END,
          tn = tn + excluded.tn,
          last_s = CASE WHEN excluded.last_us IS NOT NULL AND (last_us IS NULL OR excluded.last_us >= last_us)
            THEN excluded.last_s ELSE last_s END,
          last_us = CASE WHEN excluded.last_us IS NOT NULL AND (last_us IS NULL OR excluded.last_us >= last_us)
            THEN excluded.last_us ELSE last_us END`);
    this.tail = new TailReader<RollupRow>(db, "ev.v AS v, ev.s AS s");
    this.stored = new StoredPosition(db, "rollup");
    this.q = {
      hourly: upsert("hourly"),
      daily: upsert("daily"),
      // The next `?1` rows past indexed_to, sorted by entity: appends at the end of each entity's run.
      index: db.prepare(
        `INSERT OR IGNORE INTO entity_index (e, id)
         SELECT e, id FROM (SELECT e, id FROM events
           WHERE id > (SELECT value FROM meta WHERE key = 'indexed_to') ORDER BY id LIMIT ?1)
         ORDER BY e, id`,
      ),
      indexedTo: db.prepare(
        `UPDATE meta SET value = coalesce((SELECT max(id) FROM (SELECT id FROM events
           WHERE id > (SELECT value FROM meta WHERE key = 'indexed_to') ORDER BY id LIMIT ?1)), value)
         WHERE key = 'indexed_to'`,
      ),
      journalHead: db.prepare("SELECT coalesce(max(seq), 0) AS seq FROM journal"),
      journalTail: db.prepare("SELECT coalesce(min(seq), 0) AS seq FROM journal"),
      trimJournal: db.prepare("DELETE FROM journal WHERE seq <= ?"),
      deleteRawBefore: db.prepare(
        `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id < ((CAST(?1 AS INTEGER) - ${store.baseUs}) << ${ENTITY_BITS}) ORDER BY id LIMIT ?2)`,
      ),
      deleteOldestRaw: db.prepare(
        "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?)",
      ),
      // The same two deletes restricted to rows the sink acknowledged: at or behind its id position and
      // not a journal row past its seq (late rows behind its id position it has not read yet).
      deleteRawBeforeExported: db.prepare(
        `DELETE FROM events WHERE id IN (SELECT id FROM events
           WHERE id < ((CAST(?1 AS INTEGER) - ${store.baseUs}) << ${ENTITY_BITS}) AND id <= ${positionIdSql("?3", "?4")}
             AND id NOT IN (SELECT id FROM journal WHERE seq > ?5)
           ORDER BY id LIMIT ?2)`,
      ),
      deleteOldestRawExported: db.prepare(
        `DELETE FROM events WHERE id IN (SELECT id FROM events
           WHERE id <= ${positionIdSql("?2", "?3")} AND id NOT IN (SELECT id FROM journal WHERE seq > ?4)
           ORDER BY id LIMIT ?1)`,
      ),
      addRaw: db.prepare("UPDATE meta SET value = value + ? WHERE key = 'raw_count'"),
      expireHourly: db.prepare("DELETE FROM hourly WHERE t < ?"),
      expireDaily: db.prepare("DELETE FROM daily WHERE t < ?"),
      expireReadings: db.prepare("DELETE FROM readings WHERE ts_ms < ?"),
      oldestHourly: db.prepare("SELECT min(t) AS t FROM hourly"),
      oldestDaily: db.prepare("SELECT min(t) AS t FROM daily"),
      pages: db.prepare(
        "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()) AS used, (SELECT page_size FROM pragma_page_size()) AS size",
      ),
    };
    this.rollup = this.stored.load(metaPosition(db, "tail_base"));
  }

  /** Bytes in use by events.db (the unit of `maxBytes`). */
  usedBytes(): number {
    const { used, size } = this.q.pages.get() as { used: number; size: number };
    return used * size;
  }

  /** Whether every stored event has been rolled up. */
  caughtUp(): boolean {
    return this.tail.caughtUp(this.rollup);
  }

  /** Folds up to `rollupChunk` new raw events into the tiers; returns how many rows it passed. */
  rollupStep(): number {
    const { rows, next } = this.tail.read(this.rollup, this.opts.rollupChunk);
    if (rows.length === 0) {
      // Only journal rows whose events are gone since: remember having passed them.
      if (next.seq !== this.rollup.seq) {
        this.stored.save(next);
        this.rollup = next;
      }
      return 0;
    }
    const hours = new Map<number, Agg>();
    const days = new Map<number, Agg>();
    const base = this.store.baseUs;
    for (const r of rows) {
      if (r.t === null || r.e === null) continue; // moved by a rename or expired: rolled from its new row
      const us = r.t + base;
      fold(hours, r.e, Math.floor(us / HOUR_US), 3600, us, r.v, r.s);
      fold(days, r.e, Math.floor(us / DAY_US), 86400, us, r.v, r.s);
    }
    this.store.db
      .transaction(() => {
        for (const a of hours.values()) write(this.q.hourly, a);
        for (const a of days.values()) write(this.q.daily, a);
        this.stored.save(next);
      })
      .immediate();
    this.rollup = next;
    return rows.length;
  }

  /** Indexes the next `max` rows past `indexed_to`, in (entity, id) order; returns how many it added. */
  indexStep(max = this.opts.rollupChunk): number {
    let n = 0;
    this.store.db
      .transaction(() => {
        n = this.q.index.run(max).changes;
        this.q.indexedTo.run(max);
      })
      .immediate();
    this.store.indexedTo = metaPosition(this.store.db, "indexed_to");
    return n;
  }

  /** One bounded step of retention, disk bound and journal trimming at wall time `nowMs`. */
  retentionStep(nowMs: number): Omit<StepReport, "rolled"> {
    const chunk = this.opts.rollupChunk;
    const sink = this.exportPosition();
    let expired = 0;
    let evictedRaw = 0;
    let evictedTier = 0;
    let droppedUnexported = 0;
    let holdingUnexported = false;
    const rolled = this.caughtUp();
    this.store.db
      .transaction(() => {
        if (rolled) {
          const cutoffUs = (nowMs - this.opts.rawDays * DAY_MS) * 1000;
          expired = sink
            ? this.q.deleteRawBeforeExported.run(cutoffUs, chunk, sink.t, sink.e, sink.seq).changes
            : this.q.deleteRawBefore.run(cutoffUs, chunk).changes;
        }
        this.q.expireHourly.run(Math.floor(nowMs / 1000) - this.opts.hourlyDays * 86400);
        this.q.expireDaily.run(Math.floor(nowMs / 1000) - this.opts.dailyDays * 86400);
        this.q.expireReadings.run(nowMs - this.opts.dailyDays * DAY_MS);
        const used = this.usedBytes();
        if (used > this.opts.maxBytes) {
          if (this.store.rawCount - expired > 0) {
            // Raw events not rolled up yet are never evicted: the rollup catches up first.
            if (rolled && sink) {
              evictedRaw = this.q.deleteOldestRawExported.run(chunk, sink.t, sink.e, sink.seq).changes;
              if (evictedRaw === 0) {
                // Everything left is unacknowledged: hold it up to the margin, then the bound wins.
                holdingUnexported = true;
                if (used > this.opts.maxBytes + this.opts.unexportedHoldBytes) {
                  droppedUnexported = this.q.deleteOldestRaw.run(chunk).changes;
                  evictedRaw = droppedUnexported;
                }
              }
            } else if (rolled) evictedRaw = this.q.deleteOldestRaw.run(chunk).changes;
          } else {
            const h = (this.q.oldestHourly.get() as { t: number | null }).t;
            const d = (this.q.oldestDaily.get() as { t: number | null }).t;
            if (h !== null) evictedTier = this.q.expireHourly.run(h + 3600).changes;
            else if (d !== null) evictedTier = this.q.expireDaily.run(d + 86400).changes;
          }
        }
        if (expired + evictedRaw > 0) this.q.addRaw.run(-(expired + evictedRaw));
      })
      .immediate();
    this.store.rawCount -= expired + evictedRaw;
    const evicted = evictedRaw + evictedTier;
    return {
      expired,
      evicted,
      journalTrimmed: this.trimJournal(sink),
      droppedUnexported,
      holdingUnexported,
    };
  }

  /** Drops journal rows both tailers have passed, at most `rollupChunk` of them per call. */
  private trimJournal(sink: TailPosition | null): number {
    const upTo = sink === null ? this.rollup.seq : Math.min(this.rollup.seq, sink.seq);
    const tail = (this.q.journalTail.get() as { seq: number }).seq;
    const head = (this.q.journalHead.get() as { seq: number }).seq;
    // The newest row always stays: without AUTOINCREMENT, an empty journal would restart seq at 1.
    const limit = Math.min(upTo, head - 1, tail + this.opts.rollupChunk - 1);
    if (tail === 0 || limit < tail) return 0;
    return this.q.trimJournal.run(limit).changes;
  }
}

function fold(
  map: Map<number, Agg>,
  e: number,
  bucket: number,
  seconds: number,
  us: number,
  v: number | null,
  s: number | null,
): void {
  // e < 2^16 and bucket < 2^21 (unix hours until year 2209): the key is exact in a double.
  const key = bucket * 65536 + e;
  let a = map.get(key);
  if (!a) {
    a = {
      e,
      t: bucket * seconds,
      n: 0,
      sum: 0,
      min: Infinity,
      max: -Infinity,
      tn: 0,
      lastS: null,
      lastUs: -1,
    };
    map.set(key, a);
  }
  if (v !== null) {
    a.n++;
    a.sum += v;
    if (v < a.min) a.min = v;
    if (v > a.max) a.max = v;
  } else {
    a.tn++;
    if (us >= a.lastUs) {
      a.lastUs = us;
      a.lastS = s;
    }
  }
}

function write(stmt: Statement, a: Agg): void {
  stmt.run(
    a.e,
    a.t,
    a.n,
    a.sum,
    a.n > 0 ? a.min : null,
    a.n > 0 ? a.max : null,
    a.tn,
    a.tn > 0 ? a.lastS : null,
    a.tn > 0 ? a.lastUs : null,
  );
}
