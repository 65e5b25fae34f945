/**
 * The SQL side of insights: a connection of its own to `events.db` (WAL: it never waits behind the ingest
 * writer, and `query_only` makes it refuse writes), with every read bounded. Layout notes: runtime/store/schema.ts.
 *
 * - search: entity ids and friendly names are matched in memory against the entity dictionary (a few hundred
 *   rows), state terms against the state dictionary; SQL then only filters event rows by small integer keys.
 *   One page scans at most `searchScanRows` raw rows (newest first, as a rowid range) and returns a cursor
 *   to go on from, so a rare term never makes one request slow.
 * - stats: windows with buckets of an hour or more read the hourly rollup (+ the few rows the rollup has not
 *   reached yet, read the way it tails the store); finer buckets GROUP BY over the raw rowid range.
 * - trace: a context's events lie close in time, so each step is found in a short rowid window around an
 *   event already seen for it, without any context index.
 */
import { Database, type Statement } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { heapFootprint } from "../kernel/memory.ts";
import { contextKeys, decodeContextId } from "./codec.ts";
import { EntityRows, idRange } from "./entity-rows.ts";
import { StateTermMatcher } from "./insights/state-terms.ts";
import {
  type EventStats,
  matchEntity,
  parseQuery,
  StatsAccumulator,
  type StatsOptions,
} from "./insights/stats.ts";
import { type ContextLookup, type Trace, traceEvent } from "./insights/trace.ts";
import { domainOf, type InsightEvent } from "./insights/types.ts";
import { configureConnection, contextRowsSql, ENTITY_BITS, EVENTS_DB, readBaseUs } from "./schema.ts";
import { metaPosition, StoredPosition, type TailPosition, TailReader } from "./tail.ts";

/**
 * How far apart in time two events of one context chain may lie (an automation's delays included): a
 * context is looked for within this span either side of an event already seen for it.
 */
export const CONTEXT_WINDOW_MS = 15 * 60_000;
const SHIFT = BigInt(ENTITY_BITS);
/** Up to this many entities matched by id or name are read through the entity index, one by one. */
const INDEX_PATH_MAX_ENTITIES = 32;
const ROW = `id >> ${ENTITY_BITS} AS t, e, v, s, a, c, cp, cu, CAST(id AS TEXT) AS k`;
/**
 * At most this many rows the rollup has not reached are read into memory for hour-bucket stats (~100
 * bytes each); beyond (the rollup far behind, e.g. after a large import or a restart on a store it has
 * not rolled) the raw rows of the window are streamed instead.
 */
const PENDING_ROWS_MAX = 100_000;
/** ROW for `EntityRows` (alias `ev`), plus the id. */
const entityRow = (id: string) =>
  `${id} >> ${ENTITY_BITS} AS t, ev.e AS e, ev.v AS v, ev.s AS s, ev.a AS a, ev.c AS c, ev.cp AS cp,
   ev.cu AS cu, CAST(${id} AS TEXT) AS k, ${id} AS id`;

export interface InsightsLimits {
  searchScanRows: number;
  /** Terms one search may hold; each is matched against the state dictionary. */
  searchTermsMax: number;
  /** Newest distinct states a search matches its terms against. */
  searchStatesMax: number;
  traceMaxDepth: number;
  traceMaxEvents: number;
}

export interface SearchQuery {
  q: string;
  from: number;
  to: number;
  limit: number;
  cursor?: string;
  domain?: string;
}

export interface SearchHit {
  /** The event's id in the store; pass it to the trace endpoint. */
  id: string;
  entity_id: string;
  name: string | null;
  state: string;
  value: number | null;
  ts: number;
}

export interface SearchPage {
  items: SearchHit[];
  /** Pass as `cursor` to continue (older events); null when the window is exhausted. */
  nextCursor: string | null;
  /** This page looked at events from here (ms) up to the cursor or `to`. */
  scannedFrom: number;
  /** Entities that can match: by id or name, or by having a matching state. */
  candidates: number;
  /**
   * True when terms had to be matched against states and the state dictionary holds more than
   * `insights.searchStatesMax` of them: only the newest were matched, so older states' events may be missing.
   */
  statesTruncated: boolean;
}

/**
 * One entity's rows over a span as columns, ascending by time, for the health and energy analyses. The
 * arrays are views over buffers the reader reuses for the next entity: copy what you keep. Columns, not
 * events: a week of a busy home is millions of rows, and an object (and parsed attributes) per row made
 * each run's peak three times what reading the rows costs.
 */
