/**
 * Streams the mined history out of `events.db` over a read-only connection, in time order and in chunks
 * of `chunkEvents` rows, so a month of events never sits in memory and the batcher's writes never wait:
 * each chunk is its own short read transaction (WAL readers do not block the writer), and the worker
 * yields to its event loop between chunks.
 *
 * Only entities the miner can use are read: actionable domains, binary sensors, persons, and sensors of
 * a kind some threshold rule could use in this home (temperature, illuminance, humidity; humidity only
 * with a fan, and so on) — chatty power meters and the like stay on disk. The event id is `(last_updated_us - base_us) << 16 | e` (see actors/store/schema.ts):
 * a time range is an id range, and paging resumes after the last (time, entity) pair.
 */
import { Database, type Statement } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { looseNumber } from "../../runtime/store/codec.ts";
import { ENTITY_BITS, EVENTS_DB, entityRowsSql } from "../../runtime/store/schema.ts";
import { domainOf, sensorKindFromAttributes, sensorKindFromId } from "./miner/entities.ts";
import { sensorKindsUsedBy } from "./miner/threshold.ts";
import type { MinerEvent, SensorKind } from "./miner/types.ts";

const MINED_DOMAINS = new Set([
  "light",
  "switch",
  "fan",
  "input_boolean",
  "cover",
  "lock",
  "climate",
  "binary_sensor",
  "person",
]);

/** [t (µs from base), e, v, s, automated 0/1] — positional rows: no per-row key objects. */
type Row = [number, number, number | null, number | null, number];

export interface HistorySource {
  /** Friendly names and sensor kinds of the mined entities (from their latest attributes). */
  nameOf(entityId: string): string | undefined;
  sensorKindOf(entityId: string): SensorKind | undefined;
  /** Events with from <= ts < to, ascending, `chunkEvents` at a time. */
  chunks(from: number, to: number, chunkEvents: number): AsyncGenerator<MinerEvent[]>;
  /** Rows read so far. */
  readonly rowsRead: number;
  close(): void;
}

/** Opens events.db read-only; returns null when the store does not exist yet (nothing to mine). */
export function openHistorySource(dataDir: string): HistorySource | null {
  const path = join(dataDir, EVENTS_DB);
  if (!existsSync(path)) return null;
  const db = new Database(path, { readonly: true });
  db.run("PRAGMA busy_timeout = 5000");
  const hasSchema = db.query("SELECT 1 FROM sqlite_master WHERE name = 'events'").get();
  if (!hasSchema) {
    db.close();
    return null;
  }
  return new SqliteHistorySource(db);
}

class SqliteHistorySource implements HistorySource {
  private readonly baseUs: number;
  private readonly names = new Map<number, string>();
  /** Sensor keys: their state text is never used by the miner, so it is not built (most rows are sensors). */
  private readonly sensors = new Set<number>();
  private readonly friendly = new Map<string, string>();
  private readonly kinds = new Map<string, SensorKind>();
  private readonly stateText = new Map<number, string>();
  private readonly keys: number[] = [];
  private readonly q: { chunk: Statement; state: Statement };
  rowsRead = 0;

