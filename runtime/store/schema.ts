/**
 * The layout of `events.db`, the durable source of truth. Only the batcher's worker writes it (through
 * `openStoreWriter`); everyone else opens read connections (`openStoreReader`, or plain read-only SQL for
 * the insights/suggestions miners — the table notes below are written for them).
 *
 * Why it looks like this (≈ bytes per raw event matter: 7 days of a busy home is tens of millions of rows):
 * - `events` is a rowid table whose rowid IS the idempotency key and the time order at once:
 *   `id = ((last_updated_us - base_us) << 16) | e`. So `INSERT OR IGNORE` dedupes replays and backfill with
 *   no extra unique index, a time range is a rowid range (no time index), and `e`'s index (which carries
 *   the rowid) gives one entity's history in time order. `base_us` is fixed per database (table `meta`),
 *   which leaves ±4.46 years of microseconds around it and 65,535 entity keys (why that is enough and what
 *   protects it: `ENTITY_BITS`).
 * - Entity ids, non-numeric states, attribute JSON and user ids are dictionaries; an event row holds small
 *   integers. A numeric state is stored only as `v` (REAL; SQLite keeps integral reals as small integers).
 * - Nothing but the row itself is written per live event. Tailers (rollup, Influx writer) follow the table
 *   in id order (see ./tail.ts); only a row inserted behind the newest id (`meta.hwm`: backfill, import,
 *   a rename's moved rows) is also recorded in `journal`, so a tailer that has passed its id still sees it.
 * - `entity_index (e, id)` gives one entity's rows in time order. It is filled in sorted bulk by the
 *   batcher's maintenance up to `meta.indexed_to`; newer rows are found by scanning the table's tail
 *   (`entityRowsSql`). A per-row index on `events(e)` dirtied one page per entity per commit and cost
 *   more than the row itself (bench/store.bench.ts).
 *
 * @example SQL for miners (read-only connection; one entity's rows: `entityRowsSql`):
 *   SELECT (ev.id >> 16) + (SELECT value FROM meta WHERE key = 'base_us') AS last_updated_us,
 *          en.entity_id, coalesce(st.state, ev.v) AS state
 *   FROM events ev JOIN entities en ON en.e = ev.e LEFT JOIN states st ON st.s = ev.s
 *   WHERE ev.id >= ((:from_us - :base_us) << 16) ORDER BY ev.id;
 */
import type { Database } from "bun:sqlite";
import { SchemaTooNewError } from "../kernel/sqlite.ts";

/** Table names, for SQL written elsewhere. */
export const TABLES = {
  /**
   * `key TEXT PRIMARY KEY, value`: `base_us` (time origin of event ids), `raw_count` (rows in `events`),
   * `hwm` (the highest id ever inserted), `indexed_to` (entity_index holds every row up to this id),
   * `tail_base` (rows up to this id were journaled before version 3), `pruned_to` (the newest time, µs
   * after base_us, retention or the disk bound deleted), `tw_from` (where version 4 re-rolled from).
   */
  meta: "meta",
  /** `e INTEGER PRIMARY KEY` (stable key, never reused), `entity_id` (current name), `stable_id` (first name ever; the Influx tag). */
  entities: "entities",
  /** `name TEXT PRIMARY KEY, e`: every name an entity has had (renames join the old history). */
  entityNames: "entity_names",
  /** `s INTEGER PRIMARY KEY, state TEXT UNIQUE`: non-numeric (or non-canonical numeric) state texts. */
  states: "states",
  /** `a INTEGER PRIMARY KEY, h` (crc32 of json), `json`: de-duplicated attribute objects as JSON text. */
  attrs: "attrs",
  /** `u INTEGER PRIMARY KEY, user_id TEXT UNIQUE`: HA user ids found in contexts. */
  users: "users",
  /**
   * Raw tier. `id` (see above), `e` entity key, `v` numeric state or NULL, `s` state id or NULL (state text is
   * `states.state` when `s` is set, else the canonical decimal text of `v`), `a` attrs id, `lc` =
   * last_updated_us - last_changed_us, `c` context id, `cp` context parent id (each a 16-byte BLOB holding the
   * ULID's 128 bits — `encodeContextId` — or the original TEXT when not a ULID), `cu` users.u or NULL.
   * Contexts are not indexed: a ULID carries its creation time, so `contextEvents` looks in a window after it.
   */
  events: "events",
  /**
   * `seq INTEGER PRIMARY KEY, id`: rows inserted at or behind `meta.hwm` (late rows), in insertion order.
   * Rows up to `meta.tail_base` were all journaled (schema versions before 3).
   */
  journal: "journal",
  /** `e, id` (primary key, WITHOUT ROWID): one entity's rows in time order, up to `meta.indexed_to`. */
  entityIndex: "entity_index",
  /**
   * `name TEXT PRIMARY KEY, seq`: the rollup's tail position (`rollup` = journal seq, `rollup.id` = event id).
   * The Influx writer's lives in influx.db.
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
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * SQL for the rows of one entity: through `entity_index` up to `meta.indexed_to`, then the table's tail
 * after it. `cols(id)` gives the select list (table alias `ev`; it must output the id as `id`, from the
 * expression passed, for ORDER BY); `e` the entity key's parameter; `range(id)` more conditions on the id.
 * Both arms come in id order, so `ORDER BY id [DESC] LIMIT n` on the result merges them and stops after n.
 *
 * @example
 * db.prepare(`${entityRowsSql((id) => `${id} AS id, ev.v AS v`, "?1", (id) => `${id} >= ?2`)} ORDER BY id LIMIT 10`)
 */
export function entityRowsSql(
  cols: (id: string) => string,
  e: string,
  range: (id: string) => string,
): string {
  return `SELECT ${cols("x.id")} FROM entity_index x CROSS JOIN events ev ON ev.id = x.id
      WHERE x.e = ${e} AND ${range("x.id")}
    UNION ALL
    SELECT ${cols("ev.id")} FROM events ev
      WHERE ev.id > (SELECT value FROM meta WHERE key = 'indexed_to') AND ev.e = ${e} AND ${range("ev.id")}`;
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
  refuseNewer(version());
  if (version() === SCHEMA_VERSION) return;
  db.transaction(() => {
    const from = version();
    refuseNewer(from);
    for (let v = from; v < SCHEMA_VERSION; v++) for (const sql of MIGRATIONS[v]) db.run(sql);
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
