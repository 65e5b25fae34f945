/**
 * Read access to `events.db` for every actor and the API. A reader never writes events; it only makes sure
 * the schema exists (so the API can start before the batcher) and keeps small caches of the dictionaries.
 *
 * @example
 * const store = openStoreReader(config.dataDir);
 * const { items, nextCursor } = store.events({ limit: 100, domain: "light" });
 * const { tier, points } = store.history("sensor.kitchen_temperature", { from, to, resolution: "auto" });
 */
import { Database, type Statement } from "bun:sqlite";
import { join } from "node:path";
import { privateFile } from "../kernel/private-files.ts";
import {
  contextKeys,
  decodeContextId,
  looseNumber,
  stateId,
  stateValue,
  ulidTimeMs,
  X_TEXT_NUMBER,
} from "./codec.ts";
import { Dictionaries } from "./dictionaries.ts";
import { EntityRows, idRange } from "./entity-rows.ts";
import {
  configureConnection,
  contextLoFirst,
  contextRowsSql,
  ENTITY_BITS,
  EVENTS_DB,
  MAX_ENTITY_KEY,
  MAX_REL_US,
  migrate,
  readBaseUs,
} from "./schema.ts";

export interface StoredEvent {
  entity_id: string;
  state: string;
  value: number | null;
  attributes: Record<string, unknown>;
  /** last_updated in ms (fractional: HA stamps microseconds). */
  ts: number;
  /** last_changed in ms. */
  last_changed: number;
  context_id: string | null;
  context_parent_id: string | null;
  context_user_id: string | null;
}

export interface EventsQuery {
  /** Inclusive lower bound, ms. */
  from?: number;
  /** Exclusive upper bound, ms. */
  to?: number;
  entityIds?: string[];
  /** Only entities of this domain (`light`, `sensor`, ...). */
  domain?: string;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  limit: number;
}

export type Resolution = "auto" | "raw" | "hourly" | "daily";
export type Tier = "raw" | "hourly" | "daily";

/** One point of a history; raw points have count 1 and min = max = value. */
export interface HistoryPoint {
  /** Event time (raw) or bucket start (hourly/daily), ms. */
  t: number;
  /**
   * Numeric value (raw) or the bucket's mean, time-weighted as Home Assistant's statistics (each value
   * weighs the time it held); a sample mean for buckets rolled up before time-weighting. Null when the
   * bucket/event had no numeric state.
   */
  value: number | null;
  /** Lowest and highest value held in the bucket (including the one carried in from before it). */
  min: number | null;
  max: number | null;
  /** Events in the bucket (numeric and text). */
  count: number;
  /** The state text (raw) or the last text state of the bucket; null when numeric only. */
  state: string | null;
  /** Buckets: a meter's increase in the bucket (state_class total / total_increasing, resets handled). */
  growth?: number;
  /** Buckets: the share of text-state time spent in an on-like state (on, open, home ...), or null. */
  onShare?: number | null;
}

export interface StoreTotals {
  /** Rows in the raw tier. */
  events: number;
  /** Bytes in use by events.db (pages not on the free list); the unit `store.maxBytes` bounds. */
  bytes: number;
  oldestMs: number | null;
  newestMs: number | null;
}

export interface StoreReader {
  events(query: EventsQuery): { items: StoredEvent[]; nextCursor: string | null };
  /**
   * At most `limit` points (default HISTORY_POINTS_MAX), oldest first. When there are more, `nextFrom` is
   * the time (whole ms) to ask `from` again for the rest: the page ends on a millisecond boundary, so no
   * point is lost or repeated.
   */
  history(
    entityId: string,
    query: { from: number; to: number; resolution: Resolution; limit?: number },
  ): {
    tier: Tier;
    points: HistoryPoint[];
    nextFrom: number | null;
  };
  totals(): StoreTotals;
  /** Current entity ids, sorted. */
  entityIds(): string[];
  /** The newest last_updated stored, in µs, or null when empty (the connection backfills from here). */
  newestUpdateUs(): number | null;
  /** Events caused by a context: those whose context or parent context is `contextId`, oldest first. */
  contextEvents(contextId: string, windowMs?: number): StoredEvent[];
  /** Enrichment readings of one source (optionally one metric) in [from, to) ms, oldest first. */
  enrichmentHistory(
    source: string,
    query: { metric?: string; from: number; to: number; limit: number },
  ): { points: { metric: string; ts: number; value: number }[] };
  close(): void;
}

