/**
 * Rollups, retention and the disk bound, as bounded steps the batcher interleaves with ingest.
 *
 * - Rollup: a tail position (./tail.ts: insertion order, so late backfill is rolled too) folds at most
 *   `rollupChunk` raw events per step into `hourly` and `daily` as HA's statistics compute them
 *   (./rollup.ts: time-weighted), position, tiers and each entity's carried sample in one transaction.
 *   A row behind its entity's newest rolled-up sample (backfill, import) changes the intervals around it:
 *   that entity's hours from the row on are computed again from raw, and its days from those hours.
 * - Entity index: rows past `meta.indexed_to` go into their entities' postings (./entity-rows.ts), at
 *   most `rollupChunk` per step, so each entity's last posting is rewritten once per step, not per commit.
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
import { EntityRows, PostingWriter } from "./entity-rows.ts";
import {
  type Bucket,
  bucketRow,
  DAY_US,
  HOUR_US,
  type Meter,
  meterOf,
  ON_STATES,
  type Sample,
  TierFold,
} from "./rollup.ts";
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

const DAY_MS = 86_400_000;

type RollupRow = { v: number | null; s: number | null; a: number };
type RawRow = { t: number; v: number | null; s: number | null; a: number };

/** Bound of the rollup's dictionary lookups (state id -> on, attrs id -> meter); cleared when full. */
const LOOKUP_CACHE = 50_000;

