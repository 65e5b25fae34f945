/**
 * Following `events.db` in insertion order — what the rollup and the Influx writer do — without writing
 * anything per live row but the row. A row id is its time (and entity), and live rows arrive in time
 * order, so a tailer reads the table by id past its position. A row inserted at or behind the newest id
 * (`meta.hwm`: backfill, import, rows a rename moved) may land behind a tailer; the writer records those
 * in `journal`, and the tailer reads the journal rows with seq past its own and id at or behind its id
 * position. A journaled row ahead of the id position is skipped there: the id scan reaches it.
 *
 * Both reads must see one snapshot (a read transaction on a connection other than the writer's): a late
 * row committed between them could otherwise be read twice, by id and again from the journal.
 */
import type { Database, Statement } from "bun:sqlite";
import { ENTITY_BITS } from "./schema.ts";

/**
 * Where a tailer stands: every row up to id `(t << 16) | e` has been passed in id order (t and e are
 * exact as JS numbers, where the id itself may not be), and every journal row up to `seq`.
 */
export interface TailPosition {
  t: number;
  e: number;
  seq: number;
}

/** Before every row: `(t << 16) | e` is the smallest int64. */
export const TAIL_START: TailPosition = { t: -(2 ** (63 - ENTITY_BITS)), e: 0, seq: 0 };

/** A position's id as SQL over two parameters (t, e); ids do not fit a JS number. */
export const positionIdSql = (t: string, e: string) =>
  `((CAST(${t} AS INTEGER) << ${ENTITY_BITS}) | CAST(${e} AS INTEGER))`;

/** A row as a tailer sees it: its time (µs after base_us) and entity key, plus the caller's columns. */
export type TailRow<R> = R & { t: number; e: number };

export class TailReader<R> {
  private readonly late: Statement;
  private readonly range: Statement;
  private readonly head: Statement;
  private readonly lateCount: Statement;
  private readonly rangeCount: Statement;
  private readonly firstRange: Statement;

  /** `cols`: further columns of `events` (alias `ev`) each row needs, e.g. "ev.v AS v, ev.s AS s". */
  constructor(db: Database, cols: string) {
    const extra = cols ? `, ${cols}` : "";
    this.late = db.prepare(
      `SELECT j.seq AS seq, ev.id >> ${ENTITY_BITS} AS t, ev.e AS e${extra}
       FROM journal j LEFT JOIN events ev ON ev.id = j.id
       WHERE j.seq > ?1 AND j.id <= ${positionIdSql("?2", "?3")} ORDER BY j.seq LIMIT ?4`,
    );
    this.range = db.prepare(
      `SELECT ev.id >> ${ENTITY_BITS} AS t, ev.e AS e${extra} FROM events ev
       WHERE ev.id > ${positionIdSql("?1", "?2")} ORDER BY ev.id LIMIT ?3`,
    );
    this.head = db.prepare("SELECT coalesce(max(seq), 0) AS seq FROM journal");
    this.lateCount = db.prepare("SELECT count(*) AS n FROM journal WHERE seq > ?");
    this.rangeCount = db.prepare(
      `SELECT count(*) AS n FROM (SELECT 1 FROM events WHERE id > ${positionIdSql("?1", "?2")} LIMIT ?3)`,
    );
    this.firstRange = db.prepare(
      `SELECT id >> ${ENTITY_BITS} AS t FROM events WHERE id > ${positionIdSql("?1", "?2")} ORDER BY id LIMIT 1`,
    );
  }

  /**
   * Up to `max` rows past `pos` (late rows first, then in id order) and the position after them. A late
   * row whose event has since been deleted comes back with t and e null; skip it.
   */
  read(pos: TailPosition, max: number): { rows: TailRow<R>[]; next: TailPosition } {
    const late = this.late.all(pos.seq, pos.t, pos.e, max) as (TailRow<R> & { seq: number })[];
    let seq: number;
    if (late.length === max) seq = late[late.length - 1].seq;
    else seq = Math.max(pos.seq, (this.head.get() as { seq: number }).seq);
    if (late.length === max) return { rows: late, next: { t: pos.t, e: pos.e, seq } };
    const range = this.range.all(pos.t, pos.e, max - late.length) as TailRow<R>[];
    const last = range.length > 0 ? range[range.length - 1] : null;
    const rows: TailRow<R>[] = late.length === 0 ? range : [...late, ...range];
    return { rows, next: last ? { t: last.t, e: last.e, seq } : { t: pos.t, e: pos.e, seq } };
  }

