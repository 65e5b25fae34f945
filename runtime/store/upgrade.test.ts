/**
 * Upgrades never lose data: a data dir written at schema version 1 (as first released) is opened by this
 * version, migrated, and compared table by table; and a data dir from a newer HomeIQ is refused.
 */

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { MigrationError, SchemaTooNewError } from "../kernel/sqlite.ts";
import { decodePosting, encodeUlid } from "./codec.ts";
import { StoreMaintenance } from "./maintenance.ts";
import { openStoreReader } from "./reader.ts";
import { configureConnection, ENTITY_BITS, EVENTS_DB, MIGRATIONS, SCHEMA_VERSION } from "./schema.ts";
import { openStoreWriter } from "./writer.ts";

const BASE_US = 1_795_000_000_000_000 - (1_795_000_000_000_000 % 86_400_000_000);

const tempDir = tempDirs("homeiq-upgrade-");

/** Writes a version-1 events.db by hand: the schema of version 1 and rows as the version-1 writer stored them. */
function versionOneDataDir(): string {
  const dir = tempDir();
  const db = new Database(join(dir, EVENTS_DB), { create: true });
  configureConnection(db);
  db.transaction(() => {
    for (const sql of MIGRATIONS[0]) db.run(sql);
    db.run("INSERT INTO meta (key, value) VALUES ('base_us', ?), ('raw_count', 40)", [BASE_US]);
    db.run(
      "INSERT INTO entities (e, entity_id, stable_id) VALUES (1, 'sensor.t', 'sensor.t'), (2, 'light.hall', 'light.hall')",
    );
    db.run("INSERT INTO entity_names (name, e) VALUES ('sensor.t', 1), ('light.hall', 2)");
    db.run("INSERT INTO states (s, state) VALUES (1, 'on'), (2, 'off')");
    db.run(`INSERT INTO attrs (a, h, json) VALUES (1, 7, '{"unit_of_measurement":"°C"}'), (2, 9, '{}')`);
    const insert = db.prepare("INSERT INTO events (id, e, v, s, a, lc) VALUES (?, ?, ?, ?, ?, 0)");
    for (let i = 0; i < 40; i++) {
      const e = i % 2 ? 2 : 1;
      const rel = 3_600_000_000 + i * 1_000_000;
      insert.run(
        rel * 2 ** ENTITY_BITS + e,
        e,
        e === 1 ? 20 + i / 10 : null,
        e === 2 ? 1 + (i % 4 === 1 ? 0 : 1) : null,
        e === 1 ? 1 : 2,
      );
    }
    db.run("INSERT INTO cursors (name, seq) VALUES ('rollup', 10)");
    db.run("PRAGMA user_version = 1");
  })();
  db.close();
  return dir;
}