/** A row as stored in `raw_events`: the state is decoded here (`decodeState`), not by the `events` view. */
type EventRow = {
  t: number;
  e: number;
  x: number;
  /** `raw_events.m`: NULL, last_updated - last_changed, -1 - cu, or the JSON `[lc, cu, vl]` (./schema.ts). */
  m: number | string | null;
  a: number;
  c: unknown;
  cp: unknown;
};

/** `lc`, `cu` and `vl` of a row from its `m`. */
function rareColumns(m: number | string | null): { lc: number; cu: number | null; vl: number | null } {
  if (m === null) return { lc: 0, cu: null, vl: null };
  if (typeof m === "number") return m >= 0 ? { lc: m, cu: null, vl: null } : { lc: 0, cu: -1 - m, vl: null };
  const [lc, cu, vl] = JSON.parse(m) as [number, number | null, number | null];
  return { lc, cu, vl };
}

/** The stored columns (`raw_events`, ./schema.ts), read by the store's own queries. */
const EVENT_COLS = `(id >> ${ENTITY_BITS}) AS t, id & ${MAX_ENTITY_KEY} AS e, x, m, a, c, cp`;
const rawCols = (id: string) =>
  `(${id} >> ${ENTITY_BITS}) AS t, ${id} & ${MAX_ENTITY_KEY} AS e, ev.x AS x, ev.m AS m, ev.a AS a,
   ev.c AS c, ev.cp AS cp`;
/** An event id as text (the API's cursor): ids pass 2^53, so not as a JS number. */
const idText = (t: number, e: number) => ((BigInt(t) << BigInt(ENTITY_BITS)) | BigInt(e)).toString();
/**
 * Up to this many entities, a filtered page is read entity by entity through the entity index and merged;
 * beyond, the time range is scanned newest first with the filter (many entities fill a page quickly).
 */
const MERGE_ENTITIES_MAX = 32;
/** Windows `auto` resolution uses: raw up to 2 days, hourly up to 62 days, daily beyond. */
const RAW_SPAN_MS = 2 * 86_400_000;
const HOURLY_SPAN_MS = 62 * 86_400_000;
/** Points one history answer holds when the caller passes no `limit` (the API passes `api.pageMax`). */
export const HISTORY_POINTS_MAX = 1_000_000;

/** Opens (creating if needed) `events.db` under `dataDir` for reading. */
export function openStoreReader(dataDir: string): StoreReader {
  const path = join(dataDir, EVENTS_DB);
  privateFile(path);
  const db = new Database(path, { create: true, readwrite: true });
  configureConnection(db);
  migrate(db, Date.now() * 1000);
  return new SqliteStoreReader(db);
}

class SqliteStoreReader implements StoreReader {
  private readonly baseUs: number;
  /** The store's dictionary cache (./dictionaries.ts): names, states, users, attribute JSON. */
  private readonly dict: Dictionaries;
  private readonly q: Record<string, Statement>;
  /** One entity's rows through its postings (./entity-rows.ts): a page's, ids only, a history's points. */
  private readonly pageRows: EntityRows<EventRow>;
  private readonly idRows: EntityRows<{ t: number; k: string }>;
  private readonly pointRows: EntityRows<{ t: number; x: number; m: number | string | null }>;

