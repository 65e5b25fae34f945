/**
 * The write side of `events.db`, owned by the batcher's worker (the only writer). Every batch is one
 * transaction through statements prepared once; dictionaries are cached so a typical event costs one
 * INSERT OR IGNORE and nothing else. A row inserted at or behind the newest id (`hwm`) is also journaled,
 * and indexed at once when the bulk entity index has already passed its id (see ./tail.ts, ./schema.ts).
 * Rollups, the entity index and retention run as bounded steps (see ./maintenance.ts).
 */
import { Database, type Statement } from "bun:sqlite";
import { join } from "node:path";
import type { Reading, StateChange } from "../events/messages.ts";
import { EventColumns, ownString, PackedBuilder } from "../events/packed.ts";
import { privateFile } from "../kernel/private-files.ts";
import {
  attributesPatch,
  canonicalNumber,
  contextBuffers,
  encodeDecimal,
  looseNumber,
  packContextId,
  X_BITS,
  X_NUMBER,
  X_TEXT,
  X_TEXT_NUMBER,
} from "./codec.ts";
import { EntityRows, PostingWriter } from "./entity-rows.ts";
import {
  configureConnection,
  ENTITY_BITS,
  EVENTS_DB,
  MAX_ENTITY_KEY,
  MAX_REL_US,
  migrate,
  readBaseUs,
} from "./schema.ts";
import { metaPosition, positionIdSql } from "./tail.ts";

export interface WriteResult {
  /** Indices (into the input) of the state changes that were new to the store, ascending. */
  inserted: number[];
  duplicates: number;
  /** Records refused with a precise reason; nothing of them was written. */
  rejected: { index: number; entity_id: unknown; error: string }[];
  /** Of `rejected`, those of new entities refused because no entity key was left for them. */
  keysRefused: number;
}

export interface WriteOptions {
  /**
   * The highest entity key a new entity may take in this write. Live ingest may use the whole key space;
   * imports stop short of it, so a reserve is always left for the home's own new entities.
   */
  newKeyCeiling?: number;
}

const emptyResult = (): WriteResult => ({ inserted: [], duplicates: 0, rejected: [], keysRefused: 0 });

export interface StoreWriterOptions {
  /** Entries in each dictionary cache (attribute texts, states, users) before it is cleared. */
  dictionaryCache: number;
}

/** Opens `events.db` under `dataDir` for writing (creating and migrating it as needed). */
export function openStoreWriter(dataDir: string, opts: StoreWriterOptions): StoreWriter {
  privateFile(join(dataDir, EVENTS_DB)); // the whole history: owner-only, whatever the umask
  const db = new Database(join(dataDir, EVENTS_DB), { create: true, readwrite: true });
  configureConnection(db);
  // Checkpoint every ~40 MB of WAL instead of ~4 MB: fewer copies of the same hot index pages (measured
  // +25% ingest with 2,000-event transactions; bench/store.bench.ts).
  db.run("PRAGMA wal_autocheckpoint = 10000");
  migrate(db, Date.now() * 1000);
  return new StoreWriter(db, opts);
}

export class StoreWriter {
  readonly db: Database;
  readonly baseUs: number;
  /** Rows in the raw tier, kept in memory (and in meta.raw_count) so totals never count rows. */
  rawCount: number;
  /** The bulk entity index holds every row up to this position (maintenance moves it). */
  indexedTo: { t: number; e: number };
  /** The highest id ever inserted (meta.hwm), as (t, e). A row at or behind it is late. */
  private hwmT: number;
  private hwmE: number;
  private readonly cacheMax: number;
  private readonly entityKeys = new Map<string, number>();
  private readonly stateXs = new Map<string, number>();
  /** Row times placed behind `indexed_to` in the current transaction, by entity (`flushLate`). */
  private readonly late = new Map<number, number[]>();
  private readonly postings: PostingWriter;
  private readonly userIds = new Map<string, number>();
  private readonly attrIds = new Map<string, number>();
  /** The last attribute text and id per entity key: attributes rarely change between two events. */
  private readonly lastAttrText: (string | undefined)[] = [];
  private readonly lastAttrId: number[] = [];
  private readonly ctxBuf = new Uint8Array(16);
  private readonly ctxCompact = contextBuffers();
  private readonly parentBuf = new Uint8Array(16);
  private readonly parentCompact = contextBuffers();
  private readonly q: Record<string, Statement>;
  private readonly writeTx: ReturnType<Database["transaction"]>;

