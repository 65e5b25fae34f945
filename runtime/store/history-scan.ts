/**
 * The store's door for miners that stream a long window of history (the suggestions miner): the entities
 * with their newest attributes, then the rows of chosen entities in time order, `chunkEvents` at a time,
 * over a read-only connection. Each chunk is its own short read transaction (WAL readers never block the
 * batcher's writes) and the caller may yield to its event loop between chunks, so a month of events never
 * sits in memory.
 *
 * An event id is `(last_updated_us - base_us) << 16 | e` (./schema.ts): a time range is an id range, and
 * paging resumes after the last (time, entity) pair read.
 *
 * @example
 * const scan = openHistoryScan(dataDir);
 * for await (const rows of scan?.chunks([3, 7], from, to, 5000) ?? []) for (const [ts, e, v, s] of rows) ...
 */
import { Database, type Statement } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Dictionaries } from "./dictionaries.ts";
import { EntityRows } from "./entity-rows.ts";
import { ENTITY_BITS, EVENTS_DB, readBaseUs } from "./schema.ts";

/** [ts (ms), e, v, s, automated 0/1] — positional rows: no per-row key objects. */
export type ScanRow = [ts: number, e: number, v: number | null, s: number | null, automated: number];

export interface HistoryScan {
  /** Every entity key with its current name. */
  entities(): { e: number; entityId: string }[];
  /** The JSON text of the entity's newest attributes, or null when it has no row. */
  latestAttributes(e: number): string | null;
  /** A state id's text (the store's dictionary cache). */
  stateText(s: number): string;
  /** Rows of `keys` with from <= ts < to (ms), ascending, `chunkEvents` at a time. */
  chunks(keys: number[], from: number, to: number, chunkEvents: number): AsyncGenerator<ScanRow[]>;
  close(): void;
}

/** Opens events.db read-only; null when the store does not exist yet (nothing to scan). */
export function openHistoryScan(dataDir: string): HistoryScan | null {
  const path = join(dataDir, EVENTS_DB);
  if (!existsSync(path)) return null;
  const db = new Database(path, { readonly: true });
  db.run("PRAGMA busy_timeout = 5000");
  const hasSchema = db.query("SELECT 1 FROM sqlite_master WHERE name = 'events'").get();
  if (!hasSchema) {
    db.close();
    return null;
  }
  return new SqliteHistoryScan(db);
}

class SqliteHistoryScan implements HistoryScan {
  private readonly baseUs: number;
  private readonly dict: Dictionaries;
  private readonly q: { chunk: Statement; attrs: Statement };
  /** The newest row only, through the entity's postings (./entity-rows.ts). */
  private readonly latestA: EntityRows<{ a: number }>;

  constructor(private readonly db: Database) {
    this.baseUs = readBaseUs(db);
    this.dict = new Dictionaries(db);
    this.latestA = new EntityRows(db, () => "ev.a AS a");
    this.q = {
      attrs: db.prepare("SELECT json FROM attrs WHERE a = ?1"),
      // Keyset paging: resume strictly after the last (time, entity) read; ?1/?2 are µs relative to base.
      // NOT INDEXED keeps SQLite on the rowid (= time) order, so LIMIT stops the scan. Measured on 30 days
      // x 300 entities: walking the entity index per window and sorting was 3x slower than this scan.
      // (`events` is a view over raw_events since schema 5; NOT INDEXED applies to its table.)
      chunk: db.prepare(
        `SELECT id >> ${ENTITY_BITS} AS t, e, v, s, cp IS NOT NULL AS auto FROM events NOT INDEXED
         WHERE id > ((CAST(?1 AS INTEGER) << ${ENTITY_BITS}) | ?2)
           AND id < (CAST(?3 AS INTEGER) << ${ENTITY_BITS})
           AND e IN (SELECT value FROM json_each(?4))
         ORDER BY id LIMIT ?5`,
      ),
    };
  }

  entities(): { e: number; entityId: string }[] {
    return (
      this.db.query("SELECT e, entity_id FROM entities").all() as { e: number; entity_id: string }[]
    ).map((r) => ({ e: r.e, entityId: r.entity_id }));
  }

  latestAttributes(e: number): string | null {
    const last = this.latestA.get(e, {}, "desc", 1)[0] ?? null;
    if (!last) return null;
    // Not through the dictionary cache: read once per entity, and attribute texts are large.
    return (this.q.attrs.get(last.a) as { json: string } | null)?.json ?? null;
  }

  stateText(s: number): string {
    return this.dict.stateText(s);
  }

  async *chunks(keys: number[], from: number, to: number, chunkEvents: number): AsyncGenerator<ScanRow[]> {
    if (keys.length === 0) return;
    const keyList = JSON.stringify(keys);
    let t = Math.ceil(from * 1000) - this.baseUs - 1;
    let e = 2 ** ENTITY_BITS - 1;
    const end = Math.ceil(to * 1000) - this.baseUs;
    for (;;) {
      const rows = this.q.chunk.values(t, e, end, keyList, chunkEvents) as ScanRow[];
      if (rows.length === 0) return;
      t = rows[rows.length - 1][0];
      e = rows[rows.length - 1][1];
      // Times to ms in place (after the paging key was taken): no second array per chunk.
      for (const r of rows) r[0] = Math.floor((this.baseUs + r[0]) / 1000);
      yield rows;
      if (rows.length < chunkEvents) return;
      // Let the worker answer calls between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  close(): void {
    this.db.close();
  }
}