  constructor(private readonly db: Database) {
    this.baseUs = readBaseUs(db);
    this.dict = new Dictionaries(db);
    const rangeOf = (id: string) => `${id} >= ((CAST(?1 AS INTEGER) - ${this.baseUs}) << ${ENTITY_BITS})
      AND ${id} < ((CAST(?2 AS INTEGER) - ${this.baseUs}) << ${ENTITY_BITS}) AND ${id} < CAST(?3 AS INTEGER)`;
    const range = rangeOf("id");
    this.pageRows = new EntityRows(db, rawCols, "raw_events");
    // Ids only, then the page's rows by id: decoding every candidate row of every entity cost more.
    this.idRows = new EntityRows(
      db,
      (id) => `${id} >> ${ENTITY_BITS} AS t, CAST(${id} AS TEXT) AS k`,
      "raw_events",
    );
    // Only what a history point needs.
    this.pointRows = new EntityRows(
      db,
      (id) => `${id} >> ${ENTITY_BITS} AS t, ev.x AS x, ev.m AS m`,
      "raw_events",
    );
    this.q = {
      readings: db.prepare(
        `SELECT s.metric AS metric, r.ts_ms AS ts, r.value AS value FROM readings r JOIN series s ON s.k = r.k
         WHERE s.source = ?1 AND (?2 IS NULL OR s.metric = ?2) AND r.ts_ms >= ?3 AND r.ts_ms < ?4
         ORDER BY r.ts_ms, s.metric LIMIT ?5`,
      ),
      all: db.prepare(`SELECT ${EVENT_COLS} FROM raw_events WHERE ${range} ORDER BY id DESC LIMIT ?4`),
      keysByName: db.prepare(
        "SELECT DISTINCT n.e AS e FROM json_each(?1) j JOIN entity_names n ON n.name = j.value ORDER BY n.e",
      ),
      keysOfDomain: db.prepare("SELECT e FROM entities WHERE entity_id >= ?1 AND entity_id < ?2 ORDER BY e"),
      byKeys: db.prepare(
        `SELECT ${EVENT_COLS} FROM raw_events WHERE ${range}
         AND id & ${MAX_ENTITY_KEY} IN (SELECT value FROM json_each(?5)) ORDER BY id DESC LIMIT ?4`,
      ),
      byIds: db.prepare(
        `SELECT ${EVENT_COLS} FROM raw_events WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id DESC`,
      ),
      ...Object.fromEntries(
        [true, false].map((loFirst) => [
          loFirst ? "contextLo" : "contextHi",
          db.prepare(
            contextRowsSql(
              `${EVENT_COLS}, id`,
              `((CAST(?1 AS INTEGER) - ${this.baseUs}) << ${ENTITY_BITS})`,
              `((CAST(?2 AS INTEGER) - ${this.baseUs}) << ${ENTITY_BITS})`,
              { full: "?3", lo: "?4", hi: "?5" },
              { table: "raw_events", loFirst },
            ),
          ),
        ]),
      ),
      hourly: db.prepare(
        "SELECT t, n, sum, min, max, tn, last_s, tw, tws, growth, on_s, ts FROM hourly WHERE e = ? AND t >= ? AND t < ? ORDER BY t LIMIT ?",
      ),
      daily: db.prepare(
        "SELECT t, n, sum, min, max, tn, last_s, tw, tws, growth, on_s, ts FROM daily WHERE e = ? AND t >= ? AND t < ? ORDER BY t LIMIT ?",
      ),
      entityKey: db.prepare("SELECT e FROM entity_names WHERE name = ?"),
      entityIds: db.prepare("SELECT entity_id FROM entities ORDER BY entity_id"),
      rawCount: db.prepare("SELECT value FROM meta WHERE key = 'raw_count'"),
      minMax: db.prepare(
        // Two subqueries: SQLite answers each min()/max() from the rowid b-tree's edge, where one
        // SELECT min(id), max(id) scans the whole table (seconds at 10M rows).
        `SELECT (SELECT min(id) FROM events) >> ${ENTITY_BITS} AS lo, (SELECT max(id) FROM events) >> ${ENTITY_BITS} AS hi`,
      ),
      pages: db.prepare(
        "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()) AS used, (SELECT page_size FROM pragma_page_size()) AS size",
      ),
      oldestHourly: db.prepare("SELECT min(t) AS t FROM hourly WHERE e = ?"),
    };
  }

  events(query: EventsQuery): { items: StoredEvent[]; nextCursor: string | null } {
    const limit = Math.max(1, Math.floor(query.limit));
    const fromUs = this.clampUs(query.from === undefined ? -Infinity : Math.ceil(query.from * 1000));
    const toUs = this.clampUs(query.to === undefined ? Infinity : Math.ceil(query.to * 1000));
    const cursor = query.cursor ?? "9223372036854775807";
    if (!/^-?\d{1,19}$/.test(cursor))
      throw new Error(`events: cursor "${cursor}" is not one this store returned; pass nextCursor unchanged`);
    this.refreshNames();
    let rows: EventRow[];
    if ((query.entityIds && query.entityIds.length > 0) || query.domain) {
      const keys = (
        query.entityIds && query.entityIds.length > 0
          ? this.q.keysByName.all(JSON.stringify(query.entityIds))
          : this.q.keysOfDomain.all(`${query.domain}.`, `${query.domain}/`)
      ) as { e: number }[];
      rows = this.filteredPage(
        keys.map((k) => k.e),
        fromUs,
        toUs,
        cursor,
        limit,
      );
    } else {
      rows = this.q.all.all(fromUs, toUs, cursor, limit) as EventRow[];
    }
    const items = rows.map((r) => this.toEvent(r));
    const last = rows[rows.length - 1];
    return { items, nextCursor: rows.length === limit ? idText(last.t, last.e) : null };
  }