  constructor(db: Database, opts: StoreWriterOptions) {
    this.db = db;
    this.cacheMax = opts.dictionaryCache;
    this.baseUs = readBaseUs(db);
    this.rawCount = (
      db.query("SELECT value FROM meta WHERE key = 'raw_count'").get() as { value: number }
    ).value;
    const hwm = metaPosition(db, "hwm");
    this.hwmT = hwm.t;
    this.hwmE = hwm.e;
    this.indexedTo = metaPosition(db, "indexed_to");
    this.postings = new PostingWriter(db);
    this.q = {
      insert: db.prepare(
        `INSERT OR IGNORE INTO raw_events (id, x, a, c, cp, m)
         VALUES (((CAST(?1 AS INTEGER) - ${this.baseUs}) << ${ENTITY_BITS}) | ?2, ?3, ?4, ?5, ?6, ?7)`,
      ),
      entityByName: db.prepare("SELECT e FROM entity_names WHERE name = ?"),
      maxEntityKey: db.prepare("SELECT max(e) AS e FROM entities"),
      newEntity: db.prepare("INSERT INTO entities (entity_id, stable_id) VALUES (?1, ?1)"),
      newName: db.prepare("INSERT OR REPLACE INTO entity_names (name, e) VALUES (?, ?)"),
      stateByText: db.prepare("SELECT s FROM states WHERE state = ?"),
      newState: db.prepare("INSERT INTO states (state, num) VALUES (?, ?)"),
      userByText: db.prepare("SELECT u FROM users WHERE user_id = ?"),
      newUser: db.prepare("INSERT INTO users (user_id) VALUES (?)"),
      attrsByHash: db.prepare("SELECT a, json FROM attrs WHERE h = ?"),
      newAttrs: db.prepare("INSERT INTO attr_rows (h, json, base) VALUES (?, ?, ?)"),
      // The whole row an attribute row is or patches.
      attrBase: db.prepare(
        "SELECT b.a AS a, b.json AS json FROM attr_rows r JOIN attr_rows b ON b.a = coalesce(r.base, r.a) WHERE r.a = ?",
      ),
      attrJson: db.prepare("SELECT json FROM attrs WHERE a = ?"),
      wholeAttrs: db.prepare("UPDATE attr_rows SET json = ?, base = NULL WHERE a = ?"),
      addRaw: db.prepare("UPDATE meta SET value = value + ? WHERE key = 'raw_count'"),
      setHwm: db.prepare(`UPDATE meta SET value = ${positionIdSql("?1", "?2")} WHERE key = 'hwm'`),
      journal: db.prepare(`INSERT INTO journal (id) VALUES (${positionIdSql("?1", "?2")})`),
      series: db.prepare("SELECT k FROM series WHERE source = ? AND metric = ?"),
      newSeries: db.prepare("INSERT INTO series (source, metric) VALUES (?, ?)"),
      reading: db.prepare("INSERT OR IGNORE INTO readings (k, ts_ms, value) VALUES (?, ?, ?)"),
    };
    this.writeTx = db.transaction(
      (cols: EventColumns, from: number, to: number, out: WriteResult, ceiling: number) => {
        let added = 0;
        const hwmT = this.hwmT;
        const hwmE = this.hwmE;
        for (let i = from; i < to; i++) {
          const entityId = cols.entityId(i);
          const lastUpdated = cols.lastUpdated(i);
          const problem = this.invalid(entityId, lastUpdated, cols.lastChanged(i));
          if (problem) {
            out.rejected.push({ index: i, entity_id: entityId, error: problem });
            continue;
          }
          // Never thrown inside the transaction: one entity without a key is refused alone, and the rest of
          // the batch (other entities' events) is stored as usual.
          const e = this.entityKey(entityId, ceiling);
          if (e === null) {
            out.rejected.push({ index: i, entity_id: entityId, error: this.keysFull(ceiling) });
            out.keysRefused++;
            continue;
          }
          if (this.insertOne(cols, i, e, lastUpdated)) {
            out.inserted.push(i);
            added++;
          } else out.duplicates++;
        }
        if (added > 0) this.q.addRaw.run(added);
        if (this.hwmT !== hwmT || this.hwmE !== hwmE) this.q.setHwm.run(this.hwmT, this.hwmE);
        this.flushLate();
        this.rawCount += added;
      },
    );
  }