  constructor(private readonly db: Database) {
    this.baseUs = (db.query("SELECT value FROM meta WHERE key = 'base_us'").get() as { value: number }).value;
    // ORDER BY on the compound itself: as a subquery's, SQLite read every row of the entity to sort them
    // (2.8 s for a 2.7M-event store, at each mining run); this way it merges the arms and stops at one.
    const latestA = db.prepare(
      `${entityRowsSql(
        (id) => `ev.a AS a, ${id} AS id`,
        "?1",
        () => "1",
      )} ORDER BY id DESC LIMIT 1`,
    );
    const attrsJson = db.prepare("SELECT json FROM attrs WHERE a = ?1");
    const latestAttrs = (e: number) => {
      const last = latestA.get(e) as { a: number } | null;
      return last ? (attrsJson.get(last.a) as { json: string } | null) : null;
    };
    const all = db.query("SELECT e, entity_id FROM entities").all() as { e: number; entity_id: string }[];
    const usedKinds = sensorKindsUsedBy(all.map((r) => r.entity_id));
    for (const { e, entity_id } of all) {
      const domain = domainOf(entity_id);
      if (!MINED_DOMAINS.has(domain) && domain !== "sensor") continue;
      const row = latestAttrs(e);
      let attrs: Record<string, unknown> = {};
      try {
        attrs = row ? (JSON.parse(row.json) as Record<string, unknown>) : {};
      } catch {
        // A broken attribute text only costs the friendly name.
      }
      if (domain === "sensor") {
        const kind = sensorKindFromAttributes(attrs) ?? sensorKindFromId(entity_id);
        if (!kind || !usedKinds.has(kind)) continue;
        this.kinds.set(entity_id, kind);
        this.sensors.add(e);
      }
      this.names.set(e, entity_id);
      this.keys.push(e);
      if (typeof attrs.friendly_name === "string" && attrs.friendly_name)
        this.friendly.set(entity_id, attrs.friendly_name);
    }
    // Keyset paging: resume strictly after the last (time, entity) read; ?1/?2 are µs relative to base.
    // NOT INDEXED keeps SQLite on the rowid (= time) order, so LIMIT stops the scan. Measured on 30 days
    // x 300 entities: walking the entity index per window and sorting was 3x slower than this scan.
    this.q = {
      chunk: db.prepare(
        `SELECT id >> ${ENTITY_BITS} AS t, e, v, s, cp IS NOT NULL AS auto FROM events NOT INDEXED
         WHERE id > ((CAST(?1 AS INTEGER) << ${ENTITY_BITS}) | ?2)
           AND id < (CAST(?3 AS INTEGER) << ${ENTITY_BITS})
           AND e IN (SELECT value FROM json_each(?4))
         ORDER BY id LIMIT ?5`,
      ),
      state: db.prepare("SELECT state FROM states WHERE s = ?"),
    };
  }

  nameOf(entityId: string): string | undefined {
    return this.friendly.get(entityId);
  }

  sensorKindOf(entityId: string): SensorKind | undefined {
    return this.kinds.get(entityId);
  }

  private text(s: number): string {
    let text = this.stateText.get(s);
    if (text === undefined) {
      text = (this.q.state.get(s) as { state: string } | null)?.state ?? "";
      if (this.stateText.size > 100_000) this.stateText.clear();
      this.stateText.set(s, text);
    }
    return text;
  }

  async *chunks(from: number, to: number, chunkEvents: number): AsyncGenerator<MinerEvent[]> {
    if (this.keys.length === 0) return;
    const keys = JSON.stringify(this.keys);
    let t = Math.ceil(from * 1000) - this.baseUs - 1;
    let e = 2 ** ENTITY_BITS - 1;
    const end = Math.ceil(to * 1000) - this.baseUs;
    for (;;) {
      const rows = this.q.chunk.values(t, e, end, keys, chunkEvents) as Row[];
      if (rows.length === 0) return;
      this.rowsRead += rows.length;
      t = rows[rows.length - 1][0];
      e = rows[rows.length - 1][1];
      yield this.toEvents(rows);
      if (rows.length < chunkEvents) return;
      // Let the worker answer calls between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private toEvents(rows: Row[]): MinerEvent[] {
    const out: MinerEvent[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [rt, re, v, s, auto] = rows[i];
      const entityId = this.names.get(re)!;
      const state = s !== null ? this.text(s) : v === null || this.sensors.has(re) ? "" : String(v);
      out[i] = {
        entityId,
        state,
        value: v ?? (s === null ? null : looseNumber(state)),
        ts: Math.floor((this.baseUs + rt) / 1000),
        automated: auto === 1,
      };
    }
    return out;
  }

  close(): void {
    this.db.close();
  }
}