  /** The newest `limit` events of these entity keys in [fromUs, toUs) before `cursor`, newest first. */
  private filteredPage(
    keys: number[],
    fromUs: number,
    toUs: number,
    cursor: string,
    limit: number,
  ): EventRow[] {
    if (keys.length === 0) return [];
    if (keys.length > MERGE_ENTITIES_MAX)
      return this.q.byKeys.all(fromUs, toUs, cursor, limit, JSON.stringify(keys)) as EventRow[];
    const range = (e: number) => ({
      fromT: fromUs - this.baseUs,
      toT: Math.min(toUs - this.baseUs, idRange(e, null, BigInt(cursor)).toT as number),
    });
    if (keys.length === 1) return this.pageRows.get(keys[0], range(keys[0]), "desc", limit);
    const ids: { t: number; e: number; k: string }[] = [];
    for (const e of keys)
      for (const r of this.idRows.get(e, range(e), "desc", limit)) ids.push({ t: r.t, e, k: r.k });
    // Newest first by id = (t, e); each entity's rows are already in order, so this merges short lists.
    ids.sort((a, b) => b.t - a.t || b.e - a.e);
    if (ids.length > limit) ids.length = limit;
    if (ids.length === 0) return [];
    // Ids as JSON numbers (exact: SQLite reads them as 64-bit integers).
    return this.q.byIds.all(`[${ids.map((r) => r.k).join(",")}]`) as EventRow[];
  }

  history(entityId: string, query: { from: number; to: number; resolution: Resolution; limit?: number }) {
    const key = this.q.entityKey.get(entityId) as { e: number } | null;
    const tier = this.pickTier(key?.e ?? null, query);
    const limit = Math.max(1, query.limit ?? HISTORY_POINTS_MAX);
    if (!key) return { tier, points: [], nextFrom: null };
    if (tier === "raw") {
      const fromUs = this.clampUs(Math.ceil(query.from * 1000));
      const raw = (toUs: number, n: number) =>
        this.pointRows.get(key.e, { fromT: fromUs - this.baseUs, toT: toUs - this.baseUs }, "asc", n);
      let rows = raw(this.clampUs(Math.ceil(query.to * 1000)), limit + 1);
      let nextFrom: number | null = null;
      if (rows.length > limit) {
        // Cut before the millisecond of the first point left out; `from` is whole milliseconds.
        nextFrom = Math.floor((rows[limit].t + this.baseUs) / 1000);
        let n = limit;
        while (n > 0 && rows[n - 1].t + this.baseUs >= nextFrom * 1000) n--;
        if (n > 0) rows = rows.slice(0, n);
        else {
          // More than `limit` points in one millisecond: that millisecond whole (one entity's points are
          // whole µs apart, so at most 1000 more).
          nextFrom += 1;
          rows = raw(this.clampUs(nextFrom * 1000), limit + 1000);
          if (nextFrom >= query.to) nextFrom = null;
        }
      }
      const points: HistoryPoint[] = rows.map((r) => {
        const s = stateId(r.x);
        const state = s === null ? null : this.stateText(s);
        const v = this.valueOf(
          r.x,
          state,
          r.m === null || typeof r.m === "number" ? null : rareColumns(r.m).vl,
        );
        return { t: (r.t + this.baseUs) / 1000, value: v, min: v, max: v, count: 1, state };
      });
      return { tier, points, nextFrom };
    }
    const stmt = tier === "hourly" ? this.q.hourly : this.q.daily;
    let rows = stmt.all(key.e, Math.floor(query.from / 1000), Math.ceil(query.to / 1000), limit + 1) as {
      t: number;
      n: number;
      sum: number;
      min: number | null;
      max: number | null;
      tn: number;
      last_s: number | null;
      tw: number;
      tws: number;
      growth: number;
      on_s: number;
      ts: number;
    }[];
    // Buckets have distinct starts, so the first one left out is where the next page begins.
    const nextFrom = rows.length > limit ? rows[limit].t * 1000 : null;
    if (nextFrom !== null) rows = rows.slice(0, limit);
    const points: HistoryPoint[] = rows.map((r) => ({
      t: r.t * 1000,
      value: r.tws > 0 ? r.tw / r.tws : r.n > 0 ? r.sum / r.n : null,
      min: r.min,
      max: r.max,
      count: r.n + r.tn,
      state: r.last_s === null ? null : this.stateText(r.last_s),
      growth: r.growth,
      onShare: r.ts > 0 ? r.on_s / r.ts : null,
    }));
    return { tier, points, nextFrom };
  }