  /**
   * Stores events `from`..`to` of a batch in one transaction. Replays and backfill are absorbed by the
   * idempotency key (entity, last_updated µs); a malformed record is refused alone, with its reason.
   * Records (tests, imports, tools) are checked field by field and packed first; a packed batch from an
   * edge has string fields by construction.
   */
  writeEvents(
    events: readonly StateChange[] | EventColumns,
    from = 0,
    to?: number,
    opts: WriteOptions = {},
  ): WriteResult {
    const ceiling = Math.min(opts.newKeyCeiling ?? MAX_ENTITY_KEY, MAX_ENTITY_KEY);
    const out = emptyResult();
    if (events instanceof EventColumns) {
      this.writeTx.immediate(events, from, to ?? events.n, out, ceiling);
      return out;
    }
    // Records: those of the wrong shape are refused here; the rest go through the packed path, and
    // indices are mapped back to the caller's array.
    const builder = new PackedBuilder();
    const index: number[] = [];
    const end = to ?? events.length;
    for (let i = from; i < end; i++) {
      const ev = events[i];
      const problem = shapeProblem(ev);
      if (problem)
        out.rejected.push({
          index: i,
          entity_id: (ev as { entity_id?: unknown })?.entity_id,
          error: problem,
        });
      else {
        builder.addChange(ev);
        index.push(i);
      }
    }
    const cols = new EventColumns(builder.finish());
    const packedOut = emptyResult();
    this.writeTx.immediate(cols, 0, cols.n, packedOut, ceiling);
    out.inserted = packedOut.inserted.map((k) => index[k]);
    out.duplicates = packedOut.duplicates;
    out.keysRefused = packedOut.keysRefused;
    for (const r of packedOut.rejected) out.rejected.push({ ...r, index: index[r.index] });
    out.rejected.sort((a, b) => a.index - b.index);
    return out;
  }

  private invalid(entityId: string, lastUpdated: number, lastChanged: number): string | null {
    if (entityId.indexOf(".") <= 0)
      return `field entity_id: expected "<domain>.<object_id>", got ${JSON.stringify(entityId)}`;
    if (!Number.isSafeInteger(lastUpdated) || Math.abs(lastUpdated - this.baseUs) > MAX_REL_US)
      return `field last_updated: expected integer microseconds within ±4.4 years of ${new Date(this.baseUs / 1000).toISOString()}, got ${lastUpdated} (milliseconds or seconds by mistake?)`;
    if (!Number.isSafeInteger(lastChanged) || lastChanged > lastUpdated)
      return `field last_changed: expected integer microseconds not after last_updated, got ${lastChanged}`;
    return null;
  }

  private insertOne(cols: EventColumns, i: number, e: number, lastUpdated: number): boolean {
    const state = cols.state(i);
    const canonical = canonicalNumber(state);
    // raw_events.x (./schema.ts): a decimal number in 1-4 bytes, else a code (and the number in m).
    let x = Number.isNaN(canonical) ? null : encodeDecimal(state, canonical);
    let vl: number | null = null;
    if (x === null) {
      if (Number.isNaN(canonical)) {
        // A text that reads as a number ("21.50", code 14) has it in states.num, once.
        x = this.stateX(state);
      } else {
        x = X_NUMBER;
        vl = canonical;
      }
    }
    const contextId = cols.contextId(i);
    const parentId = cols.contextParentId(i);
    const userId = cols.contextUserId(i);
    const c = contextId === null ? null : packContextId(contextId, lastUpdated, this.ctxBuf, this.ctxCompact);
    const cp =
      parentId === null ? null : packContextId(parentId, lastUpdated, this.parentBuf, this.parentCompact);
    const cu = userId === null ? null : this.userId(userId);
    const lc = lastUpdated - cols.lastChanged(i);
    // raw_events.m (./schema.ts): NULL, lc alone, -1 - cu alone, or [lc, cu, vl] for the rare rest.
    const m =
      vl !== null || (cu !== null && lc !== 0)
        ? `[${lc},${cu},${vl}]`
        : cu !== null
          ? -1 - cu
          : lc === 0
            ? null
            : lc;
    const result = this.q.insert.run(lastUpdated, e, x, this.attrId(e, cols.attributes(i)), c, cp, m);
    if (result.changes !== 1) return false;
    this.placed(lastUpdated - this.baseUs, e);
    return true;
  }

  /**
   * Bookkeeping for a row just inserted at (t, e): ahead of every id it only moves the high-water mark;
   * at or behind it, tailers may have passed its id, so it is journaled, and indexed now if the bulk
   * entity index has passed it too.
   */
  private placed(t: number, e: number): void {
    if (t > this.hwmT || (t === this.hwmT && e > this.hwmE)) {
      this.hwmT = t;
      this.hwmE = e;
      return;
    }
    this.q.journal.run(t, e);
    const ix = this.indexedTo;
    if (t < ix.t || (t === ix.t && e <= ix.e)) {
      const ts = this.late.get(e);
      if (ts) ts.push(t);
      else this.late.set(e, [t]);
    }
  }

