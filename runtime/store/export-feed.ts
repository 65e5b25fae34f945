/**
 * The store's door for a sink that follows `events.db` in insertion order (the Influx writer): rows past
 * a tail position (./tail.ts), the lag behind it, enrichment readings past a sequence number, and the
 * dictionary lookups to turn rows into text (./dictionaries.ts, one cache per feed).
 *
 * The position itself belongs to the sink (it moves only when the sink's server accepted the rows, so it
 * is kept with the sink's own state); the feed only reads past it. Each read is one snapshot on a
 * connection of its own: the batcher commits on its writer connection meanwhile (WAL readers never wait).
 *
 * @example
 * const feed = openExportFeed(dataDir, { nowUs: Date.now() * 1000, dictionaryCache: 10_000 });
 * const { rows, next } = feed.read(position ?? feed.start, 5000);
 */
import { Database, type Statement } from "bun:sqlite";
import { join } from "node:path";
import { Dictionaries } from "./dictionaries.ts";
import { configureConnection, EVENTS_DB, migrate, readBaseUs } from "./schema.ts";
import { metaPosition, type TailPosition, TailReader } from "./tail.ts";

export type { TailPosition } from "./tail.ts";

/** A row as the sink sees it: `t` last_updated in µs, null (with e) for a late row deleted since. */
export interface FeedRow {
  t: number | null;
  e: number | null;
  v: number | null;
  s: number | null;
  a: number | null;
}

/** An enrichment reading past a sequence number. */
export interface FeedReading {
  seq: number;
  source: string;
  metric: string;
  /** ms */
  ts: number;
  value: number;
}

export interface ExportFeed {
  /** Where a sink that has exported nothing stands (rows before `tail_base` were journaled: seq 0). */
  readonly start: TailPosition;
  /** Where rows were journaled before events.db version 3: the id part of a position kept as a seq only. */
  readonly tailBase: { t: number; e: number };
  /** Up to `max` rows past `pos` (late rows first, then in id order) and the position after them. */
  read(pos: TailPosition, max: number): { rows: FeedRow[]; next: TailPosition };
  /** Rows waiting past `pos` (counted up to `cap`) and the time in µs of the next one, or null. */
  lag(pos: TailPosition, cap: number): { events: number; nextUs: number | null };
  /** Up to `max` enrichment readings with seq > `afterSeq`, in seq order. */
  readings(afterSeq: number, max: number): FeedReading[];
  /** The entity's first name ever (the series identity), null for an unknown key. */
  stableId(e: number): string | null;
  stateText(s: number): string;
  attrText(a: number): string;
  close(): void;
}

/**
 * Opens (creating and migrating if needed: the sink may start before the batcher) `events.db` under
 * `dataDir` for following. `dictionaryCache` bounds the state and attribute caches (`store.dictionaryCache`).
 */
export function openExportFeed(
  dataDir: string,
  opts: { nowUs: number; dictionaryCache: number },
): ExportFeed {
  const db = new Database(join(dataDir, EVENTS_DB), { create: true, readwrite: true });
  configureConnection(db);
  migrate(db, opts.nowUs);
  return new SqliteExportFeed(db, opts.dictionaryCache);
}

type Row = { t: number | null; e: number | null; v: number | null; s: number | null; a: number | null };

class SqliteExportFeed implements ExportFeed {
  readonly start: TailPosition;
  readonly tailBase: { t: number; e: number };
  private readonly baseUs: number;
  private readonly tail: TailReader<Row>;
  private readonly dict: Dictionaries;
  private readonly readingsQ: Statement;

  constructor(
    private readonly db: Database,
    dictionaryCache: number,
  ) {
    this.baseUs = readBaseUs(db);
    this.tailBase = metaPosition(db, "tail_base");
    this.start = { t: this.tailBase.t, e: this.tailBase.e, seq: 0 };
    this.tail = new TailReader<Row>(db, "ev.v AS v, ev.s AS s, ev.a AS a");
    this.dict = new Dictionaries(db, { stateMax: dictionaryCache, attrMax: dictionaryCache });
    this.readingsQ = db.prepare(
      `SELECT r.seq AS seq, s.source AS source, s.metric AS metric, r.ts_ms AS ts, r.value AS value
       FROM readings r JOIN series s ON s.k = r.k WHERE r.seq > ? ORDER BY r.seq LIMIT ?`,
    );
  }

  read(pos: TailPosition, max: number): { rows: FeedRow[]; next: TailPosition } {
    // One snapshot for both halves of the read (./tail.ts says why).
    const { rows, next } = this.db.transaction(() => this.tail.read(pos, max))();
    for (const r of rows as Row[]) if (r.t !== null) r.t += this.baseUs;
    return { rows, next };
  }

  lag(pos: TailPosition, cap: number): { events: number; nextUs: number | null } {
    return this.db.transaction(() => {
      const next = this.tail.nextTime(pos);
      return { events: this.tail.pending(pos, cap), nextUs: next === null ? null : next + this.baseUs };
    })();
  }

  readings(afterSeq: number, max: number): FeedReading[] {
    return this.readingsQ.all(afterSeq, max) as FeedReading[];
  }

  stableId(e: number): string | null {
    return this.dict.stableId(e);
  }

  stateText(s: number): string {
    return this.dict.stateText(s);
  }

  attrText(a: number): string {
    return this.dict.attrText(a);
  }

  close(): void {
    this.db.close();
  }
}