export interface EntityColumns {
  entity_id: string;
  length: number;
  /** Milliseconds since the epoch. */
  ts: Float64Array;
  /** The state as a number, NaN where it is not one. */
  value: Float64Array;
  /** The state's dictionary id, -1 where the state is the number in `value`. */
  state: Int32Array;
  /** Whether rows i and j hold the same state (what comparing their state texts would say). */
  sameState(i: number, j: number): boolean;
  stateText(i: number): string;
  /** Row i's attributes: parsed once per distinct set (bounded cache), shared, read-only. */
  attributes(i: number): Readonly<Record<string, unknown>>;
}

/**
 * One row as a fold reads it. The object is reused for the next row: copy what you keep.
 */
export interface WindowRow {
  /** Milliseconds since the epoch. */
  ts: number;
  /** The state as a number, NaN where it is not one. */
  value: number;
  /** The state's dictionary id, -1 where the state is the number in `value`. */
  state: number;
  /** Parsed once per distinct set (bounded cache), shared, read-only. */
  attributes: Readonly<Record<string, unknown>>;
  stateText(): string;
}

export interface InsightsReader {
  search(query: SearchQuery): SearchPage;
  stats(query: StatsOptions & { top: number }): EventStats;
  /** The trace of one event, by store id, or by entity and time (the latest event at or before `ts`). */
  trace(ref: { id: string } | { entityId: string; ts: number }): (Trace & { id: string }) | null;
  /**
   * Calls `fn` once per entity that has rows in [from, to), with those rows as columns; one entity in
   * memory at a time. `only` picks entities by id; `keep` by their latest attributes in the span, before
   * any row of theirs is read (e.g. "is this a power sensor?").
   */
  eachEntityColumns(
    from: number,
    to: number,
    fn: (columns: EntityColumns) => void,
    only?: (entityId: string) => boolean,
    keep?: (entityId: string, lastAttributes: Readonly<Record<string, unknown>>) => boolean,
  ): void;
  /** The largest heap footprint (heapFootprint) eachEntityColumns saw between two entities, since open. */
  scanPeakBytes(): number;
  /**
   * Where folding the rows from `fromMs` on starts: before the first row at or after it, and at the
   * journal's head (rows stored late before now are read by id).
   */
  foldStart(fromMs: number): TailPosition;
  /**
   * Up to `max` rows past `pos` in id order (the time order live rows arrive in), stopping before the first
   * row at or after `beforeMs`; `fn` gets each with its entity key and id. One snapshot. `late` lists the
   * entities with rows stored at or behind `pos` since (backfill, import) and at or after `fromMs`: fold
   * those again with foldEntity. `done` when no row before `beforeMs` is left.
   */
  foldRead(
    pos: TailPosition,
    max: number,
    fromMs: number,
    beforeMs: number,
    fn: (e: number, entityId: string, row: WindowRow) => void,
  ): { next: TailPosition; late: number[]; done: boolean };
  /** One entity's rows from `fromMs` up to and including position `pos`, ascending, streamed. */
  foldEntity(
    e: number,
    fromMs: number,
    pos: TailPosition,
    fn: (entityId: string, row: WindowRow) => void,
  ): void;
  /** Changes when entities are renamed or merged (their rows move): a fold starts again then. */
  namesVersion(): number;
  /** A state's text from its dictionary id, or the number's text where `state` is -1. */
  stateTextOf(state: number, value: number): string;
  entityIds(): string[];
  /** Oldest and newest raw event times (ms), or null when empty. */
  span(): { oldestMs: number; newestMs: number } | null;
  close(): void;
}

type Row = {
  t: number;
  e: number;
  v: number | null;
  s: number | null;
  a: number;
  c: unknown;
  cp: unknown;
  cu: number | null;
  k: string;
};

/**
 * Opens a read-only view of `events.db` under `dataDir`.
 * @param names friendly names by entity id (from the metadata reader), asked for on each search/stats call
 */
export function openInsightsReader(
  dataDir: string,
  limits: InsightsLimits,
  names: () => ReadonlyMap<string, string> = () => new Map(),
): InsightsReader {
  const path = join(dataDir, EVENTS_DB);
  if (!existsSync(path))
    throw new Error(`insights: ${path} does not exist yet; the store creates it when HomeIQ starts`);
  const db = new Database(path, { readwrite: true });
  configureConnection(db);
  db.run("PRAGMA query_only = 1");
  return new SqliteInsights(db, limits, names);
}