  private pickTier(e: number | null, query: { from: number; to: number; resolution: Resolution }): Tier {
    if (query.resolution !== "auto") return query.resolution;
    const span = query.to - query.from;
    const oldest = this.totals().oldestMs;
    const h = e === null ? null : (this.q.oldestHourly.get(e) as { t: number | null }).t;
    if (span <= RAW_SPAN_MS && oldest !== null) {
      if (query.from >= oldest) return "raw";
      // A range reaching before the first stored event is still complete in raw when retention has never
      // pruned: then no hourly bucket is older than the raw tier's first hour.
      if (h === null || h * 1000 >= oldest - 3_600_000) return "raw";
    }
    if (span <= HOURLY_SPAN_MS) {
      if (h === null || query.from >= h * 1000 || span <= RAW_SPAN_MS) return "hourly";
    }
    return "daily";
  }

  totals(): StoreTotals {
    const { value } = this.q.rawCount.get() as { value: number };
    const { lo, hi } = this.q.minMax.get() as { lo: number | null; hi: number | null };
    const { used, size } = this.q.pages.get() as { used: number; size: number };
    return {
      events: value,
      bytes: used * size,
      oldestMs: lo === null ? null : (lo + this.baseUs) / 1000,
      newestMs: hi === null ? null : (hi + this.baseUs) / 1000,
    };
  }

  entityIds(): string[] {
    return (this.q.entityIds.all() as { entity_id: string }[]).map((r) => r.entity_id);
  }

  newestUpdateUs(): number | null {
    const { hi } = this.q.minMax.get() as { hi: number | null };
    return hi === null ? null : hi + this.baseUs;
  }

  contextEvents(contextId: string, windowMs = 10 * 60_000): StoredEvent[] {
    const startMs = ulidTimeMs(contextId);
    const keys = contextKeys(contextId);
    // A ULID's time is when the context began; what it caused happens after (allow 1 s of clock skew).
    const fromUs = this.clampUs(startMs === null ? -Infinity : (startMs - 1000) * 1000);
    const toUs = this.clampUs(startMs === null ? Infinity : (startMs + windowMs) * 1000);
    this.refreshNames();
    const stmt = contextLoFirst(keys.lo) ? this.q.contextLo : this.q.contextHi;
    const rows = stmt.all(fromUs, toUs, keys.full, keys.lo, keys.hi) as EventRow[];
    // The SQL matches on the stored bytes; the decoded ids decide.
    return rows
      .map((r) => this.toEvent(r))
      .filter((ev) => ev.context_id === contextId || ev.context_parent_id === contextId);
  }

  enrichmentHistory(
    source: string,
    query: { metric?: string; from: number; to: number; limit: number },
  ): { points: { metric: string; ts: number; value: number }[] } {
    const points = this.q.readings.all(
      source,
      query.metric ?? null,
      Math.floor(query.from),
      Math.ceil(query.to),
      Math.max(1, Math.floor(query.limit)),
    ) as { metric: string; ts: number; value: number }[];
    return { points };
  }

  close(): void {
    this.db.close();
  }

  /** Times outside what an event id can hold (±MAX_REL_US around base_us) would overflow the id shift. */
  private clampUs(us: number): number {
    return Math.min(this.baseUs + MAX_REL_US, Math.max(this.baseUs - MAX_REL_US, us));
  }

  private toEvent(r: EventRow): StoredEvent {
    const lastUpdatedUs = r.t + this.baseUs;
    const { lc, cu, vl } = rareColumns(r.m);
    const s = stateId(r.x);
    const text = s === null ? null : this.stateText(s);
    const v = this.valueOf(r.x, text, vl);
    return {
      entity_id: this.entityName(r.e),
      state: text ?? String(v),
      value: v,
      attributes: JSON.parse(this.attrText(r.a)),
      ts: lastUpdatedUs / 1000,
      last_changed: (lastUpdatedUs - lc) / 1000,
      context_id: decodeContextId(r.c, lastUpdatedUs),
      context_parent_id: decodeContextId(r.cp, lastUpdatedUs),
      context_user_id: cu === null ? null : this.userText(cu),
    };
  }

  /** A row's number: code 14's is its text's (as the writer read it; `states.num`), else `stateValue`. */
  private valueOf(x: number, text: string | null, vl: number | null): number | null {
    return text !== null && x % 16 === X_TEXT_NUMBER ? looseNumber(text) : stateValue(x, vl);
  }

  private entityName(e: number): string {
    return this.dict.entityName(e);
  }

  private stateText(s: number): string {
    return this.dict.stateText(s);
  }

  private userText(u: number): string {
    return this.dict.userText(u);
  }

  private attrText(a: number): string {
    return this.dict.attrText(a);
  }

  private refreshNames(): void {
    this.dict.refreshNames();
  }
}
