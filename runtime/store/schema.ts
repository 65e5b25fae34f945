/**
 * The layout of `events.db`, the durable source of truth. Only the batcher's worker writes it (through
 * `openStoreWriter`); everyone else opens read connections (`openStoreReader`, or plain read-only SQL for
 * the insights/suggestions miners — the table notes below are written for them).
 *
 * Why it looks like this (≈ bytes per raw event matter: 7 days of a busy home is tens of millions of rows):
 * - `events` (a view over `raw_events` since version 5) has a rowid that IS the idempotency key and the
 *   time order at once:
 *   `id = ((last_updated_us - base_us) << 16) | e`. So `INSERT OR IGNORE` dedupes replays and backfill with
 *   no extra unique index, a time range is a rowid range (no time index), and `e`'s index (which carries
 *   the rowid) gives one entity's history in time order. `base_us` is fixed per database (table `meta`),
 *   which leaves ±4.46 years of microseconds around it and 65,535 entity keys (why that is enough and what
 *   protects it: `ENTITY_BITS`).
 * - Entity ids, non-numeric states, attribute JSON and user ids are dictionaries; an event row holds small
 *   integers. Since version 5 (≈ 20 bytes less per row; docs/architecture.md "Event pipeline"): the entity key is only the id's
 *   low bits, a number state is a short decimal (`x`, `RAW_EVENTS_SQL`), a context id is its 10 random
 *   bytes (./codec.ts `encodeContextId`), and attribute objects that change in a value are a JSON merge
 *   patch of a whole one (`ATTRS_VIEW_SQL`). The views `events` and `attrs` decode them: read those.
 * - Nothing but the row itself is written per live event. Tailers (rollup, Influx writer) follow the table
 *   in id order (see ./tail.ts); only a row inserted behind the newest id (`meta.hwm`: backfill, import,
 *   a rename's moved rows) is also recorded in `journal`, so a tailer that has passed its id still sees it.
 * - `entity_postings` gives one entity's rows in time order: posting lists of row times (version 5;
 *   ./entity-rows.ts, ~4 bytes an event where a b-tree entry per row, `entity_index`, cost 17). They are
 *   filled in bulk by the batcher's maintenance up to `meta.indexed_to`; newer rows are found by scanning
 *   the table's tail. A per-row index on `events(e)` dirtied one page per entity per commit and cost more
 *   than the row itself (bench/store.bench.ts).
 *
 * @example SQL for miners (read-only connection; one entity's rows: ./entity-rows.ts `EntityRows`):
 *   SELECT (ev.id >> 16) + (SELECT value FROM meta WHERE key = 'base_us') AS last_updated_us,
 *          en.entity_id, coalesce(st.state, ev.v) AS state
 *   FROM events ev JOIN entities en ON en.e = ev.e LEFT JOIN states st ON st.s = ev.s
 *   WHERE ev.id >= ((:from_us - :base_us) << 16) ORDER BY ev.id;
 */
import type { Database } from "bun:sqlite";
import { MigrationError, SchemaTooNewError } from "../kernel/sqlite.ts";
import { encodePosting, looseNumber, POSTING_IDS_MAX } from "./codec.ts";