class SqliteInsights implements InsightsReader {
  private readonly baseUs: number;
  private readonly q: Record<string, Statement>;
  /** Where the store's rollup stands, to add the rows it has not folded into `hourly` yet. */
  private readonly rollupTail: TailReader<Record<string, never>>;
  private readonly rollupPosition: StoredPosition;
  private readonly foldTail: TailReader<{ v: number | null; s: number | null; a: number }>;
  private readonly row = new ReusedRow((s, v) => this.stateTextOf(s, v));
  private readonly stmtCache = new Map<string, Statement>();
  private entities: { e: number; entity_id: string }[] = [];
  private entityCount = -1;
  private namesSeen = -1;
  private readonly entityName = new Map<number, string>();
  private readonly states: string[] = [];
  private readonly statesLower: string[] = [];
  private readonly users = new Map<number, string>();
  private readonly attrs = new Map<number, Record<string, unknown>>();
  /** One entity's rows through the store's postings (../store/entity-rows.ts). */
  private readonly entityRows: EntityRows<Row>;
  private readonly rangeRows: EntityRows<{ t: number; v: number | null; s: number | null; a: number }>;
  private readonly attrRows: EntityRows<{ a: number }>;
  private scanPeak = 0;
  private readonly columns = new ColumnBuffers(
    (s) => this.states[s] ?? "",
    (a) => this.attributesOf(a),
  );

  constructor(
    private readonly db: Database,
    private readonly limits: InsightsLimits,
    private readonly names: () => ReadonlyMap<string, string>,
  ) {
    this.baseUs = readBaseUs(db);
    this.entityRows = new EntityRows(db, entityRow);
    // Only what the analyses read (contexts and the text id are most of a row's cost), streamed.
    this.rangeRows = new EntityRows(
      db,
      (id) => `${id} >> ${ENTITY_BITS} AS t, ev.v AS v, ev.s AS s, ev.a AS a`,
    );
    this.attrRows = new EntityRows(db, () => "ev.a AS a");
    this.q = {
      entities: db.prepare("SELECT e, entity_id FROM entities ORDER BY e"),
      entityMeta: db.prepare(
        "SELECT (SELECT count(*) FROM entities) AS n, coalesce((SELECT value FROM meta WHERE key = 'names_version'), 0) AS v",
      ),
      entityKey: db.prepare("SELECT e FROM entity_names WHERE name = ?"),
      newStates: db.prepare("SELECT s, state FROM states WHERE s > ? ORDER BY s"),
      user: db.prepare("SELECT user_id FROM users WHERE u = ?"),
      attr: db.prepare("SELECT json FROM attrs WHERE a = ?"),
      rawCount: db.prepare("SELECT value FROM meta WHERE key = 'raw_count'"),
      // Two subqueries: SQLite answers a lone min() or max() from the end of the rowid b-tree, but both in
      // one SELECT make it scan the whole table.
      minMax: db.prepare(
        `SELECT (SELECT min(id) FROM events) >> ${ENTITY_BITS} AS lo, (SELECT max(id) FROM events) >> ${ENTITY_BITS} AS hi`,
      ),
      byId: db.prepare(`SELECT ${ROW} FROM events WHERE id = CAST(?1 AS INTEGER)`),
      context: db.prepare(contextRowsSql(`${ROW}, id`, "?1", "?2", { full: "?3", lo: "?4", hi: "?5" })),
      journalHead: db.prepare("SELECT coalesce(max(seq), 0) AS seq FROM journal"),
      rawRows: db.prepare(`SELECT e, id >> ${ENTITY_BITS} AS t FROM events WHERE id >= ?1 AND id < ?2`),
      // Entity by entity through the primary key (e, t): a time range alone would scan the whole tier.
      hourlyCounts: db.prepare(
        "SELECT h.e, h.t, h.n + h.tn FROM entities en CROSS JOIN hourly h ON h.e = en.e AND h.t >= ?1 AND h.t < ?2",
      ),
    };
    this.rollupTail = new TailReader(db, "");
    this.rollupPosition = new StoredPosition(db, "rollup");
    this.foldTail = new TailReader(db, "ev.v AS v, ev.s AS s, ev.a AS a");
  }