  /** Rows placed behind `indexed_to` in this transaction go into their entity's postings, once each. */
  private flushLate(): void {
    if (this.late.size === 0) return;
    for (const [e, ts] of this.late)
      this.postings.add(
        e,
        ts.sort((a, b) => a - b),
      );
    this.late.clear();
  }

  /**
   * The entity key of a name, creating the entity on first sight, or null when the new key would pass
   * `ceiling` (the key space, or the share of it this write may use, is full). Never throws for that:
   * see ./schema.ts on why keys are 16 bits and what protects them.
   */
  entityKey(name: string, ceiling = MAX_ENTITY_KEY): number | null {
    let e = this.entityKeys.get(name);
    if (e !== undefined) return e;
    const row = this.q.entityByName.get(name) as { e: number } | null;
    if (row) e = row.e;
    else {
      // SQLite gives max(e) + 1 to a new row; checked first, so a refused entity leaves nothing behind.
      if (this.entityKeysUsed() >= ceiling) return null;
      e = Number(this.q.newEntity.run(name).lastInsertRowid);
      this.q.newName.run(name, e);
    }
    this.entityKeys.set(ownString(name), e);
    return e;
  }

  /** Whether the store has seen this entity id (under this name, now or before a rename). */
  knowsEntity(name: string): boolean {
    return this.entityKeys.has(name) || this.q.entityByName.get(name) !== null;
  }

  /** Entity keys handed out: the highest key in use (keys are given in order, see ./schema.ts). */
  entityKeysUsed(): number {
    return (this.q.maxEntityKey.get() as { e: number | null }).e ?? 0;
  }

  private keysFull(ceiling: number): string {
    return ceiling >= MAX_ENTITY_KEY
      ? `store: the entity key space is full (${MAX_ENTITY_KEY} entities ever seen); this new entity's events are refused and counted (store_entity_keys_refused_total), known entities are stored as usual`
      : `store: no entity key left for imports (they may use keys up to ${ceiling}; the last ${MAX_ENTITY_KEY - ceiling} are kept for the home's live entities, ops.importEntityKeyReserve)`;
  }

  /** `raw_events.x` of a text state: its id in `states` and whether it reads as a number; cached whole. */
  private stateX(state: string): number {
    let x = this.stateXs.get(state);
    if (x !== undefined) return x;
    const row = this.q.stateByText.get(state) as { s: number } | null;
    const num = looseNumber(state);
    const s = row ? row.s : Number(this.q.newState.run(state, num).lastInsertRowid);
    x = s * 2 ** X_BITS + (num === null ? X_TEXT : X_TEXT_NUMBER);
    if (this.stateXs.size >= this.cacheMax) this.stateXs.clear();
    this.stateXs.set(ownString(state), x);
    return x;
  }

  private userId(user: string): number {
    let u = this.userIds.get(user);
    if (u !== undefined) return u;
    const row = this.q.userByText.get(user) as { u: number } | null;
    u = row ? row.u : Number(this.q.newUser.run(user).lastInsertRowid);
    if (this.userIds.size >= this.cacheMax) this.userIds.clear();
    this.userIds.set(ownString(user), u);
    return u;
  }

  private attrId(e: number, text: string): number {
    if (this.lastAttrText[e] === text) return this.lastAttrId[e];
    // Kept below (per entity and in the cache): its own copy, not a substring pinning the whole batch.
    const json = ownString(text);
    let a = this.attrIds.get(json);
    if (a === undefined) {
      const h = Bun.hash.crc32(json);
      for (const row of this.q.attrsByHash.all(h) as { a: number; json: string }[]) {
        if (row.json === json) {
          a = row.a;
          break;
        }
      }
      if (a === undefined) a = this.newAttrs(e, h, json);
      if (this.attrIds.size >= this.cacheMax) this.attrIds.clear();
      this.attrIds.set(json, a);
    }
    this.lastAttrText[e] = json;
    this.lastAttrId[e] = a;
    return a;
  }