/** Table names, for SQL written elsewhere. */
export const TABLES = {
  /**
   * `key TEXT PRIMARY KEY, value`: `base_us` (time origin of event ids), `raw_count` (rows in `events`),
   * `hwm` (the highest id ever inserted), `indexed_to` (entity_postings hold every row up to this id),
   * `tail_base` (rows up to this id were journaled before version 3), `pruned_to` (the newest time, µs
   * after base_us, retention or the disk bound deleted), `tw_from` (where version 4 re-rolled from),
   * `compact_from` (rows up to this id may hold 16-byte contexts, as before version 5).
   */
  meta: "meta",
  /** `e INTEGER PRIMARY KEY` (stable key, never reused), `entity_id` (current name), `stable_id` (first name ever; the Influx tag). */
  entities: "entities",
  /** `name TEXT PRIMARY KEY, e`: every name an entity has had (renames join the old history). */
  entityNames: "entity_names",
  /**
   * `s INTEGER PRIMARY KEY, state TEXT UNIQUE`: non-numeric (or non-canonical numeric) state texts; `num`
   * (version 5) the number a text reads as (`"21.50"`: 21.5), else NULL.
   */
  states: "states",
  /**
   * View `a, h` (crc32 of json), `json`: de-duplicated attribute objects as JSON text, over `attr_rows`
   * (`ATTRS_VIEW_SQL`; writes go there).
   */
  attrs: "attrs",
  /** `u INTEGER PRIMARY KEY, user_id TEXT UNIQUE`: HA user ids found in contexts. */
  users: "users",
  /**
   * Raw tier, a view (version 5) over `raw_events` (`RAW_EVENTS_SQL`; writes go there). `id` (see above),
   * `e` entity key, `v` numeric state or NULL, `s` state id or NULL (state text is `states.state` when `s`
   * is set, else the canonical decimal text of `v`), `a` attrs id, `lc` = last_updated_us -
   * last_changed_us, `c` context id, `cp` context parent id (each stored as `encodeContextId` gives,
   * relative to the row's last_updated: decode with `decodeContextId(c, last_updated_us)`, match with
   * `contextMatchSql`), `cu` users.u or NULL. Contexts are not indexed: a ULID carries its creation time,
   * so `contextEvents` looks in a window after it.
   */
  events: "events",
  /** The raw tier's rows as stored (version 5; `RAW_EVENTS_SQL`); read `events`. */
  rawEvents: "raw_events",
  /** Attribute objects as stored (version 5; `ATTRS_VIEW_SQL`): `a, h, json` (whole or a patch), `base`. */
  attrRows: "attr_rows",
  /**
   * `seq INTEGER PRIMARY KEY, id`: rows inserted at or behind `meta.hwm` (late rows), in insertion order.
   * Rows up to `meta.tail_base` were all journaled (schema versions before 3).
   */
  journal: "journal",
  /**
   * `e, hi, lo, ts` (primary key `(e, hi)`, WITHOUT ROWID): one entity's row times in time order, up to
   * `meta.indexed_to`, as posting lists (version 5; read them with ./entity-rows.ts `EntityRows`).
   */
  entityPostings: "entity_postings",
  /**
   * `name TEXT PRIMARY KEY, seq`: the rollup's tail position (`rollup` = journal seq, `rollup.id` = event id),
   * and `export`/`export.id`: the Influx writer's acknowledged position as last reported (./export-ack.ts;
   * the writer's own lives in influx.db).
   */
  cursors: "cursors",
  /**
   * Rollup tiers, `PRIMARY KEY (e, t)` with `t` = bucket start in unix seconds (UTC hour / UTC day), as
   * Home Assistant's long-term statistics compute them (./rollup.ts). Time-weighted: `tw` (Σ value ×
   * seconds held), `tws` (seconds a numeric value held; mean = tw / tws), `min`/`max` of the values held,
   * `growth` (a meter's increase, reset-aware), `ts`/`on_s` (seconds in any / an on-like text state).
   * Samples: `n` numeric count and their `sum` (mean = sum / n where tws = 0: buckets from before
   * version 4), `tn` text count, `last_s` (states.s of the latest text state), `last_us` (its last_updated).
   */
  hourly: "hourly",
  daily: "daily",
  /**
   * `e INTEGER PRIMARY KEY, us, v, s, a`: each entity's newest rolled-up sample, whose held interval is
   * credited when the next one arrives.
   */
  rollupCarry: "rollup_carry",
  /** `k INTEGER PRIMARY KEY, source, metric`: enrichment series (e.g. weather / temperature). */
  series: "series",
  /** `seq INTEGER PRIMARY KEY AUTOINCREMENT, k, ts_ms, value`, `UNIQUE (k, ts_ms)`: enrichment readings. */
  readings: "readings",
} as const;

/**
 * Bits of the event id that hold the entity key.
 *
 * Why 16 bits (65,535 entities ever seen) is kept, and what protects it:
 * - A home has a few thousand entities. Renames keep their key (`StoreWriter.rename` joins the history),
 *   so the space is spent only by entities that are new under every name: ~1,000 new entities a year (a
 *   busy home re-adding integrations and devices) is 60 years of keys.
 * - Widening is not cheap in this layout: the id is `(t << 16) | e` in a signed 64-bit rowid, so each bit
 *   given to `e` halves the time range (47 bits of µs = ±4.46 years around `base_us`; 20 bits of key would
 *   leave ±101 days). It would mean a coarser clock or re-basing every id, a full table rewrite.
 * - Reusing keys of entities with no rows left is possible in principle (no raw, hourly or daily rows),
 *   but the key is also the Influx series identity (`stable_id`) and readers cache key -> name; a reused
 *   key could label a tailer's in-flight rows with the wrong name. Not done: the protections below make
 *   exhaustion a slow, visible, non-fatal condition instead.
 * - Protections: an import may add at most `ops.importMaxNewEntities` new entities and never takes the
 *   last `ops.importEntityKeyReserve` keys (refused before anything is written); when the space is full
 *   anyway, a new entity's events are refused alone and counted (`store_entity_keys_refused_total`),
 *   never thrown inside the batch transaction, so known entities keep being stored; the keys in use are
 *   a gauge (`store_entity_keys_used` against `store_entity_keys_max`) to alert on long before that.
 */