  /** Rowid bound for a time in ms: every event at or after `ms` has id >= idAt(ms). */
  private idAt(ms: number): bigint {
    return (BigInt(Math.ceil(ms * 1000)) - BigInt(this.baseUs)) << SHIFT;
  }

  private ms(t: number): number {
    return (t + this.baseUs) / 1000;
  }

  private refreshEntities(): void {
    const { n, v } = this.q.entityMeta.get() as { n: number; v: number };
    if (n === this.entityCount && v === this.namesSeen) return;
    this.entities = this.q.entities.all() as { e: number; entity_id: string }[];
    this.entityName.clear();
    for (const row of this.entities) this.entityName.set(row.e, row.entity_id);
    this.entityCount = n;
    this.namesSeen = v;
  }

  /** A state's text in lower case, computed once per state (search matches terms against it). */
  private lowerState(s: number): string | undefined {
    let lower = this.statesLower[s];
    if (lower === undefined && this.states[s] !== undefined) {
      lower = this.states[s].toLowerCase();
      this.statesLower[s] = lower;
    }
    return lower;
  }

  /** The state dictionary only grows (ids are never reused), so new rows are appended. */
  private refreshStates(): void {
    const rows = this.q.newStates.all(this.states.length - 1) as { s: number; state: string }[];
    for (const r of rows) this.states[r.s] = r.state;
  }

  private decode(r: Row): InsightEvent {
    const attributes = this.attributesOf(r.a);
    let user: string | null = null;
    if (r.cu !== null) {
      user = this.users.get(r.cu) ?? null;
      if (user === null) {
        user = (this.q.user.get(r.cu) as { user_id: string } | null)?.user_id ?? "";
        if (this.users.size >= 10_000) this.users.clear();
        this.users.set(r.cu, user);
      }
    }
    return {
      entity_id: this.entityName.get(r.e) ?? `unknown.${r.e}`,
      state: this.stateText(r),
      value: r.v,
      ts: this.ms(r.t),
      context_id: decodeContextId(r.c, r.t + this.baseUs),
      context_parent_id: decodeContextId(r.cp, r.t + this.baseUs),
      context_user_id: user,
      attributes,
    };
  }

  /** Parsed attributes by id, shared between rows (read-only for callers); bounded cache. */
  private attributesOf(a: number): Record<string, unknown> {
    let attributes = this.attrs.get(a);
    if (!attributes) {
      const json = (this.q.attr.get(a) as { json: string } | null)?.json ?? "{}";
      attributes = JSON.parse(json) as Record<string, unknown>;
      if (this.attrs.size >= 10_000) this.attrs.clear();
      this.attrs.set(a, attributes);
    }
    return attributes;
  }

  private stateText(r: { s: number | null; v: number | null }): string {
    if (r.s === null) return String(r.v);
    if (this.states[r.s] === undefined) this.refreshStates();
    return this.states[r.s] ?? "";
  }