  /** Whether nothing waits past `pos`. */
  caughtUp(pos: TailPosition): boolean {
    return this.pending(pos, 1) === 0;
  }

  /** Rows waiting past `pos`, counted up to `cap` in id order (plus every late row). */
  pending(pos: TailPosition, cap: number): number {
    const late = (this.lateCount.get(pos.seq) as { n: number }).n;
    return late + (this.rangeCount.get(pos.t, pos.e, cap) as { n: number }).n;
  }

  /** Time (µs after base_us) of the next row in id order, or null. */
  nextTime(pos: TailPosition): number | null {
    return (this.firstRange.get(pos.t, pos.e) as { t: number } | null)?.t ?? null;
  }
}

/**
 * A tailer's position kept in a `cursors (name, seq)` table: `name` holds the journal seq and
 * `name.id` the id position. A database migrated from before version 3 has only `name`; its id position
 * is then `tail_base` (every older row was journaled, so its seq says what was passed).
 */
export class StoredPosition {
  private readonly get: Statement;
  private readonly set: Statement;

  constructor(
    db: Database,
    private readonly name: string,
  ) {
    this.get = db.prepare(
      `SELECT (SELECT seq FROM cursors WHERE name = ?1) AS seq,
              (SELECT seq >> ${ENTITY_BITS} FROM cursors WHERE name = ?1 || '.id') AS t,
              (SELECT seq & ${2 ** ENTITY_BITS - 1} FROM cursors WHERE name = ?1 || '.id') AS e`,
    );
    this.set = db.prepare(
      `INSERT OR REPLACE INTO cursors (name, seq) VALUES (?1, ?2), (?1 || '.id', ${positionIdSql("?3", "?4")})`,
    );
  }

  /** The stored position; `base` (the store's `tail_base`) stands in for a missing id position. */
  load(base: { t: number; e: number }): TailPosition {
    const row = this.get.get(this.name) as { seq: number | null; t: number | null; e: number | null };
    return row.t === null || row.e === null
      ? { t: base.t, e: base.e, seq: row.seq ?? 0 }
      : { t: row.t, e: row.e, seq: row.seq ?? 0 };
  }

  save(pos: TailPosition): void {
    this.set.run(this.name, pos.seq, pos.t, pos.e);
  }
}

/**
 * Marks everything stored so far as passed by tailer `name` (its id position at the newest row, its
 * journal seq at the head): what a tailer's state is once it has caught up. For tools and test
 * fixtures that do a tailer's work another way (e.g. fill the hourly tier in one statement).
 */
export function markCaughtUp(db: Database, name: string): void {
  db.query(
    `INSERT OR REPLACE INTO cursors (name, seq) VALUES
       (?1, (SELECT coalesce(max(seq), 0) FROM journal)),
       (?1 || '.id', coalesce((SELECT max(id) FROM events), (-9223372036854775807 - 1)))`,
  ).run(name);
}

/** An id kept in `meta` (hwm, indexed_to, tail_base) as an exact position; the smallest id when absent. */
export function metaPosition(db: Database, key: string): { t: number; e: number } {
  const row = db
    .query(
      `SELECT value >> ${ENTITY_BITS} AS t, value & ${2 ** ENTITY_BITS - 1} AS e FROM meta WHERE key = ?`,
    )
    .get(key) as { t: number; e: number } | null;
  return row ?? { t: TAIL_START.t, e: TAIL_START.e };
}

/** Stores an id position under `key` in `meta`. */
export function setMetaPosition(db: Database, key: string, pos: { t: number; e: number }): void {
  db.query(`INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ${positionIdSql("?2", "?3")})`).run(
    key,
    pos.t,
    pos.e,
  );
}

/** (t, e) positions compare like the ids they stand for. */
export const positionAfter = (a: { t: number; e: number }, b: { t: number; e: number }): boolean =>
  a.t > b.t || (a.t === b.t && a.e > b.e);