export const ENTITY_BITS = 16;
export const MAX_ENTITY_KEY = 2 ** ENTITY_BITS - 1;
/** Largest |last_updated_us - base_us| an event id can hold. */
export const MAX_REL_US = 2 ** (63 - ENTITY_BITS) - 1;

/** The smallest int64, "before every event id", as SQL (the literal -9223372036854775808 would parse as a real). */
export const MIN_ID_SQL = "(-9223372036854775807 - 1)";

const tier = (name: string) => `CREATE TABLE IF NOT EXISTS ${name} (
  e INTEGER NOT NULL, t INTEGER NOT NULL,
  n INTEGER NOT NULL DEFAULT 0, sum REAL NOT NULL DEFAULT 0, min REAL, max REAL,
  tn INTEGER NOT NULL DEFAULT 0, last_s INTEGER, last_us INTEGER,
  PRIMARY KEY (e, t)) WITHOUT ROWID`;

const DAY_US_SQL = "86400000000";
const BASE_US_SQL = "(SELECT value FROM meta WHERE key = 'base_us')";
const TW_FROM_SQL = "(SELECT value FROM meta WHERE key = 'tw_from')";
const TW_FROM_SECONDS_SQL = `((${TW_FROM_SQL} + ${BASE_US_SQL}) / 1000000)`;

/**
 * The raw tier's rows since version 5. `id` as before (its low 16 bits are the entity key, so there is no
 * `e` column); `x` the state: `mantissa * 16 + decimals` (0..12) for a number printed as such
 * (`encodeDecimal`), `s * 16 + 15` for a text state, `s * 16 + 14` for one that reads as a number
 * (`"21.50"`), 13 for a number without the short form (`"1e+21"`); `a` attrs id; `c` context; `cp` parent
 * context; `m` what most rows do without: NULL (last_changed = last_updated, no user, no number beside
 * `x`), the integer last_updated - last_changed (> 0) alone, `-1 - cu` for a user alone (a switch someone
 * flipped: lc is 0; last_changed is never after last_updated, so a negative m is free), or the JSON array
 * `[lc, cu, vl]` (`vl` the number of code 13; code 14's number is its text's, `states.num`). SQLite spends a header byte on every column, NULL or not (measured): no column that
 * can be derived (e, v of a short decimal), and one for the three rare ones.
 */
const RAW_EVENTS_SQL = `CREATE TABLE raw_events (id INTEGER PRIMARY KEY, x INTEGER NOT NULL, a INTEGER NOT NULL,
  c, cp, m)`;

const POW10_SQL = (k: number) => `${10 ** k}.0`;
const DECIMALS = Array.from({ length: 13 }, (_, k) => k);

/**
 * The view every reader's SQL reads: the columns of `events` before version 5 (`TABLES.events`). Plain
 * expressions of the row, short: a subquery (a states lookup) or a CASE arm per decimal place here made
 * each query through the view measurably slower (bench/store.bench.ts query figures). One and no
 * decimal places and text come first; 4..12 places divide by power(10, k), exact for those k.
 */
const EVENTS_VIEW_SQL = `CREATE VIEW events AS SELECT id, id & ${2 ** 16 - 1} AS e,
  CASE x & 15 WHEN 1 THEN (x >> 4) / 10.0 WHEN 15 THEN NULL WHEN 0 THEN x >> 4
    WHEN 2 THEN (x >> 4) / 100.0 WHEN 3 THEN (x >> 4) / 1000.0 WHEN 13 THEN m ->> 2
    WHEN 14 THEN (SELECT num FROM states WHERE states.s = x >> 4)
    ELSE (x >> 4) / power(10, x & 15) END AS v,
  CASE WHEN x & 15 >= 14 THEN x >> 4 END AS s,
  a, CASE WHEN m IS NULL THEN 0 WHEN typeof(m) = 'integer' THEN max(m, 0) ELSE m ->> 0 END AS lc, c, cp,
  CASE WHEN m < 0 THEN -1 - m WHEN typeof(m) = 'text' THEN m ->> 1 END AS cu FROM raw_events`;