  private prepared(sql: string): Statement {
    let stmt = this.stmtCache.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (this.stmtCache.size >= 64) this.stmtCache.clear();
      this.stmtCache.set(sql, stmt);
    }
    return stmt;
  }

  search(query: SearchQuery): SearchPage {
    const terms = parseQuery(query.q);
    if (terms.length > this.limits.searchTermsMax)
      throw new SearchTermsError(terms.length, this.limits.searchTermsMax);
    this.refreshEntities();
    this.refreshStates();
    const names = this.names();
    const full: number[] = [];
    const groups = new Map<string, { remaining: string[]; es: number[] }>();
    for (const { e, entity_id } of this.entities) {
      if (query.domain && domainOf(entity_id) !== query.domain) continue;
      const { matched, remaining } = matchEntity(terms, entity_id, names.get(entity_id) ?? null);
      if (matched) full.push(e);
      else {
        const key = remaining.join("\u0000");
        const g = groups.get(key);
        if (g) g.es.push(e);
        else groups.set(key, { remaining, es: [e] });
      }
    }
    // Each group of entities still needs its remaining terms in the state text (or an exact number).
    const matcher = new StateTermMatcher(this.states.length, this.limits.searchStatesMax, (s) =>
      this.lowerState(s),
    );
    const stateGroups: { es: number[]; sids: number[]; num: number }[] = [];
    let candidates = full.length;
    for (const { remaining, es } of groups.values()) {
      const sids = matcher.statesWithAll(remaining);
      const num = remaining.length === 1 && remaining[0] !== "" ? Number(remaining[0]) : Number.NaN;
      if (!sids.length && !Number.isFinite(num)) continue;
      candidates += es.length;
      stateGroups.push({ es, sids, num });
    }
    const statesTruncated = matcher.truncated;
    const fromId = this.idAt(query.from);
    const toId = this.idAt(query.to);
    const upper = query.cursor !== undefined ? minBig(parseCursor(query.cursor), toId) : toId;
    if ((!full.length && !stateGroups.length) || upper <= fromId)
      return { items: [], nextCursor: null, scannedFrom: query.from, candidates, statesTruncated };
    const hit = (r: Row): SearchHit => {
      const entity_id = this.entityName.get(r.e) ?? `unknown.${r.e}`;
      return {
        id: r.k,
        entity_id,
        name: names.get(entity_id) ?? null,
        state: this.stateText(r),
        value: r.v,
        ts: this.ms(r.t),
      };
    };
    if (!stateGroups.length && full.length <= INDEX_PATH_MAX_ENTITIES) {
      // Few entities matched by id or name: read each through the entity index, newest first, and merge.
      // Exact and cheap whatever the window: at most `limit` rows per entity.
      const rows: Row[] = [];
      for (const e of full)
        rows.push(...this.entityRows.get(e, idRange(e, fromId, upper), "desc", query.limit));
      rows.sort((a, b) => b.t - a.t || b.e - a.e);
      const page = rows.slice(0, query.limit);
      const more = rows.length > query.limit || page.length === query.limit;
      return {
        items: page.map(hit),
        nextCursor: more && page.length ? page[page.length - 1].k : null,
        scannedFrom: more && page.length ? this.ms(page[page.length - 1].t) : query.from,
        candidates,
        statesTruncated,
      };
    }
    // Otherwise scan the rowid range newest first (`+e` keeps SQLite off the entity index, which would read
    // every row of every candidate and sort them), at most searchScanRows rows at the store's average density.
    const clauses: string[] = [];
    const params: (string | number | bigint)[] = [];
    if (full.length) {
      params.push(JSON.stringify(full));
      clauses.push(`+e IN (SELECT value FROM json_each(?${params.length}))`);
    }
    for (const { es, sids, num } of stateGroups) {
      const ors: string[] = [];
      if (sids.length) {
        params.push(JSON.stringify(sids));
        ors.push(`s IN (SELECT value FROM json_each(?${params.length}))`);
      }
      if (Number.isFinite(num)) {
        params.push(num);
        ors.push(`(s IS NULL AND v = ?${params.length})`);
      }
      params.push(JSON.stringify(es));
      // The state test first: it is false for most rows and cheaper than the entity list.
      clauses.push(`((${ors.join(" OR ")}) AND +e IN (SELECT value FROM json_each(?${params.length})))`);
    }
    const span = this.span();
    const { value: rawCount } = this.q.rawCount.get() as { value: number };
    const densityPerMs = span && rawCount > 0 ? rawCount / Math.max(1, span.newestMs - span.oldestMs) : 1;
    const chunkMs = Math.max(1000, this.limits.searchScanRows / densityPerMs);
    const chunkLower = upper - (BigInt(Math.ceil(chunkMs * 1000)) << SHIFT);
    const lower = chunkLower > fromId ? chunkLower : fromId;
    const n = params.length;
    const sql = `SELECT ${ROW} FROM events WHERE id >= ?${n + 1} AND id < ?${n + 2} AND (${clauses.join(" OR ")})
      ORDER BY id DESC LIMIT ?${n + 3}`;
    const rows = this.prepared(sql).all(...params, lower, upper, query.limit) as Row[];
    const items = rows.map(hit);
    if (rows.length === query.limit)
      return {
        items,
        nextCursor: rows[rows.length - 1].k,
        scannedFrom: items[items.length - 1].ts,
        candidates,
        statesTruncated,
      };
    const exhausted = lower <= fromId;
    return {
      items,
      nextCursor: exhausted ? null : lower.toString(),
      scannedFrom: exhausted ? query.from : Number((lower >> SHIFT) + BigInt(this.baseUs)) / 1000,
      candidates,
      statesTruncated,
    };
  }

  stats(query: StatsOptions & { top: number }): EventStats {
    this.refreshEntities();
    const acc = new StatsAccumulator(query);
    let counted = false;
    if (query.bucketMs % 3600_000 === 0) {
      // Rolled-up hours plus the rows the rollup has not reached yet: exact, and no raw scan. One snapshot,
      // so a rollup step committing meanwhile is counted either in the tier or as pending, never both.
      const fromS = Math.floor(query.from / 3600_000) * 3600;
      this.db.transaction(() => {
        const position = this.rollupPosition.load(metaPosition(this.db, "tail_base"));
        // Counted before read: reading a far-behind rollup's rows only to drop them cost ~100 MB.
        if (this.rollupTail.pending(position, PENDING_ROWS_MAX + 1) > PENDING_ROWS_MAX) return;
        const pending = this.rollupTail.read(position, PENDING_ROWS_MAX);
        for (const [e, t, n] of this.q.hourlyCounts.values(fromS, Math.ceil(query.to / 1000)) as number[][])
          acc.add(e, t * 1000, n);
        for (const { e, t } of pending.rows) {
          if (t === null) continue; // a journaled row deleted since
          const ms = this.ms(t);
          if (ms >= query.from && ms < query.to) acc.add(e, ms, 1);
        }
        counted = true;
      })();
    }
    // Streamed: a window of raw rows can be millions (hundreds of MB as one array). Each row is an object
    // that dies at once, but the actor's own collection rules run from timers this loop holds off: left to
    // JavaScriptCore, the once-a-minute scans after a max-rate burst (6-7M rows, the rollup far behind) took
    // the process from ~330 to 540 and 708 MB for ~10 s; with these young collections the late spike was gone
    // (bench:e2e --rate max).
    if (!counted) {
      let rows = 0;
      for (const r of this.q.rawRows.iterate(this.idAt(query.from), this.idAt(query.to)) as Iterable<{
        e: number;
        t: number;
      }>) {
        acc.add(r.e, this.ms(r.t), 1);
        if (++rows % COLLECT_EVERY_ROWS === 0) Bun.gc(false);
      }
    }
    return acc.result((e) => this.entityName.get(e) ?? null, query.top, this.names());
  }

  trace(ref: { id: string } | { entityId: string; ts: number }): (Trace & { id: string }) | null {
    this.refreshEntities();
    let row: Row | null;
    if ("id" in ref) row = this.q.byId.get(parseCursor(ref.id)) as Row | null;
    else {
      const key = this.q.entityKey.get(ref.entityId) as { e: number } | null;
      if (!key) return null;
      // Ids of one entity at one microsecond differ only in the entity bits, so `| 0xffff` closes the range.
      const upper = this.idAt(ref.ts + 0.001) - 1n;
      const lower = this.idAt(ref.ts - 30 * 86400_000);
      row = this.entityRows.get(key.e, idRange(key.e, lower, upper + 1n), "desc", 1)[0] ?? null;
    }
    if (!row) return null;
    // A context's rows are looked up near a time already seen for it: a context's events lie within
    // CONTEXT_WINDOW_MS of one another. The SQL matches stored bytes; callers compare decoded ids.
    const seenAt = new Map<string, number>();
    const note = (e: InsightEvent) => {
      for (const text of [e.context_id, e.context_parent_id])
        if (text !== null && !seenAt.has(text)) seenAt.set(text, e.ts);
      return e;
    };
    const target = note(this.decode(row));
    const cache = new Map<string, InsightEvent[]>();
    const around = (contextId: string): InsightEvent[] => {
      let events = cache.get(contextId);
      if (events) return events;
      const at = seenAt.get(contextId) ?? target.ts;
      const keys = contextKeys(contextId);
      const rows = this.q.context.all(
        this.idAt(at - CONTEXT_WINDOW_MS),
        this.idAt(at + CONTEXT_WINDOW_MS),
        keys.full,
        keys.lo,
        keys.hi,
      ) as Row[];
      events = rows.map((r) => note(this.decode(r)));
      if (cache.size >= 256) cache.clear();
      cache.set(contextId, events);
      return events;
    };
    const lookup: ContextLookup = {
      byContext: (id) => around(id).filter((e) => e.context_id === id),
      childContexts: (id) => [
        ...new Set(
          around(id)
            .filter((e) => e.context_parent_id === id && e.context_id)
            .map((e) => e.context_id as string),
        ),
      ],
    };
    const trace = traceEvent(target, lookup, {
      maxDepth: this.limits.traceMaxDepth,
      maxEvents: this.limits.traceMaxEvents,
    });
    return { id: row.k, ...trace };
  }

  eachEntityColumns(
    from: number,
    to: number,
    fn: (columns: EntityColumns) => void,
    only?: (entityId: string) => boolean,
    keep?: (entityId: string, lastAttributes: Readonly<Record<string, unknown>>) => boolean,
  ): void {
    this.refreshEntities();
    const lo = this.idAt(from);
    const hi = this.idAt(to);
    const cols = this.columns;
    let rowsSinceCollection = 0;
    for (const { e, entity_id } of this.entities) {
      if (only && !only(entity_id)) continue;
      if (keep) {
        const last = this.attrRows.get(e, idRange(e, lo, hi), "desc", 1)[0] ?? null;
        if (!last || !keep(entity_id, this.attributesOf(last.a))) continue;
      }
      cols.clear(entity_id);
      for (const r of this.rangeRows.iterate(e, idRange(e, lo, hi), "asc")) {
        cols.push(this.ms(r.t), r.v, r.s, r.a);
      }
      if (!cols.length) continue;
      if (cols.stateMax >= this.states.length) this.refreshStates();
      fn(cols.view());
      const footprint = heapFootprint();
      if (footprint > this.scanPeak) this.scanPeak = footprint;
      rowsSinceCollection += cols.length;
      // Each row comes out of SQLite as an object; left to itself the collector let a week's worth grow
      // the heap by ~+7 MB before it ran (health and energy peaks over a 2.7M-event store: 30 -> 23, 56 -> 49 MB).
      if (rowsSinceCollection >= COLLECT_EVERY_ROWS) {
        rowsSinceCollection = 0;
        Bun.gc(false);
      }
    }
  }

  scanPeakBytes(): number {
    return this.scanPeak;
  }

  foldStart(fromMs: number): TailPosition {
    const { seq } = this.q.journalHead.get() as { seq: number };
    return { t: Math.ceil(fromMs * 1000) - this.baseUs - 1, e: 2 ** ENTITY_BITS - 1, seq };
  }

  foldRead(
    pos: TailPosition,
    max: number,
    fromMs: number,
    beforeMs: number,
    fn: (e: number, entityId: string, row: WindowRow) => void,
  ): { next: TailPosition; late: number[]; done: boolean } {
    // The same bounds as idAt: rows in [fromMs, beforeMs) by their stored microsecond.
    const fromT = Math.ceil(fromMs * 1000) - this.baseUs;
    const beforeT = Math.ceil(beforeMs * 1000) - this.baseUs;
    return this.db.transaction(() => {
      this.refreshEntities();
      const { rows, next } = this.foldTail.read(pos, max);
      const late = new Set<number>();
      let at: { t: number; e: number } = pos;
      let cut = false;
      for (const r of rows) {
        if ("seq" in r) {
          // A late row (deleted since when t is null) behind the position: its entity is folded again.
          if (r.t !== null && r.t >= fromT) late.add(r.e);
          continue;
        }
        if (r.t >= beforeT) {
          cut = true;
          break;
        }
        at = r;
        fn(
          r.e,
          this.entityName.get(r.e) ?? `unknown.${r.e}`,
          this.row.set(this.ms(r.t), r.v, r.s, this.attributesOf(r.a)),
        );
      }
      return { next: { t: at.t, e: at.e, seq: next.seq }, late: [...late], done: cut || rows.length < max };
    })();
  }

  foldEntity(
    e: number,
    fromMs: number,
    pos: TailPosition,
    fn: (entityId: string, row: WindowRow) => void,
  ): void {
    this.refreshEntities();
    const entityId = this.entityName.get(e) ?? `unknown.${e}`;
    const upTo = ((BigInt(pos.t) << SHIFT) | BigInt(pos.e)) + 1n;
    for (const r of this.rangeRows.iterate(e, idRange(e, this.idAt(fromMs), upTo), "asc"))
      fn(entityId, this.row.set(this.ms(r.t), r.v, r.s, this.attributesOf(r.a)));
  }

  namesVersion(): number {
    return (this.q.entityMeta.get() as { v: number }).v;
  }

  stateTextOf(state: number, value: number): string {
    if (state === -1) return String(Number.isNaN(value) ? null : value);
    if (this.states[state] === undefined) this.refreshStates();
    return this.states[state] ?? "";
  }

  entityIds(): string[] {
    this.refreshEntities();
    return this.entities.map((r) => r.entity_id).sort();
  }

  span(): { oldestMs: number; newestMs: number } | null {
    const { lo, hi } = this.q.minMax.get() as { lo: number | null; hi: number | null };
    return lo === null || hi === null ? null : { oldestMs: this.ms(lo), newestMs: this.ms(hi) };
  }

  close(): void {
    this.db.close();
  }
}