export class StoreMaintenance {
  private readonly q: Record<string, Statement>;
  private readonly tail: TailReader<RollupRow>;
  private readonly stored: StoredPosition;
  private readonly postings: PostingWriter;
  private readonly entityRows: EntityRows<RawRow>;
  private rollup: TailPosition;
  /** Each entity's newest rolled-up sample (table rollup_carry), its held interval not yet credited. */
  private readonly carry = new Map<number, Sample>();
  private readonly onCache = new Map<number, boolean>();
  private readonly meterCache = new Map<number, Meter>();
  private readonly lookups = {
    isOn: (id: number): boolean => {
      let on = this.onCache.get(id);
      if (on === undefined) {
        const row = this.q.stateText.get(id) as { state: string } | null;
        on = row !== null && ON_STATES.has(row.state);
        if (this.onCache.size >= LOOKUP_CACHE) this.onCache.clear();
        this.onCache.set(id, on);
      }
      return on;
    },
    meter: (id: number): Meter => {
      let meter = this.meterCache.get(id);
      if (meter === undefined) {
        const row = this.q.attrsJson.get(id) as { json: string } | null;
        meter = row === null ? null : meterOf(row.json);
        if (this.meterCache.size >= LOOKUP_CACHE) this.meterCache.clear();
        this.meterCache.set(id, meter);
      }
      return meter;
    },
  };

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
      db.prepare(`INSERT INTO ${tier} (e, t, n, sum, min, max, tn, last_s, last_us, tw, tws, growth, on_s, ts)
        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
        ON CONFLICT (e, t) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
          tw = tw + excluded.tw, tws = tws + excluded.tws, growth = growth + excluded.growth,
          on_s = on_s + excluded.on_s, ts = ts + excluded.ts,
          min = CASE WHEN min IS NULL THEN excluded.min WHEN excluded.min IS NULL THEN min ELSE min(min, excluded.min) END,
          max = CASE WHEN max IS NULL THEN excluded.max WHEN excluded.max IS NULL THEN max ELSE max(max, excluded.max) END,
          tn = tn + excluded.tn,
          last_s = CASE WHEN excluded.last_us IS NOT NULL AND (last_us IS NULL OR excluded.last_us >= last_us)
            THEN excluded.last_s ELSE last_s END,
          last_us = CASE WHEN excluded.last_us IS NOT NULL AND (last_us IS NULL OR excluded.last_us >= last_us)
            THEN excluded.last_us ELSE last_us END`);
    this.tail = new TailReader<RollupRow>(db, "ev.v AS v, ev.s AS s, ev.a AS a");
    this.stored = new StoredPosition(db, "rollup");
    this.postings = new PostingWriter(db);
    this.entityRows = new EntityRows<RawRow>(
      db,
      (id) => `${id} >> ${ENTITY_BITS} AS t, ev.v AS v, ev.s AS s, ev.a AS a`,
    );
    this.q = {
      hourly: upsert("hourly"),
      daily: upsert("daily"),
      // The next `?1` rows past indexed_to, for the entities' postings.
      index: db.prepare(
        `SELECT id >> ${ENTITY_BITS} AS t, id & ${2 ** ENTITY_BITS - 1} AS e FROM raw_events
           WHERE id > (SELECT value FROM meta WHERE key = 'indexed_to') ORDER BY id LIMIT ?1`,
      ),
      minT: db.prepare(`SELECT (SELECT min(id) FROM raw_events) >> ${ENTITY_BITS} AS t`),
      indexedTo: db.prepare(
        `UPDATE meta SET value = coalesce((SELECT max(id) FROM (SELECT id FROM raw_events
           WHERE id > (SELECT value FROM meta WHERE key = 'indexed_to') ORDER BY id LIMIT ?1)), value)
         WHERE key = 'indexed_to'`,
      ),
      stateText: db.prepare("SELECT state FROM states WHERE s = ?"),
      attrsJson: db.prepare("SELECT json FROM attrs WHERE a = ?"),
      saveCarry: db.prepare("INSERT OR REPLACE INTO rollup_carry (e, us, v, s, a) VALUES (?, ?, ?, ?, ?)"),
      prunedTo: db.prepare("SELECT value AS t FROM meta WHERE key = 'pruned_to'"),
      setPrunedTo: db.prepare(
        `INSERT INTO meta (key, value) VALUES ('pruned_to', ?1)
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)`,
      ),
      clearHours: db.prepare("DELETE FROM hourly WHERE e = ? AND t >= ? AND t <= ?"),
      clearDay: db.prepare("DELETE FROM daily WHERE e = ? AND t = ?"),
      // A day from its hours: every column is a sum, a min or a max of them, or the latest text state.
      dayFromHours: db.prepare(
        `INSERT INTO daily (e, t, n, sum, min, max, tn, last_s, last_us, tw, tws, growth, on_s, ts)
         SELECT ?1, ?2, sum(n), sum(sum), min(min), max(max), sum(tn),
           (SELECT last_s FROM hourly WHERE e = ?1 AND t >= ?2 AND t < ?2 + 86400 AND last_us IS NOT NULL
             ORDER BY last_us DESC LIMIT 1),
           max(last_us), sum(tw), sum(tws), sum(growth), sum(on_s), sum(ts)
         FROM hourly WHERE e = ?1 AND t >= ?2 AND t < ?2 + 86400 HAVING count(*) > 0`,
      ),
      journalHead: db.prepare("SELECT coalesce(max(seq), 0) AS seq FROM journal"),
      journalTail: db.prepare("SELECT coalesce(min(seq), 0) AS seq FROM journal"),
      trimJournal: db.prepare("DELETE FROM journal WHERE seq <= ?"),
      deleteRawBefore: db.prepare(
        `DELETE FROM raw_events WHERE id IN (SELECT id FROM raw_events WHERE id < ((CAST(?1 AS INTEGER) - ${store.baseUs}) << ${ENTITY_BITS}) ORDER BY id LIMIT ?2) RETURNING id >> ${ENTITY_BITS} AS t`,
      ),
      deleteOldestRaw: db.prepare(
        `DELETE FROM raw_events WHERE id IN (SELECT id FROM raw_events ORDER BY id LIMIT ?) RETURNING id >> ${ENTITY_BITS} AS t`,
      ),
      // The same two deletes restricted to rows the sink acknowledged: at or behind its id position and
      // not a journal row past its seq (late rows behind its id position it has not read yet).
      deleteRawBeforeExported: db.prepare(
        `DELETE FROM raw_events WHERE id IN (SELECT id FROM raw_events
           WHERE id < ((CAST(?1 AS INTEGER) - ${store.baseUs}) << ${ENTITY_BITS}) AND id <= ${positionIdSql("?3", "?4")}
             AND id NOT IN (SELECT id FROM journal WHERE seq > ?5)
           ORDER BY id LIMIT ?2) RETURNING id >> ${ENTITY_BITS} AS t`,
      ),
      deleteOldestRawExported: db.prepare(
        `DELETE FROM raw_events WHERE id IN (SELECT id FROM raw_events
           WHERE id <= ${positionIdSql("?2", "?3")} AND id NOT IN (SELECT id FROM journal WHERE seq > ?4)
           ORDER BY id LIMIT ?1) RETURNING id >> ${ENTITY_BITS} AS t`,
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
    for (const r of db.query("SELECT e, us, v, s, a FROM rollup_carry").all() as (Sample & { e: number })[])
      this.carry.set(r.e, { us: r.us, v: r.v, s: r.s, a: r.a });
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

  /**
   * Folds up to `rollupChunk` new raw events into the tiers; returns how many rows it passed. `nowMs`
   * says which days still have all their hours (a day is rebuilt from its hours only then).
   */
  rollupStep(nowMs = Date.now()): number {
    const { rows, next } = this.tail.read(this.rollup, this.opts.rollupChunk);
    if (rows.length === 0) {
      // Only journal rows whose events are gone since: remember having passed them.
      if (next.seq !== this.rollup.seq) {
        this.stored.save(next);
        this.rollup = next;
      }
      return 0;
    }
    const fold = new TierFold(this.lookups);
    const base = this.store.baseUs;
    const touched = new Set<number>();
    /** Entities with a row behind their newest sample: the earliest such time (µs). */
    const behind = new Map<number, number>();
    let rawFromUs: number | null = null;
    for (const r of rows) {
      if (r.t === null || r.e === null) continue; // moved by a rename or expired: rolled from its new row
      const x: Sample = { us: r.t + base, v: r.v, s: r.s, a: r.a };
      const held = this.carry.get(r.e) ?? null;
      if (held !== null && x.us < held.us) {
        rawFromUs ??= this.rawFromUs();
        const from = behind.get(r.e);
        if (x.us >= rawFromUs) behind.set(r.e, from === undefined ? x.us : Math.min(from, x.us));
        else fold.sample(r.e, x, null); // its hour is no longer whole in raw: counted, not re-weighted
        continue;
      }
      if (held !== null) fold.hold(r.e, held, held.us, x.us);
      fold.sample(r.e, x, held);
      this.carry.set(r.e, x);
      touched.add(r.e);
    }
    this.store.db
      .transaction(() => {
        for (const b of fold.hours.values()) this.q.hourly.run(...bucketRow(b));
        for (const b of fold.days.values()) this.q.daily.run(...bucketRow(b));
        for (const e of touched) {
          const c = this.carry.get(e) as Sample;
          this.q.saveCarry.run(e, c.us, c.v, c.s, c.a);
        }
        for (const [e, fromUs] of behind) this.refold(e, fromUs, nowMs);
        this.stored.save(next);
      })
      .immediate();
    this.rollup = next;
    return rows.length;
  }

  /** The first hour the raw tier holds whole (µs): retention took rows before it, never after. */
  private rawFromUs(): number {
    const row = this.q.prunedTo.get() as { t: number } | null;
    return row === null ? -Infinity : Math.ceil((row.t + 1 + this.store.baseUs) / HOUR_US) * HOUR_US;
  }

  /**
   * Computes entity `e`'s hours from the one holding `fromUs` to its newest rolled-up sample again from
   * raw (a row arrived behind it), replacing them whole, then rebuilds the days they fall in from hours.
   * Rows past the newest sample are not read: the tail rolls them when it reaches them.
   */
  private refold(e: number, fromUs: number, nowMs: number): void {
    const base = this.store.baseUs;
    const newest = this.carry.get(e) as Sample;
    const firstHour = Math.floor(fromUs / HOUR_US) * HOUR_US;
    const lastHour = Math.floor(newest.us / HOUR_US) * HOUR_US;
    const before = this.entityRows.get(e, { toT: firstHour - base }, "desc", 1)[0] ?? null;
    // Streamed, not gathered: a late row days back means every row of the entity since then.
    const rows = this.entityRows.iterate(e, { fromT: firstHour - base, toT: newest.us - base + 1 }, "asc");
    const fold = new TierFold(this.lookups, false);
    let prev: Sample | null = before ? { us: before.t + base, v: before.v, s: before.s, a: before.a } : null;
    for (const r of rows) {
      const x: Sample = { us: r.t + base, v: r.v, s: r.s, a: r.a };
      if (prev !== null) fold.hold(e, prev, Math.max(prev.us, firstHour), x.us);
      fold.sample(e, x, prev);
      prev = x;
    }
    this.q.clearHours.run(e, firstHour / 1e6, lastHour / 1e6);
    for (const b of fold.hours.values()) this.q.hourly.run(...bucketRow(b as Bucket));
    // A day is rebuilt from its hours only while hourly retention has not taken any of them.
    const hoursFromS = Math.floor(nowMs / 1000) - this.opts.hourlyDays * 86400;
    for (let day = Math.floor(firstHour / DAY_US) * DAY_US; day <= lastHour; day += DAY_US) {
      const t = day / 1e6;
      if (t < hoursFromS) continue;
      this.q.clearDay.run(e, t);
      this.q.dayFromHours.run(e, t);
    }
  }

  /** Indexes the next `max` rows past `indexed_to`, in (entity, id) order; returns how many it added. */
  indexStep(max = this.opts.rollupChunk): number {
    let n = 0;
    this.store.db
      .transaction(() => {
        const byEntity = new Map<number, number[]>();
        for (const r of this.q.index.all(max) as { t: number; e: number }[]) {
          const ts = byEntity.get(r.e);
          if (ts) ts.push(r.t);
          else byEntity.set(r.e, [r.t]);
          n++;
        }
        for (const [e, ts] of byEntity) this.postings.add(e, ts);
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
            ? this.prune(this.q.deleteRawBeforeExported, cutoffUs, chunk, sink.t, sink.e, sink.seq)
            : this.prune(this.q.deleteRawBefore, cutoffUs, chunk);
        }
        this.q.expireHourly.run(Math.floor(nowMs / 1000) - this.opts.hourlyDays * 86400);
        this.q.expireDaily.run(Math.floor(nowMs / 1000) - this.opts.dailyDays * 86400);
        this.q.expireReadings.run(nowMs - this.opts.dailyDays * DAY_MS);
        const used = this.usedBytes();
        if (used > this.opts.maxBytes) {
          if (this.store.rawCount - expired > 0) {
            // Raw events not rolled up yet are never evicted: the rollup catches up first.
            if (rolled && sink) {
              evictedRaw = this.prune(this.q.deleteOldestRawExported, chunk, sink.t, sink.e, sink.seq);
              if (evictedRaw === 0) {
                // Everything left is unacknowledged: hold it up to the margin, then the bound wins.
                holdingUnexported = true;
                if (used > this.opts.maxBytes + this.opts.unexportedHoldBytes) {
                  droppedUnexported = this.prune(this.q.deleteOldestRaw, chunk);
                  evictedRaw = droppedUnexported;
                }
              }
            } else if (rolled) evictedRaw = this.prune(this.q.deleteOldestRaw, chunk);
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

  /**
   * Runs one of the raw deletes (each returns the deleted rows' times) and remembers in `meta.pruned_to`
   * the newest time it took: hours after it are whole in raw, so a late row there can be re-weighted.
   */
  private prune(stmt: Statement, ...args: (number | string)[]): number {
    const rows = stmt.all(...args) as { t: number }[];
    if (rows.length === 0) return 0;
    let t = rows[0].t;
    for (const r of rows) if (r.t > t) t = r.t;
    this.q.setPrunedTo.run(t);
    // Postings wholly older than every row left go (rows taken from a newer one are skipped by readers).
    this.postings.pruneBelow((this.q.minT.get() as { t: number | null }).t ?? 2 ** 47);
    return rows.length;
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