/**
 * One entity's row times, up to `POSTING_IDS_MAX` per row (./entity-rows.ts): `hi` the last, `lo` the
 * first, `ts` the rest as varint deltas (NULL for one). An entity's postings never overlap.
 */
const POSTINGS_SQL = `CREATE TABLE entity_postings (e INTEGER NOT NULL, hi INTEGER NOT NULL, lo INTEGER NOT NULL,
  ts BLOB, PRIMARY KEY (e, hi)) WITHOUT ROWID`;

/**
 * `x` of a version-4 row (REAL `v`, state id `s`) in SQL: what `encodeDecimal` gives for its state text
 * (the canonical print of `v`): the first scale whose mantissa divides back to exactly `v`; else 13.
 */
function xFromVs(): string {
  const scaled = (k: number) => `CAST(round(v * ${POW10_SQL(k)}) AS INTEGER)`;
  return `CASE WHEN s IS NOT NULL THEN s * 16 + CASE WHEN v IS NULL THEN 15 ELSE 14 END WHEN v IS NULL THEN 15
    ${DECIMALS.map((k) => `WHEN ${encodable(k)} THEN ${scaled(k)} * 16 + ${k}`).join(" ")}
    ELSE 13 END`;
}
const encodable = (k: number) =>
  `abs(v * ${POW10_SQL(k)}) < 281474976710656.0 AND CAST(round(v * ${POW10_SQL(k)}) AS INTEGER) / ${POW10_SQL(k)} = v`;

/**
 * Attribute objects since version 5: `attr_rows (a, h, json, base)` holds each whole (`base` NULL) or as a
 * merge patch of the whole row `base` (never a patch of a patch: one json_patch per lookup, and readers
 * cache by id). `h` is the crc32 of the whole text. Readers read the view.
 */
const ATTRS_VIEW_SQL = `CREATE VIEW attrs AS SELECT r.a AS a, r.h AS h,
  CASE WHEN r.base IS NULL THEN r.json
    ELSE json_patch((SELECT b.json FROM attr_rows b WHERE b.a = r.base), r.json) END AS json
  FROM attr_rows r`;