/** Rows read (as objects) between young-generation collections in eachEntityColumns. */
const COLLECT_EVERY_ROWS = 10_000;

/** The one row object a fold read hands out, refilled for each row. */
class ReusedRow implements WindowRow {
  ts = 0;
  value = Number.NaN;
  state = -1;
  attributes: Readonly<Record<string, unknown>> = {};

  constructor(private readonly text: (state: number, value: number) => string) {}

  set(ts: number, v: number | null, s: number | null, attributes: Readonly<Record<string, unknown>>): this {
    this.ts = ts;
    this.value = v ?? Number.NaN;
    this.state = s ?? -1;
    this.attributes = attributes;
    return this;
  }

  stateText(): string {
    return this.text(this.state, this.value);
  }
}

/** The growable buffers behind EntityColumns, reused from one entity to the next. */
class ColumnBuffers {
  entityId = "";
  length = 0;
  stateMax = -1;
  private ts = new Float64Array(1024);
  private value = new Float64Array(1024);
  private state = new Int32Array(1024);
  private attr = new Float64Array(1024);

  constructor(
    private readonly stateName: (s: number) => string,
    private readonly attributes: (a: number) => Record<string, unknown>,
  ) {}

  clear(entityId: string): void {
    this.entityId = entityId;
    this.length = 0;
    this.stateMax = -1;
  }

