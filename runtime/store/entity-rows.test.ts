import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodePosting, encodePosting, POSTING_IDS_MAX } from "./codec.ts";
import { EntityRows, idRange, PostingWriter } from "./entity-rows.ts";

/** The tables EntityRows reads, bare: raw rows by id, postings, entities, meta.indexed_to. */
function bareStore(): Database {
  const db = new Database(":memory:");
  db.run("CREATE TABLE raw_events (id INTEGER PRIMARY KEY, x INTEGER NOT NULL)");
  db.run(`CREATE TABLE entity_postings (e INTEGER NOT NULL, hi INTEGER NOT NULL, lo INTEGER NOT NULL, ts BLOB,
    PRIMARY KEY (e, hi)) WITHOUT ROWID`);
  db.run("CREATE TABLE entities (e INTEGER PRIMARY KEY)");
  db.run("INSERT INTO entities (e) VALUES (1), (2)");
  db.run("CREATE TABLE meta (key TEXT PRIMARY KEY, value)");
  db.run("INSERT INTO meta (key, value) VALUES ('indexed_to', -9223372036854775807 - 1)");
  return db;
}

describe("entity postings", () => {
  test("a posting's times encode and decode exactly, deltas up to 2^47 µs", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: -(2 ** 46), max: 2 ** 46 }), { minLength: 1, maxLength: 300 }),
        (raw) => {
          const ts = raw.sort((a, b) => a - b);
          const out: number[] = [];
          decodePosting(ts[0], ts.length > 1 ? encodePosting(ts, 0, ts.length) : null, out);
          expect(out).toEqual(ts);
        },
      ),
    );
  });

  // Rows written in any order, some indexed in bulk, some placed behind indexed_to (late), some deleted
  // by retention: an entity's rows read in any range, either order, with any limit, equal the model.
  type Op =
    | { kind: "write"; e: number; ts: number[] }
    | { kind: "index" }
    | { kind: "expire"; beforeT: number };
  const ops = fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constant("write" as const),
        e: fc.integer({ min: 1, max: 2 }),
        ts: fc.uniqueArray(fc.integer({ min: 0, max: 5_000 }), { maxLength: 450 }),
      }),
      fc.record({ kind: fc.constant("index" as const) }),
      fc.record({ kind: fc.constant("expire" as const), beforeT: fc.integer({ min: 0, max: 5_000 }) }),
    ),
    { maxLength: 8 },
  );

  test("rows read through postings and the tail equal the rows stored, in any range and order", () => {
    fc.assert(
      fc.property(
        ops,
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 1, max: 500 }),
        (script: Op[], a, b, limit) => {
          const db = bareStore();
          const postings = new PostingWriter(db);
          const rows = new EntityRows<{ t: number }>(db, (id) => `${id} >> 16 AS t`, "raw_events");
          const model = new Map<number, Set<number>>([
            [1, new Set()],
            [2, new Set()],
          ]);
          const insert = db.prepare("INSERT OR IGNORE INTO raw_events (id, x) VALUES ((?1 << 16) | ?2, 0)");
          const indexedT = () =>
            (db.query("SELECT value >> 16 AS t FROM meta WHERE key = 'indexed_to'").get() as { t: number }).t;
          for (const op of script) {
            if (op.kind === "write") {
              // Rows behind indexed_to go into postings at once, as the writer places late rows.
              const late: number[] = [];
              for (const t of op.ts) {
                if (insert.run(t, op.e).changes === 1 && t <= indexedT()) late.push(t);
                model.get(op.e)?.add(t);
              }
              postings.add(
                op.e,
                late.sort((x, y) => x - y),
              );
            } else if (op.kind === "index") {
              const max = db.query("SELECT max(id) AS id FROM raw_events").get() as { id: number | null };
              if (max.id === null) continue;
              const fresh = db
                .query(
                  `SELECT id >> 16 AS t, id & 65535 AS e FROM raw_events
                   WHERE id > (SELECT value FROM meta WHERE key = 'indexed_to') ORDER BY id`,
                )
                .all() as { t: number; e: number }[];
              for (const e of [1, 2])
                postings.add(
                  e,
                  fresh.filter((r) => r.e === e).map((r) => r.t),
                );
              db.run("UPDATE meta SET value = (SELECT max(id) FROM raw_events) WHERE key = 'indexed_to'");
            } else {
              db.run("DELETE FROM raw_events WHERE id < (? << 16)", [op.beforeT]);
              for (const set of model.values()) for (const t of [...set]) if (t < op.beforeT) set.delete(t);
              const min = db.query("SELECT min(id) >> 16 AS t FROM raw_events").get() as { t: number | null };
              postings.pruneBelow(min.t ?? 2 ** 47);
            }
          }
          const [fromT, toT] = a <= b ? [a, b] : [b, a];
          for (const e of [1, 2]) {
            const all = [...(model.get(e) as Set<number>)].sort((x, y) => x - y);
            const inRange = all.filter((t) => t >= fromT && t < toT);
            expect(rows.get(e, { fromT, toT }, "asc", limit).map((r) => r.t)).toEqual(
              inRange.slice(0, limit),
            );
            expect(rows.get(e, { fromT, toT }, "desc", limit).map((r) => r.t)).toEqual(
              inRange.reverse().slice(0, limit),
            );
            expect([...rows.iterate(e, {}, "asc")].map((r) => r.t)).toEqual(all);
          }
          // Postings stay disjoint and never hold more than POSTING_IDS_MAX times.
          const ps = db.query("SELECT e, lo, hi, ts FROM entity_postings ORDER BY e, hi").all() as {
            e: number;
            lo: number;
            hi: number;
            ts: Uint8Array | null;
          }[];
          for (const [i, p] of ps.entries()) {
            const ts: number[] = [];
            decodePosting(p.lo, p.ts, ts);
            expect(ts.length).toBeLessThanOrEqual(POSTING_IDS_MAX);
            expect(ts[ts.length - 1]).toBe(p.hi);
            if (i > 0 && ps[i - 1].e === p.e) expect(ps[i - 1].hi).toBeLessThan(p.lo);
          }
          db.close();
        },
      ),
      { numRuns: 80 },
    );
  });

  test("an id range maps to the entity's row times exactly at both ends", () => {
    const e = 7;
    const id = (t: number) => BigInt(t) * 65536n + BigInt(e);
    expect(idRange(e, id(10), id(20))).toEqual({ fromT: 10, toT: 20 });
    expect(idRange(e, id(10) + 1n, id(20) + 1n)).toEqual({ fromT: 11, toT: 21 });
    expect(idRange(e, id(-5), null)).toEqual({ fromT: -5, toT: undefined });
  });
});
