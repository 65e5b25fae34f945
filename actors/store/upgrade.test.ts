/**
 * Upgrades never lose data: a data dir written at schema version 1 (as first released) is opened by this
 * version, migrated, and compared table by table; and a data dir from a newer HomeIQ is refused.
 */

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SchemaTooNewError } from "../../runtime/sqlite.ts";
import { tempDirs } from "../../test/lib/temp-dirs.ts";
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
    .query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
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
    const { entity_index: index, ...kept } = after;
    expect(index).toEqual(
      (before.events as { e: number; id: number }[])
        .map(({ e, id }) => ({ e, id }))
        .sort((a, b) => a.e - b.e || a.id - b.id),
    );
    expect(kept).toEqual({
      ...before,
      meta: [
        ...(before.meta as { key: string }[]),
        { key: "hwm", value: maxId },
        { key: "indexed_to", value: maxId },
        { key: "tail_base", value: maxId },
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
