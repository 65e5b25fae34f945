import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { MigrationError, migrate, openDatabase, SchemaTooNewError, schemaVersion } from "./sqlite.ts";

const dir = tempDirs("homeiq-sqlite-");

describe("migrate", () => {
  test("applies only the migrations a database has not seen, keeping its data", () => {
    const path = join(dir(), "x.db");
    const v1 = ["CREATE TABLE t (a INTEGER)"];
    let db = openDatabase(path);
    expect(migrate(db, "x.db", v1)).toEqual({ from: 0, to: 1 });
    db.exec("INSERT INTO t VALUES (1), (2)");
    db.close();
    db = openDatabase(path);
    const v2 = [...v1, "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x'"];
    expect(migrate(db, "x.db", v2)).toEqual({ from: 1, to: 2 });
    expect(db.query("SELECT a, b FROM t ORDER BY a").all()).toEqual([
      { a: 1, b: "x" },
      { a: 2, b: "x" },
    ]);
    db.close();
  });

  test("a failing migration changes nothing", () => {
    const db = openDatabase(join(dir(), "x.db"));
    migrate(db, "x.db", ["CREATE TABLE t (a INTEGER)"]);
    expect(() =>
      migrate(db, "x.db", ["CREATE TABLE t (a INTEGER)", "CREATE TABLE u (a); SELECT nope FROM nowhere"]),
    ).toThrow();
    expect(schemaVersion(db)).toBe(1);
    expect(db.query("SELECT name FROM sqlite_master WHERE name = 'u'").all()).toEqual([]);
    db.close();
  });

  test("a failed step names the file, the versions and the fix; a full disk says to free space", () => {
    const db = openDatabase(join(dir(), "x.db"));
    const full = () => {
      throw new Error("database or disk is full");
    };
    expect(() => migrate(db, "events.db", ["CREATE TABLE t (a)", full])).toThrow(
      "events.db: upgrading from schema version 1 to 2 failed, nothing was changed: database or disk is full. Fix: free disk space",
    );
    expect(schemaVersion(db)).toBe(1);
    expect(() => migrate(db, "events.db", ["CREATE TABLE t (a)", "SELECT nope FROM nowhere"])).toThrow(
      MigrationError,
    );
    db.close();
  });

  test("a database from a newer HomeIQ is refused with a clear message", () => {
    const db = openDatabase(join(dir(), "x.db"));
    db.exec("PRAGMA user_version = 9");
    expect(() => migrate(db, "events.db", ["CREATE TABLE t (a)"])).toThrow(SchemaTooNewError);
    expect(() => migrate(db, "events.db", ["CREATE TABLE t (a)"])).toThrow(
      "events.db has schema version 9, but this HomeIQ knows versions up to 1",
    );
    db.close();
  });
});