  push(ts: number, value: number | null, state: number | null, attr: number): void {
    if (this.length === this.ts.length) this.grow();
    const i = this.length++;
    this.ts[i] = ts;
    this.value[i] = value ?? Number.NaN;
    this.state[i] = state ?? -1;
    this.attr[i] = attr;
    if (state !== null && state > this.stateMax) this.stateMax = state;
  }

  view(): EntityColumns {
    const n = this.length;
    const value = this.value.subarray(0, n);
    const state = this.state.subarray(0, n);
    const attr = this.attr;
    return {
      entity_id: this.entityId,
      length: n,
      ts: this.ts.subarray(0, n),
      value,
      state,
      // Numbers compare as their texts would: 0 and -0 print alike, and NaN (no number) equals NaN.
      sameState: (i, j) =>
        state[i] === state[j] && (state[i] !== -1 || value[i] === value[j] || Object.is(value[i], value[j])),
      // A numeric state's text is the number's, as the row decoder gives it (search, trace).
      stateText: (i) =>
        state[i] === -1 ? String(Number.isNaN(value[i]) ? null : value[i]) : this.stateName(state[i]),
      attributes: (i) => this.attributes(attr[i]),
    };
  }

  private grow(): void {
    const n = this.ts.length * 2;
    const bigger = <A extends Float64Array | Int32Array>(a: A, make: (n: number) => A): A => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.ts = bigger(this.ts, (k) => new Float64Array(k));
    this.value = bigger(this.value, (k) => new Float64Array(k));
    this.state = bigger(this.state, (k) => new Int32Array(k));
    this.attr = bigger(this.attr, (k) => new Float64Array(k));
  }
}

/** Cursors and event ids are the store's rowids as decimal text. */
export function parseCursor(text: string): bigint {
  if (!/^-?\d{1,19}$/.test(text)) throw new CursorError(text);
  const id = BigInt(text);
  if (id > INT64_MAX || id < -INT64_MAX) throw new CursorError(text);
  return id;
}

const INT64_MAX = 2n ** 63n - 1n;

/** A search with more terms than `insights.searchTermsMax`. */
export class SearchTermsError extends Error {
  constructor(
    readonly terms: number,
    readonly max: number,
  ) {
    super(`${terms} search terms, more than the ${max} allowed`);
    this.name = "SearchTermsError";
  }
}

export class CursorError extends Error {
  constructor(readonly value: string) {
    super(`"${value.slice(0, 40)}" is not an id or cursor this store returned; pass it back unchanged`);
    this.name = "CursorError";
  }
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