function dump(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  const tables = db
    .query(
      "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all() as { name: string }[];
  const out: Record<string, unknown[]> = {};
  for (const { name } of tables) out[name] = db.query(`SELECT * FROM "${name}" ORDER BY 1, 2`).all();
  db.close();
  return out;
}

describe("events.db upgrades", () => {
  test("a version-1 data dir is migrated with every row kept, and keeps working", () => {
    const dir = versionOneDataDir();
    const before = dump(join(dir, EVENTS_DB));
    expect(before.events).toHaveLength(40);
    expect(before.journal).toHaveLength(40);

    const reader = openStoreReader(dir); // migrates
    const after = dump(join(dir, EVENTS_DB));
    // Every row of every earlier table is kept; version 3 adds the entity index (all rows, by entity) and
    // the tail positions: everything so far was journaled, so tailers continue by id after the newest row.
    const maxId = (before.events as { id: number }[]).reduce((m, r) => Math.max(m, r.id), -Infinity);
    // Version 5 moves the rows to raw_events; the view `events` reads them back as they were.
    // Attribute objects likewise move to attr_rows (each whole: base NULL), read through the view `attrs`.
    const {
      entity_postings: postings,
      rollup_carry: carry,
      raw_events: rows,
      attr_rows: attrRows,
      ...kept
    } = after;
    expect(rows).toHaveLength(40);
    expect(attrRows).toEqual((before.attrs as object[]).map((r) => ({ ...r, base: null })));
    // Version 4 (time-weighted tiers): no whole day is in raw here (the rows lie in the first day's
    // second hour), so nothing is rolled again; each entity's newest row seeds its carry at that midnight.
    const twFrom = 86_400_000_000;
    expect(carry).toEqual([
      { e: 1, us: BASE_US + twFrom, v: 23.8, s: null, a: 1 },
      { e: 2, us: BASE_US + twFrom, v: null, s: 2, a: 2 },
    ]);
    // Version 5: the entity index becomes postings, each entity's row times in order.
    const index = (postings as { e: number; lo: number; ts: Uint8Array | null }[]).flatMap((p) => {
      const ts: number[] = [];
      decodePosting(p.lo, p.ts, ts);
      return ts.map((t) => ({ e: p.e, id: t * 65536 + p.e }));
    });
    expect(index).toEqual(
      (before.events as { e: number; id: number }[])
        .map(({ e, id }) => ({ e, id }))
        .sort((a, b) => a.e - b.e || a.id - b.id),
    );
    expect(kept).toEqual({
      ...before,
      // Version 5: a state text's number, where it reads as one ("on" and "off" do not).
      states: (before.states as object[]).map((r) => ({ ...r, num: null })),
      meta: [
        ...(before.meta as { key: string }[]),
        { key: "hwm", value: maxId },
        { key: "indexed_to", value: maxId },
        { key: "tail_base", value: maxId },
        { key: "pruned_to", value: 3_600_000_000 - 1 },
        { key: "tw_from", value: twFrom },
        { key: "compact_from", value: maxId },
      ].sort((a, b) => a.key.localeCompare(b.key)),
      cursors: [...(before.cursors as unknown[]), { name: "rollup.id", seq: maxId }],
    });
    const db = new Database(join(dir, EVENTS_DB), { readonly: true });
    expect(db.query("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
    const journalSql = (
      db.query("SELECT sql FROM sqlite_master WHERE name = 'journal'").get() as { sql: string }
    ).sql;
    expect(journalSql).not.toContain("AUTOINCREMENT");
    db.close();

    const page = reader.events({ entityIds: ["sensor.t"], limit: 100 });
    expect(page.items).toHaveLength(20);
    expect(page.items[0]).toMatchObject({
      entity_id: "sensor.t",
      value: 23.8,
      attributes: { unit_of_measurement: "°C" },
    });

    // The upgraded store takes new events: one after the newest needs no journal row, one behind it does.
    const writer = openStoreWriter(dir, { dictionaryCache: 100 });
    const us = BASE_US + 7_200_000_000;
    const change = (at: number) => ({
      entity_id: "light.hall",
      state: "on",
      attributes: "{}",
      last_changed: at,
      last_updated: at,
      context_id: null,
      context_parent_id: null,
      context_user_id: null,
    });
    const result = writer.writeEvents([change(us), change(BASE_US + 3_600_500_000)]);
    writer.close();
    expect(result.inserted).toHaveLength(2);
    const journal = dump(join(dir, EVENTS_DB)).journal as { seq: number; id: number }[];
    expect(journal.map((r) => r.seq)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    expect(journal[40].id).toBe(3_600_500_000 * 2 ** ENTITY_BITS + 2);
    expect(reader.events({ entityIds: ["light.hall"], limit: 100 }).items).toHaveLength(22);
    reader.close();
  });

  test("version 4 rolls the whole days raw still holds again, time-weighted, and keeps older buckets", () => {
    // A version-3 store: a sensor at 10 for 50 minutes then 70 for 10 minutes, every hour for 3 days, its
    // tiers as version 3 rolled them up (sample means: 40 for every hour).
    const dir = tempDir();
    const db = new Database(join(dir, EVENTS_DB), { create: true });
    configureConnection(db);
    const HOUR = 3_600_000_000;
    const start = 12 * HOUR; // raw starts at noon of the first day: day 2 is the first whole one
    db.transaction(() => {
      for (const v of [0, 1, 2]) for (const sql of MIGRATIONS[v]) db.run(sql);
      db.run("INSERT INTO meta (key, value) VALUES ('base_us', ?), ('raw_count', ?)", [BASE_US, 120]);
      db.run("INSERT INTO entities (e, entity_id, stable_id) VALUES (1, 'sensor.t', 'sensor.t')");
      db.run("INSERT INTO entity_names (name, e) VALUES ('sensor.t', 1)");
      db.run(`INSERT INTO attrs (a, h, json) VALUES (1, 7, '{}')`);
      const insert = db.prepare("INSERT INTO events (id, e, v, s, a, lc) VALUES (?, 1, ?, NULL, 1, 0)");
      const hourly = db.prepare(
        "INSERT INTO hourly (e, t, n, sum, min, max, tn) VALUES (1, ?, 2, 80, 10, 70, 0)",
      );
      for (let h = 0; h < 60; h++) {
        const rel = start + h * HOUR;
        // Exact ids (as the writer makes them in SQL): past 2^53 a JS number would lose the entity bits.
        insert.run((BigInt(rel) << BigInt(ENTITY_BITS)) | 1n, 10);
        insert.run((BigInt(rel + 50 * 60_000_000) << BigInt(ENTITY_BITS)) | 1n, 70);
        hourly.run((BASE_US + rel) / 1e6);
      }
      const maxId = (BigInt(start + 59 * HOUR + 50 * 60_000_000) << BigInt(ENTITY_BITS)) | 1n;
      db.run("UPDATE meta SET value = ? WHERE key IN ('hwm', 'indexed_to', 'tail_base')", [maxId]);
      db.run("INSERT OR REPLACE INTO cursors (name, seq) VALUES ('rollup', 0), ('rollup.id', ?)", [maxId]);
      db.run("PRAGMA user_version = 3");
    })();
    db.close();

    const writer = openStoreWriter(dir, { dictionaryCache: 100 });
    const m = new StoreMaintenance(writer, {
      rawDays: 7,
      hourlyDays: 30,
      dailyDays: 90,
      maxBytes: 1e12,
      rollupChunk: 50,
      unexportedHoldBytes: 0,
    });
    const nowMs = (BASE_US + 4 * 86_400_000_000) / 1000;
    while (m.rollupStep(nowMs) > 0);
    const reader = openStoreReader(dir);
    const means = reader
      .history("sensor.t", { from: BASE_US / 1000, to: nowMs, resolution: "hourly" })
      .points.map((p) => [(p.t * 1000 - BASE_US) / HOUR, p.value]);
    // Day 1 (hours 12-23) keeps its sample means; from day 2 on each hour is 10 for 50 min, 70 for 10.
    expect(means.slice(0, 12)).toEqual(Array.from({ length: 12 }, (_, i) => [12 + i, 40]));
    expect(means.slice(12, -1)).toEqual(Array.from({ length: 47 }, (_, i) => [24 + i, 20]));
    reader.close();
    writer.close();
  });

  test("version 5 converts every row in place: the events view reads back what version 4 stored, exactly", () => {
    // A version-4 store with each kind of row: short decimals (negative, integral), numbers
    // with no short form (an exponent, 0.1 + 0.2), text states (one reading as a number), contexts as
    // 16-byte ULIDs and as text, a parent, a user, last_changed before last_updated.
    const dir = tempDir();
    const db = new Database(join(dir, EVENTS_DB), { create: true });
    configureConnection(db);
    const ulid = (text: string) => {
      const out = new Uint8Array(16);
      expect(encodeUlid(text, out)).toBe(true);
      return out;
    };
    const ctx = ulid("01JDZ5K3M8Q2W7XYZABCDEFGHJ");
    const parent = ulid("01JDZ5K3M0AAAAAAAAAAAAAAAA");
    // [v, s] as the version-4 writer stored them, with the state text the API must give back.
    const states: [number | null, number | null, string][] = [
      [21.5, null, "21.5"],
      [-3.25, null, "-3.25"],
      [1013, null, "1013"],
      [0, null, "0"],
      [1.0000000000001, null, "1.0000000000001"],
      [1e21, null, "1e+21"],
      [0.1 + 0.2, null, "0.30000000000000004"],
      [-123456789.123, null, "-123456789.123"],
      [null, 1, "on"],
      [21.5, 2, "21.50"],
    ];
    db.transaction(() => {
      for (const v of [0, 1, 2, 3]) for (const sql of MIGRATIONS[v]) db.run(sql);
      db.run("INSERT INTO meta (key, value) VALUES ('base_us', ?), ('raw_count', ?)", [
        BASE_US,
        states.length * 2,
      ]);
      db.run("INSERT INTO entities (e, entity_id, stable_id) VALUES (3, 'sensor.t', 'sensor.t')");
      db.run("INSERT INTO entity_names (name, e) VALUES ('sensor.t', 3)");
      db.run("INSERT INTO states (s, state) VALUES (1, 'on'), (2, '21.50')");
      db.run("INSERT INTO users (u, user_id) VALUES (1, 'abc')");
      db.run(`INSERT INTO attrs (a, h, json) VALUES (1, 7, '{}')`);
      const insert = db.prepare(
        "INSERT INTO events (id, e, v, s, a, lc, c, cp, cu) VALUES (?, 3, ?, ?, 1, ?, ?, ?, ?)",
      );
      states.forEach(([v, s], i) => {
        const id = (rel: number) => (BigInt(rel) << BigInt(ENTITY_BITS)) | 3n;
        insert.run(id(3_600_000_000 + i * 1_000_000), v, s, 0, ctx, null, null);
        insert.run(id(3_600_000_500 + i * 1_000_000), v, s, 250_000, "not-a-ulid", parent, 1);
      });
      db.run("INSERT INTO entity_index (e, id) SELECT e, id FROM events");
      db.run(
        "UPDATE meta SET value = (SELECT max(id) FROM events) WHERE key IN ('hwm', 'indexed_to', 'tail_base')",
      );
      db.run("PRAGMA user_version = 4");
    })();
    const before = db.query("SELECT * FROM events ORDER BY id").all();
    db.close();

    const reader = openStoreReader(dir); // migrates
    const after = new Database(join(dir, EVENTS_DB), { readonly: true });
    expect(after.query("SELECT * FROM events ORDER BY id").all()).toEqual(before);
    // Numbers without the short form (13 places, an exponent, 0.1 + 0.2) keep their number in m ([lc, cu,
    // vl]); "21.50" (code 14) reads its number from the dictionary, which gains it.
    expect(after.query("SELECT state, num FROM states ORDER BY s").all()).toEqual([
      { state: "on", num: null },
      { state: "21.50", num: 21.5 },
    ]);
    expect(after.query("SELECT count(*) AS n FROM raw_events WHERE m ->> 2 IS NOT NULL").get()).toEqual({
      n: 6,
    });
    after.close();
    const items = reader.events({ limit: 100 }).items.reverse();
    expect(items.map((ev) => ev.state)).toEqual(states.flatMap(([, , text]) => [text, text]));
    expect(items.map((ev) => ev.value)).toEqual(states.flatMap(([v]) => [v, v]));
    expect(items[0]).toMatchObject({
      context_id: "01JDZ5K3M8Q2W7XYZABCDEFGHJ",
      context_parent_id: null,
      context_user_id: null,
    });
    expect(items[1]).toMatchObject({
      context_id: "not-a-ulid",
      context_parent_id: "01JDZ5K3M0AAAAAAAAAAAAAAAA",
      context_user_id: "abc",
      last_changed: items[1].ts - 250,
    });
    // Contexts are found as before: by the 16-byte form old rows hold.
    expect(reader.contextEvents("01JDZ5K3M0AAAAAAAAAAAAAAAA", 1e12)).toHaveLength(states.length);

    // New rows in the new form sit beside them.
    const writer = openStoreWriter(dir, { dictionaryCache: 100 });
    const at = BASE_US + 7_200_000_000;
    writer.writeEvents(
      ["1e+21", "21.50", "0.30000000000000004", "7.25"].map((state, i) => ({
        entity_id: "sensor.t",
        state,
        attributes: "{}",
        last_changed: at + i,
        last_updated: at + i,
        context_id: "01JDZ5K3M8Q2W7XYZABCDEFGHJ",
        context_parent_id: null,
        context_user_id: null,
      })),
    );
    writer.close();
    const fresh = reader.events({ limit: 4 }).items.reverse();
    expect(fresh.map((ev) => [ev.state, ev.value])).toEqual([
      ["1e+21", 1e21],
      ["21.50", 21.5],
      ["0.30000000000000004", 0.1 + 0.2],
      ["7.25", 7.25],
    ]);
    expect(fresh.every((ev) => ev.context_id === "01JDZ5K3M8Q2W7XYZABCDEFGHJ")).toBe(true);
    reader.close();
  });

  test("an upgrade that fails changes nothing and says which step and how to get past it", () => {
    const dir = versionOneDataDir();
    const db = new Database(join(dir, EVENTS_DB));
    // A table in the way of version 5's: the upgrade's last step fails after the earlier ones ran.
    db.run("CREATE TABLE entity_postings (x)");
    const before = db.query("SELECT count(*) AS n FROM events").get() as { n: number };
    db.close();
    expect(() => openStoreReader(dir)).toThrow(MigrationError);
    expect(() => openStoreReader(dir)).toThrow(
      `events.db: upgrading from schema version 1 to ${SCHEMA_VERSION} failed, nothing was changed: table entity_postings already exists`,
    );
    const after = new Database(join(dir, EVENTS_DB));
    expect((after.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(1);
    expect(after.query("SELECT count(*) AS n FROM events").get()).toEqual(before);
    after.close();
  });

  test("a data dir from a newer HomeIQ is refused, naming the file and both versions", () => {
    const dir = versionOneDataDir();
    const db = new Database(join(dir, EVENTS_DB));
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openStoreReader(dir)).toThrow(SchemaTooNewError);
    expect(() => openStoreReader(dir)).toThrow(
      `events.db has schema version ${SCHEMA_VERSION + 1}, but this HomeIQ knows versions up to ${SCHEMA_VERSION}`,
    );
  });
});