  /**
   * Stores a new attribute object: as a patch of the whole row the entity's previous attributes are (or
   * patch), when `attributesPatch` finds a small exact one and SQLite's json_patch gives back this very
   * text; whole otherwise.
   */
  private newAttrs(e: number, h: number, json: string): number {
    const prev = this.lastAttrId[e];
    if (prev !== undefined) {
      const base = this.q.attrBase.get(prev) as { a: number; json: string } | null;
      const patch = base ? attributesPatch(base.json, json) : null;
      if (base && patch !== null) {
        const a = Number(this.q.newAttrs.run(h, patch, base.a).lastInsertRowid);
        if ((this.q.attrJson.get(a) as { json: string }).json === json) return a;
        this.q.wholeAttrs.run(json, a);
        return a;
      }
    }
    return Number(this.q.newAttrs.run(h, json, null).lastInsertRowid);
  }

  /**
   * Joins `to` to the history of `from`: `to` becomes the current name of `from`'s entity key (so the
   * Influx tag, the first name, stays). Events already stored under `to` (it may have reported before the
   * rename arrived) move to the old key; their rollups are recomputed from raw by the journal.
   * Returns false when `from` is unknown (nothing to join).
   */
  rename(from: string, to: string): boolean {
    if (from === to) return false;
    const tx = this.db.transaction(() => {
      const old = this.q.entityByName.get(from) as { e: number } | null;
      if (!old) return false;
      const target = this.q.entityByName.get(to) as { e: number } | null;
      if (target && target.e !== old.e) {
        // Streamed, not gathered: an entity may have millions of rows. The rows it adds go to `from`'s
        // key, which this walk does not read.
        const times = new EntityRows(this.db, () => "1").times(target.e, {}, "asc");
        const move = this.db.prepare(
          `INSERT OR IGNORE INTO raw_events (id, x, a, c, cp, m)
           SELECT ${positionIdSql("?1", "?3")}, x, a, c, cp, m FROM raw_events
           WHERE id = ${positionIdSql("?1", "?2")}`,
        );
        const remove = this.db.prepare(`DELETE FROM raw_events WHERE id = ${positionIdSql("?1", "?2")}`);
        let moved = 0;
        let removed = 0;
        for (const t of times) {
          if (move.run(t, target.e, old.e).changes === 1) {
            moved++;
            this.placed(t, old.e);
          }
          removed += remove.run(t, target.e).changes;
        }
        this.q.setHwm.run(this.hwmT, this.hwmE);
        this.flushLate();
        this.postings.dropEntity(target.e);
        for (const tier of ["hourly", "daily", "rollup_carry"])
          this.db.query(`DELETE FROM ${tier} WHERE e = ?`).run(target.e);
        this.db.query("UPDATE entity_names SET e = ?1 WHERE e = ?2").run(old.e, target.e);
        this.db.query("DELETE FROM entities WHERE e = ?").run(target.e);
        this.q.addRaw.run(moved - removed);
        this.rawCount += moved - removed;
      }
      this.db.query("UPDATE entities SET entity_id = ? WHERE e = ?").run(to, old.e);
      this.q.newName.run(to, old.e);
      this.db.run(
        "INSERT INTO meta (key, value) VALUES ('names_version', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1",
      );
      return true;
    });
    const joined = tx.immediate() as boolean;
    this.entityKeys.clear();
    return joined;
  }

  /** Stores enrichment readings of one source; (source, metric, ts) dedupes. Returns how many were new. */
  writeReadings(source: string, readings: Reading[]): number {
    let added = 0;
    this.db
      .transaction(() => {
        for (const r of readings) {
          const row = this.q.series.get(source, r.metric) as { k: number } | null;
          const k = row ? row.k : Number(this.q.newSeries.run(source, r.metric).lastInsertRowid);
          added += this.q.reading.run(k, Math.round(r.ts), r.value).changes;
        }
      })
      .immediate();
    return added;
  }

  close(): void {
    this.db.close();
  }
}

/** What is wrong with a record's shape (types), or null; values are checked on the packed path. */
function shapeProblem(ev: StateChange): string | null {
  if (ev === null || typeof ev !== "object") return "record is not an object; send a StateChange";
  if (typeof ev.entity_id !== "string")
    return `field entity_id: expected "<domain>.<object_id>", got ${JSON.stringify(ev.entity_id)}`;
  if (typeof ev.state !== "string") return `field state: expected a string, got ${typeof ev.state}`;
  if (typeof ev.attributes !== "string")
    return "field attributes: expected JSON text (serialise once in the connection)";
  if (typeof ev.last_updated !== "number" || typeof ev.last_changed !== "number")
    return "fields last_updated and last_changed: expected integer microseconds";
  for (const k of ["context_id", "context_parent_id", "context_user_id"] as const) {
    const v = ev[k];
    if (v !== null && typeof v !== "string") return `field ${k}: expected a string or null, got ${typeof v}`;
  }
  return null;
}
