/**
 * One entity's rows in time order, through posting lists (`entity_postings`, schema version 5).
 *
 * A b-tree entry per row (`entity_index (e, id)`) cost 17.4 bytes an event, a third of the store. A
 * posting holds up to `POSTING_IDS_MAX` of one entity's row times (µs after base_us, the id's `t`) as
 * varint deltas in a BLOB: ~3-4 bytes an event. Postings of an entity never overlap and are keyed by their
 * last time (`hi`), so a time range is a short key range; each also keeps its first (`lo`).
 *
 * Postings hold rows up to `meta.indexed_to` (filled by `StoreMaintenance.indexStep` in bulk, and by the
 * writer for rows placed behind it); rows after it are found by scanning the table's tail, as before. Rows
 * deleted by retention or the disk bound leave their times in postings until a posting is wholly older
 * than the oldest row (`PostingWriter.pruneBelow`): readers fetch rows by id and skip missing ones.
 *
 * @example
 * const rows = new EntityRows(db, (id) => `${id} AS id, ev.v AS v`);
 * rows.get(e, { fromT: 0, toT: 3_600_000_000 }, "desc", 100); // the newest 100 in the first hour
 */
import type { Database, Statement } from "bun:sqlite";
import { decodePosting, encodePosting, POSTING_IDS_MAX } from "./codec.ts";
import { ENTITY_BITS, MAX_ENTITY_KEY } from "./schema.ts";
import { metaPosition } from "./tail.ts";

/** Row times fetched per query when streaming. */
const FETCH_CHUNK = 256;
const SHIFT = 2 ** ENTITY_BITS;

type Posting = { lo: number; hi: number; ts: Uint8Array | null };

/** The writer's side: adds row times to postings, drops them with an entity or with retention. */
export class PostingWriter {
  private readonly q: Record<string, Statement>;

  constructor(db: Database) {
    this.q = {
      atOrAfter: db.prepare(
        "SELECT lo, hi, ts FROM entity_postings WHERE e = ?1 AND hi >= ?2 ORDER BY hi LIMIT 1",
      ),
      last: db.prepare("SELECT lo, hi, ts FROM entity_postings WHERE e = ?1 ORDER BY hi DESC LIMIT 1"),
      drop: db.prepare("DELETE FROM entity_postings WHERE e = ?1 AND hi = ?2"),
      put: db.prepare("INSERT INTO entity_postings (e, hi, lo, ts) VALUES (?1, ?2, ?3, ?4)"),
      dropEntity: db.prepare("DELETE FROM entity_postings WHERE e = ?1"),
      pruneEntity: db.prepare("DELETE FROM entity_postings WHERE e = ?1 AND hi < ?2"),
      keys: db.prepare("SELECT e FROM entities"),
    };
  }

  /**
   * Adds entity `e`'s row times `ts` (ascending, distinct, none already in a posting), anywhere in time:
   * each run of them merges into the posting that follows it (or the entity's last one, while it has
   * room), so postings stay disjoint and ordered; a merged posting past `POSTING_IDS_MAX` is split.
   */
  add(e: number, ts: readonly number[]): void {
    let i = 0;
    while (i < ts.length) {
      let target = this.q.atOrAfter.get(e, ts[i]) as Posting | null;
      let end = ts.length;
      if (target !== null) {
        end = i;
        while (end < ts.length && ts[end] <= target.hi) end++;
      } else {
        // After every posting: into the last one while it has room (a full one stays as it is).
        target = this.q.last.get(e) as Posting | null;
      }
      const merged: number[] = [];
      if (target !== null) {
        decodePosting(target.lo, target.ts, merged);
        if (target.hi < ts[i] && merged.length >= POSTING_IDS_MAX) {
          merged.length = 0;
          target = null;
        }
      }
      if (target !== null) this.q.drop.run(e, target.hi);
      const all = merged.length === 0 ? ts.slice(i, end) : mergeSorted(merged, ts, i, end);
      for (let from = 0; from < all.length; from += POSTING_IDS_MAX) {
        const to = Math.min(all.length, from + POSTING_IDS_MAX);
        this.q.put.run(e, all[to - 1], all[from], to - from > 1 ? encodePosting(all, from, to) : null);
      }
      i = end;
    }
  }

  /** Entity `e` has no rows left (a rename joined them to another key). */
  dropEntity(e: number): void {
    this.q.dropEntity.run(e);
  }

  /** Drops postings wholly before `minT` (no row older than it is left); one key range per entity. */
  pruneBelow(minT: number): void {
    for (const { e } of this.q.keys.all() as { e: number }[]) this.q.pruneEntity.run(e, minT);
  }
}

function mergeSorted(a: readonly number[], b: readonly number[], from: number, to: number): number[] {
  const out: number[] = [];
  let i = 0;
  let j = from;
  while (i < a.length || j < to) {
    if (j >= to || (i < a.length && a[i] < b[j])) out.push(a[i++]);
    else if (i >= a.length || b[j] < a[i]) out.push(b[j++]);
    else {
      out.push(a[i++]);
      j++;
    }
  }
  return out;
}

/** A time range of one entity's rows: `fromT` ≤ t < `toT` (µs after base_us; either side open when absent). */
export type TimeRange = { fromT?: number; toT?: number };

/** Row times of ids in [`from`, `to`) of entity `e` (ids as BigInt, as event ids exceed 2^53). */
export function idRange(e: number, from: bigint | null, to: bigint | null): TimeRange {
  const ceilT = (id: bigint) => {
    const d = id - BigInt(e);
    const q = d / BigInt(SHIFT);
    return Number(q * BigInt(SHIFT) < d ? q + 1n : q);
  };
  return { fromT: from === null ? undefined : ceilT(from), toT: to === null ? undefined : ceilT(to) };
}

