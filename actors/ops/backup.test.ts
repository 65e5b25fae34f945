import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { migrate, openDatabase } from "../../runtime/sqlite.ts";
import { tempDirs } from "../../test/lib/temp-dirs.ts";
import { backupFileName, createBackup, pruneBackups, restoreBackup, verifyBackup } from "./backup.ts";
import { listTar } from "./tar.ts";

const tempDir = tempDirs("homeiq-backup-");

function seededDataDir() {
  const root = tempDir();
  const dataDir = join(root, "data");
  mkdirSync(dataDir);
  const events = openDatabase(join(dataDir, "events.db"));
  migrate(events, "events.db", ["CREATE TABLE events (ts INTEGER, v INTEGER)"]);
  events.exec(
    "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000) INSERT INTO events SELECT i, i FROM s",
  );
  events.close();
  const meta = openDatabase(join(dataDir, "metadata.db"));
  meta.exec("CREATE TABLE areas (id TEXT); INSERT INTO areas VALUES ('kitchen'), ('hall')");
  meta.close();
  writeFileSync(join(dataDir, "api-token"), "t".repeat(32), { mode: 0o600 });
  return { root, dataDir };
}

describe("backup and restore", () => {
  test("an online backup taken while a writer inserts restores to exactly what its manifest recorded", async () => {
    const { root, dataDir } = seededDataDir();
    const writer = new Worker(new URL("./fixtures/busy-writer.ts", import.meta.url).href);
    await new Promise<void>((resolve) => {
      writer.onmessage = () => resolve();
      writer.postMessage({ path: join(dataDir, "events.db") });
    });
    const file = join(root, "backups", backupFileName());
    const manifest = createBackup(dataDir, file);
    const stopped = new Promise<{ inserted: number }>((resolve) => {
      writer.onmessage = (e) => resolve(e.data);
    });
    writer.postMessage("stop");
    const { inserted } = await stopped;
    writer.terminate();

    const snapshotRows = manifest.databases.find((d) => d.file === "events.db")!.tables.events;
    expect(snapshotRows).toBeGreaterThanOrEqual(1500); // seeded 1000 + at least one writer batch
    expect(snapshotRows).toBeLessThanOrEqual(1000 + inserted);
    expect(manifest.databases.map((d) => [d.file, d.schemaVersion])).toEqual([
      ["events.db", 1],
      ["metadata.db", 0],
    ]);
    expect(listTar(file).map((e) => e.name)).toEqual([
      "manifest.json",
      "events.db",
      "metadata.db",
      "api-token",
    ]);

    const target = join(root, "restored");
    restoreBackup(file, target);
    const db = openDatabase(join(target, "events.db"), { readonly: true });
    expect((db.query("SELECT count(*) AS n FROM events").get() as { n: number }).n).toBe(snapshotRows);
    db.close();
    expect(readFileSync(join(target, "api-token"), "utf8")).toBe("t".repeat(32));
  });

  test("restore refuses a data dir that is not empty and leaves it untouched", () => {
    const { root, dataDir } = seededDataDir();
    const file = join(root, "b.tar");
    createBackup(dataDir, file);
    expect(() => restoreBackup(file, dataDir)).toThrow(`data dir ${dataDir} is not empty`);
    expect(readdirSync(dataDir).sort()).toEqual(
      [
        "api-token",
        "events.db",
        "events.db-shm",
        "events.db-wal",
        "metadata.db",
        "metadata.db-shm",
        "metadata.db-wal",
      ].filter((f) => existsSync(join(dataDir, f))),
    );
  });

  test("a damaged backup fails verification and restores nothing", () => {
    const { root, dataDir } = seededDataDir();
    const file = join(root, "b.tar");
    createBackup(dataDir, file);
    const bytes = readFileSync(file);
    const entry = listTar(file).find((e) => e.name === "metadata.db")!;
    bytes[entry.offset + entry.size - 10] ^= 0xff;
    writeFileSync(file, bytes);
    expect(verifyBackup(file).problems).toEqual([
      "metadata.db: checksum does not match the manifest (damaged backup)",
    ]);
    const target = join(root, "restored");
    expect(() => restoreBackup(file, target)).toThrow("failed verification");
    expect(existsSync(target)).toBe(false);
  });

  test("something that is not a backup is refused with a clear message", () => {
    const root = tempDir();
    const file = join(root, "x.tar");
    writeFileSync(file, "hello");
    expect(() => verifyBackup(file)).toThrow("truncated");
    writeFileSync(file, Buffer.alloc(2048, 1));
    expect(() => verifyBackup(file)).toThrow("is not a HomeIQ backup");
  });

  test("pruning keeps the newest backups", () => {
    const root = tempDir();
    const names = [0, 1, 2, 3].map((i) => backupFileName(new Date(Date.UTC(2026, 0, 1 + i))));
    for (const n of names) writeFileSync(join(root, n), "x");
    expect(pruneBackups(root, 2)).toEqual(names.slice(0, 2));
    expect(readdirSync(root).sort()).toEqual(names.slice(2));
  });
});