/** Migrations by target `user_version`; each runs once, in one transaction, and is append-only. */
export const MIGRATIONS: readonly string[][] = [
  [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    `CREATE TABLE IF NOT EXISTS entities (e INTEGER PRIMARY KEY, entity_id TEXT NOT NULL UNIQUE,
      stable_id TEXT NOT NULL)`,
    "CREATE TABLE IF NOT EXISTS entity_names (name TEXT PRIMARY KEY, e INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS states (s INTEGER PRIMARY KEY, state TEXT NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS attrs (a INTEGER PRIMARY KEY, h INTEGER NOT NULL, json TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS attrs_by_hash ON attrs (h)",
    "CREATE TABLE IF NOT EXISTS users (u INTEGER PRIMARY KEY, user_id TEXT NOT NULL UNIQUE)",
    `CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, e INTEGER NOT NULL, v REAL, s INTEGER,
      a INTEGER NOT NULL, lc INTEGER NOT NULL DEFAULT 0, c, cp, cu INTEGER)`,
    "CREATE INDEX IF NOT EXISTS events_by_entity ON events (e)",
    // As first released; version 2 rebuilds it without AUTOINCREMENT.
    "CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY AUTOINCREMENT, id INTEGER NOT NULL)",
    `CREATE TRIGGER IF NOT EXISTS events_journal AFTER INSERT ON events
      BEGIN INSERT INTO journal (id) VALUES (new.id); END`,
    "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID",
    tier("hourly"),
    tier("daily"),
    `CREATE TABLE IF NOT EXISTS series (k INTEGER PRIMARY KEY, source TEXT NOT NULL, metric TEXT NOT NULL,
      UNIQUE (source, metric))`,
    `CREATE TABLE IF NOT EXISTS readings (seq INTEGER PRIMARY KEY AUTOINCREMENT, k INTEGER NOT NULL,
      ts_ms INTEGER NOT NULL, value REAL NOT NULL, UNIQUE (k, ts_ms))`,
  ],
  // 2: the journal without AUTOINCREMENT (its sqlite_sequence update cost ~10% of ingest). seq = max + 1,
  // and trimming always keeps the newest row, so seq never goes back and the cursors stay valid. The rows
  // are copied as they are; the trigger is dropped first so the table swap never sees a dangling reference.
  [
    "DROP TRIGGER IF EXISTS events_journal",
    "CREATE TABLE journal_v2 (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL)",
    "INSERT INTO journal_v2 (seq, id) SELECT seq, id FROM journal",
    "DROP TABLE journal",
    "ALTER TABLE journal_v2 RENAME TO journal",
    `CREATE TRIGGER events_journal AFTER INSERT ON events
      BEGIN INSERT INTO journal (id) VALUES (new.id); END`,
  ],
  // 3: a live event writes its row and nothing else. The per-row journal trigger and the per-row entity
  // index go; tailers follow the table by id from `tail_base` on (older rows stay in the journal, where
  // their seqs are), and the entity index becomes a table the batcher fills in sorted bulk.
  [
    "DROP TRIGGER IF EXISTS events_journal",
    `CREATE TABLE entity_index (e INTEGER NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (e, id)) WITHOUT ROWID`,
    "INSERT INTO entity_index (e, id) SELECT e, id FROM events ORDER BY e, id",
    "DROP INDEX IF EXISTS events_by_entity",
    `CREATE TRIGGER events_unindex AFTER DELETE ON events
      BEGIN DELETE FROM entity_index WHERE e = old.e AND id = old.id; END`,
    `INSERT OR REPLACE INTO meta (key, value)
      SELECT k.key, coalesce((SELECT max(id) FROM events), ${MIN_ID_SQL})
      FROM (SELECT 'hwm' AS key UNION ALL SELECT 'indexed_to' UNION ALL SELECT 'tail_base') k`,
    "INSERT OR IGNORE INTO cursors (name, seq) SELECT 'rollup.id', value FROM meta WHERE key = 'tail_base'",
  ],
  // 4: time-weighted tiers (./rollup.ts). Buckets from the first whole UTC day the raw tier still holds on
  // are rolled up again from raw (the rollup position moves back there; each entity's value at that
  // midnight seeds its carry); older buckets keep their sample means (tws = 0).
  [
    ...["hourly", "daily"].flatMap((tier) =>
      ["tw", "tws", "growth", "on_s", "ts"].map(
        (col) => `ALTER TABLE ${tier} ADD COLUMN ${col} REAL NOT NULL DEFAULT 0`,
      ),
    ),
    `CREATE TABLE IF NOT EXISTS rollup_carry (e INTEGER PRIMARY KEY, us INTEGER NOT NULL, v REAL, s INTEGER,
      a INTEGER NOT NULL)`,
    // Retention may have taken rows before the oldest one left: no hour before it is whole in raw.
    `INSERT OR REPLACE INTO meta (key, value)
      SELECT 'pruned_to', o - 1 FROM (SELECT min(id) >> ${ENTITY_BITS} AS o FROM events) WHERE o IS NOT NULL`,
    `INSERT OR REPLACE INTO meta (key, value)
      SELECT 'tw_from', (o / ${DAY_US_SQL}) * ${DAY_US_SQL} + CASE WHEN o % ${DAY_US_SQL} > 0 THEN ${DAY_US_SQL} ELSE 0 END
      FROM (SELECT min(id) >> ${ENTITY_BITS} AS o FROM events) WHERE o IS NOT NULL`,
    `DELETE FROM hourly WHERE t >= ${TW_FROM_SECONDS_SQL}`,
    `DELETE FROM daily WHERE t >= ${TW_FROM_SECONDS_SQL}`,
    `INSERT OR REPLACE INTO rollup_carry (e, us, v, s, a)
      SELECT ev.e, ${TW_FROM_SQL} + ${BASE_US_SQL}, ev.v, ev.s, ev.a FROM events ev
      WHERE ev.id IN (SELECT max(id) FROM events WHERE id < (${TW_FROM_SQL} << ${ENTITY_BITS}) GROUP BY e)`,
    // Only ever back: a rollup that has not reached tw_from yet rolls those rows for the first time.
    `INSERT OR REPLACE INTO cursors (name, seq)
      SELECT 'rollup.id', (${TW_FROM_SQL} << ${ENTITY_BITS}) - 1
      WHERE ${TW_FROM_SQL} IS NOT NULL AND coalesce((SELECT seq FROM cursors WHERE name = 'rollup.id'),
        (SELECT value FROM meta WHERE key = 'tail_base')) >= (${TW_FROM_SQL} << ${ENTITY_BITS}) - 1`,
  ],
  // 5: fewer bytes per row (docs/architecture.md "Event pipeline"). The rows move to `raw_events` (`RAW_EVENTS_SQL`) and `events`
  // becomes a view decoding them, so every reader's SQL stays as it was. Old rows are converted here, all
  // but their contexts: a 16-byte context stays readable as it is (decodeContextId) and leaves with
  // retention.
  [
    "DROP TRIGGER IF EXISTS events_unindex",
    // A text that reads as a number keeps that number once, in the dictionary (`MIGRATION_STEPS[5]`).
    "ALTER TABLE states ADD COLUMN num REAL",
    RAW_EVENTS_SQL,
    `INSERT INTO raw_events (id, x, a, c, cp, m)
      SELECT id, x, a, c, cp, CASE WHEN cu IS NULL AND vl IS NULL THEN nullif(lc, 0)
        WHEN vl IS NULL AND lc = 0 THEN -1 - cu ELSE json_array(lc, cu, vl) END
      FROM (SELECT id, x, a, c, cp, lc, cu, CASE WHEN x & 15 = 13 THEN v END AS vl FROM (
        SELECT id, ${xFromVs()} AS x, v, a, lc, c, cp, cu FROM events)) ORDER BY id`,
    "DROP TABLE events",
    EVENTS_VIEW_SQL,
    // The entity index becomes posting lists, built from it by `MIGRATION_STEPS[5]`.
    POSTINGS_SQL,
    // Contexts of rows up to here may be 16 bytes, time first (see codec.ts encodeContextId).
    `INSERT OR REPLACE INTO meta (key, value) SELECT 'compact_from', coalesce(max(id), ${MIN_ID_SQL}) FROM raw_events`,
    // Attributes: a row may hold a patch of a whole one (`base`); the view `attrs` gives the whole JSON.
    "ALTER TABLE attrs RENAME TO attr_rows",
    "ALTER TABLE attr_rows ADD COLUMN base INTEGER",
    ATTRS_VIEW_SQL,
  ],
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** What a migration does beyond SQL, after its statements, in the same transaction (by target version). */
const MIGRATION_STEPS: Record<number, (db: Database) => void> = {
  // entity_index (e, id) in key order becomes postings of `POSTING_IDS_MAX` times each.
  5: (db) => {
    // Each state text's number, as the writer computes it (`looseNumber`); rows of code 14 read it here.
    const setNum = db.prepare("UPDATE states SET num = ?2 WHERE s = ?1");
    for (const { s, state } of db.query("SELECT s, state FROM states").all() as {
      s: number;
      state: string;
    }[]) {
      const num = looseNumber(state);
      if (num !== null) setNum.run(s, num);
    }
    const put = db.prepare("INSERT INTO entity_postings (e, hi, lo, ts) VALUES (?1, ?2, ?3, ?4)");
    let e = -1;
    const ts: number[] = [];
    const flush = () => {
      for (let from = 0; from < ts.length; from += POSTING_IDS_MAX) {
        const to = Math.min(ts.length, from + POSTING_IDS_MAX);
        put.run(e, ts[to - 1], ts[from], to - from > 1 ? encodePosting(ts, from, to) : null);
      }
      ts.length = 0;
    };
    const rows = db
      .query(`SELECT e, id >> ${ENTITY_BITS} AS t FROM entity_index ORDER BY e, id`)
      .iterate() as IterableIterator<{ e: number; t: number }>;
    for (const r of rows) {
      if (r.e !== e) {
        flush();
        e = r.e;
      }
      ts.push(r.t);
    }
    flush();
    db.run("DROP TABLE entity_index");
  },
};

/**
 * SQL for the rows with id in [`from`, `to`) whose context or parent context may be the one of
 * `contextKeys` (./codec.ts; parameters `full`, `lo`, `hi`), in id order: plain comparisons of a range per
 * column (a BLOB sorts by its bytes, a TEXT by its bytes too, and every TEXT before every BLOB), plus the
 * 16-byte form on rows from before version 5 (up to `meta.compact_from`), in an arm of their own so the
 * rows after pay nothing for it. `cols` must output `id`. Candidates: compare the decoded ids.
 *
 * Id order without an ORDER BY: the old rows' arm comes first and each arm is a rowid range scan, so
 * SQLite's UNION ALL (arms run one after the other) already gives it; an ORDER BY on the compound merged
 * the arms through a sorter and cost a third of the lookup (bench/store.bench.ts, contextEvents).
 * `loFirst`: which bound each column is compared with first. The random bytes are uniform, so with
 * `lo`'s first byte below 128 most rows pass `>= lo` and fail `< hi`: testing `< hi` first then decides
 * most rows in one comparison (`contextLoFirst`).
 */
export function contextRowsSql(
  cols: string,
  from: string,
  to: string,
  keys: { full: string; lo: string; hi: string },
  opts: { table?: "events" | "raw_events"; loFirst?: boolean } = {},
): string {
  const table = opts.table ?? "events";
  const within = (col: string) =>
    opts.loFirst === false
      ? `(${col} < ${keys.hi} AND ${col} >= ${keys.lo})`
      : `(${col} >= ${keys.lo} AND ${col} < ${keys.hi})`;
  const inRange = `(${within("c")} OR ${within("cp")})`;
  const compactFrom = "(SELECT value FROM meta WHERE key = 'compact_from')";
  // One bound each side (max/min of two), so SQLite scans exactly the window's part of each arm.
  return `SELECT ${cols} FROM ${table} WHERE id >= ${from} AND id < min(${to}, ${compactFrom} + 1)
      AND (${inRange} OR c = ${keys.full} OR cp = ${keys.full})
    UNION ALL
    SELECT ${cols} FROM ${table} WHERE id >= max(${from}, ${compactFrom} + 1) AND id < ${to}
      AND ${inRange}`;
}

/** `loFirst` for `contextRowsSql` given `contextKeys(...).lo`: compare first with the bound most rows fail. */
export function contextLoFirst(lo: Uint8Array | string): boolean {
  return typeof lo === "string" || lo[0] >= 128;
}

/** SQLite settings every connection to a HomeIQ database uses. */
export function configureConnection(db: Database): void {
  db.run("PRAGMA busy_timeout = 5000");
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
}

/**
 * Brings `events.db` to the current schema. Safe to call from several connections at once: the version is
 * re-read inside an IMMEDIATE transaction. `nowUs` fixes `base_us` when the database is new.
 */
export function migrate(db: Database, nowUs: number): void {
  const version = () => (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  // A data dir written by a newer HomeIQ is refused rather than half-understood.
  const refuseNewer = (v: number) => {
    if (v > SCHEMA_VERSION) throw new SchemaTooNewError(EVENTS_DB, v, SCHEMA_VERSION);
  };
  const at = version();
  refuseNewer(at);
  if (at === SCHEMA_VERSION) return;
  try {
    upgrade(db, version, refuseNewer, nowUs);
  } catch (error) {
    if (error instanceof SchemaTooNewError) throw error;
    // Rolled back: events.db is as it was. Say which step, and how to get past it (a full disk, mostly).
    throw new MigrationError(EVENTS_DB, at, SCHEMA_VERSION, error);
  }
}

function upgrade(db: Database, version: () => number, refuseNewer: (v: number) => void, nowUs: number): void {
  db.transaction(() => {
    const from = version();
    refuseNewer(from);
    for (let v = from; v < SCHEMA_VERSION; v++) {
      for (const sql of MIGRATIONS[v]) db.run(sql);
      MIGRATION_STEPS[v + 1]?.(db);
    }
    // A UTC midnight as time origin: ids stay readable and every database started the same day agrees.
    const day = 86_400_000_000;
    db.run("INSERT OR IGNORE INTO meta (key, value) VALUES ('base_us', ?)", [Math.floor(nowUs / day) * day]);
    db.run("INSERT OR IGNORE INTO meta (key, value) VALUES ('raw_count', 0)");
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** The time origin of event ids in this database. */
export function readBaseUs(db: Database): number {
  return (db.query("SELECT value FROM meta WHERE key = 'base_us'").get() as { value: number }).value;
}

/** File names under the data dir. */
export const EVENTS_DB = "events.db";