/**
 * The reader's side: one entity's rows in a time range, oldest or newest first, with the columns
 * `cols(id)` gives (table alias `ev`, `events` view or `raw_events`), fetched by id in chunks.
 */
export class EntityRows<Row> {
  private readonly q: Record<string, Statement>;

  constructor(
    private readonly db: Database,
    cols: (id: string) => string,
    table: "events" | "raw_events" = "events",
  ) {
    const tail = (dir: string) =>
      db.prepare(
        `SELECT id >> ${ENTITY_BITS} AS t FROM raw_events
         WHERE id > ((CAST(?1 AS INTEGER) << ${ENTITY_BITS}) | ?2) AND id >= (CAST(?4 AS INTEGER) << ${ENTITY_BITS})
           AND id < (CAST(?5 AS INTEGER) << ${ENTITY_BITS}) AND id & ${MAX_ENTITY_KEY} = ?3 ORDER BY id ${dir}`,
      );
    this.q = {
      tailAsc: tail("ASC"),
      tailDesc: tail("DESC"),
      next: db.prepare(
        "SELECT lo, hi, ts FROM entity_postings WHERE e = ?1 AND hi >= ?2 ORDER BY hi LIMIT 1",
      ),
      prev: db.prepare(
        "SELECT lo, hi, ts FROM entity_postings WHERE e = ?1 AND hi < ?2 ORDER BY hi DESC LIMIT 1",
      ),
      fetch: db.prepare(
        `SELECT ${cols("ev.id")} FROM json_each(?1) j
         CROSS JOIN ${table} ev ON ev.id = ((j.value << ${ENTITY_BITS}) | ?2)`,
      ),
    };
  }

  /** At most `limit` rows, in order. */
  get(e: number, range: TimeRange, order: "asc" | "desc", limit: number): Row[] {
    const out: Row[] = [];
    const times = this.times(e, range, order);
    let done = false;
    // Times of rows retention took may still be in a posting: fetch until `limit` rows are found.
    while (!done && out.length < limit) {
      const want = Math.max(limit - out.length, 16);
      const chunk: number[] = [];
      while (chunk.length < want) {
        const r = times.next();
        if (r.done) {
          done = true;
          break;
        }
        chunk.push(r.value);
      }
      if (chunk.length === 0) break;
      for (const row of this.q.fetch.all(`[${chunk.join(",")}]`, e) as Row[]) {
        if (out.length >= limit) break;
        out.push(row);
      }
    }
    times.return(undefined);
    return out;
  }

  /** Every row, in order, streamed chunk by chunk. */
  *iterate(e: number, range: TimeRange, order: "asc" | "desc"): Generator<Row> {
    const chunk: number[] = [];
    for (const t of this.times(e, range, order)) {
      chunk.push(t);
      if (chunk.length === FETCH_CHUNK) {
        yield* this.q.fetch.all(`[${chunk.join(",")}]`, e) as Row[];
        chunk.length = 0;
      }
    }
    if (chunk.length > 0) yield* this.q.fetch.all(`[${chunk.join(",")}]`, e) as Row[];
  }

  /**
   * Row times in order: postings up to `indexed_to` as read at the start, then the table's tail after it
   * (or the reverse). Postings are read one at a time by key, each strictly past the last time given, so
   * a posting the writer rewrites meanwhile never gives a time twice.
   */
  *times(e: number, range: TimeRange, order: "asc" | "desc"): Generator<number> {
    const fromT = range.fromT ?? -(2 ** 53);
    const toT = range.toT ?? 2 ** 53;
    if (fromT >= toT) return;
    const ix = metaPosition(this.db, "indexed_to");
    // The last time of `e` a posting may hold: ids up to indexed_to.
    const lastT = e <= ix.e ? ix.t : ix.t - 1;
    const clamp = (t: number) => Math.max(-(2 ** 47), Math.min(2 ** 47 - 1, t));
    const tailArgs = [ix.t, ix.e, e, clamp(fromT), clamp(toT)] as const;
    const buf: number[] = [];
    if (order === "asc") {
      let after = fromT - 1;
      const end = Math.min(toT - 1, lastT);
      while (after < end) {
        const p = this.q.next.get(e, after + 1) as Posting | null;
        if (p === null || p.lo > end) break;
        buf.length = 0;
        decodePosting(p.lo, p.ts, buf);
        for (const t of buf) if (t > after && t <= end) yield t;
        after = Math.max(after, Math.min(p.hi, end));
      }
      for (const r of this.q.tailAsc.iterate(...tailArgs) as Iterable<{ t: number }>) yield r.t;
    } else {
      // Streamed, not gathered: a caller that wants the newest row stops SQLite at it (a store whose bulk
      // index is behind holds the entity's whole tail after `indexed_to`).
      for (const r of this.q.tailDesc.iterate(...tailArgs) as Iterable<{ t: number }>) yield r.t;
      let before = Math.min(toT, lastT + 1);
      // The posting holding `before - 1` or the next one after it, then each one before.
      let p = this.q.next.get(e, before - 1) as Posting | null;
      if (p !== null && p.lo >= before) p = null;
      if (p === null) p = this.q.prev.get(e, before) as Posting | null;
      while (p !== null && p.hi >= fromT && before > fromT) {
        buf.length = 0;
        decodePosting(p.lo, p.ts, buf);
        for (let i = buf.length - 1; i >= 0; i--) if (buf[i] < before && buf[i] >= fromT) yield buf[i];
        before = Math.min(before, p.lo);
        p = this.q.prev.get(e, before) as Posting | null;
      }
    }
  }
}
