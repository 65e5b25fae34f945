/**
 * Online backup and verified restore of a whole data dir.
 *
 * A backup is one tar file: `manifest.json` first, then a consistent snapshot of every SQLite database
 * (`VACUUM INTO` from a read-only connection, so ingest keeps running and WAL readers see one point in
 * time), then the small state files (API token, spooled events). The manifest records each database's
 * schema version, row count per table and SHA-256, which restore checks before anything is put in place.
 */
import { Database } from "bun:sqlite";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { openDatabase, schemaVersion } from "../../runtime/sqlite.ts";
import { extractEntry, listTar, readEntry, TarWriter } from "./tar.ts";

export const BACKUP_FORMAT = "homeiq-backup";
export const BACKUP_FORMAT_VERSION = 1;

export interface DatabaseEntry {
  file: string;
  schemaVersion: number;
  tables: Record<string, number>;
  bytes: number;
  sha256: string;
}
export interface FileEntry {
  file: string;
  bytes: number;
  sha256: string;
}
export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  formatVersion: number;
  createdAt: string;
  databases: DatabaseEntry[];
  files: FileEntry[];
}

/** State files kept beside the databases that a restore needs. */
const STATE_FILES = ["api-token"];

function sha256File(path: string): string {
  const hasher = new Bun.CryptoHasher("sha256");
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, pos);
      if (n <= 0) break;
      hasher.update(buffer.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return hasher.digest("hex");
}

function tableCounts(db: Database): Record<string, number> {
  const tables = db
    .query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all() as { name: string }[];
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    counts[name] = (
      db.query(`SELECT count(*) AS n FROM "${name.replace(/"/g, '""')}"`).get() as { n: number }
    ).n;
  }
  return counts;
}

function databasesIn(dataDir: string): string[] {
  return readdirSync(dataDir)
    .filter((f) => f.endsWith(".db"))
    .sort();
}

/** Snapshot every database of `dataDir` into one backup file at `outPath`. Safe while HomeIQ runs. */
export function createBackup(dataDir: string, outPath: string): BackupManifest {
  if (!existsSync(dataDir))
    throw new Error(
      `data dir ${dataDir} does not exist. Fix: pass the data dir HomeIQ uses (HOMEIQ_DATA_DIR).`,
    );
  mkdirSync(dirname(outPath), { recursive: true });
  const work = mkdtempSync(join(dirname(outPath), ".backup-"));
  try {
    const databases: DatabaseEntry[] = [];
    for (const file of databasesIn(dataDir)) {
      const snapshot = join(work, file);
      const source = openDatabase(join(dataDir, file), { readonly: true });
      try {
        source.exec(`VACUUM INTO '${snapshot.replace(/'/g, "''")}'`);
      } finally {
        source.close();
      }
      const copy = new Database(snapshot, { readonly: true });
      try {
        databases.push({
          file,
          schemaVersion: schemaVersion(copy),
          tables: tableCounts(copy),
          bytes: statSync(snapshot).size,
          sha256: sha256File(snapshot),
        });
      } finally {
        copy.close();
      }
    }
    const files: FileEntry[] = [];
    const extra: [string, string][] = [];
    for (const name of STATE_FILES) {
      const path = join(dataDir, name);
      if (existsSync(path)) extra.push([name, path]);
    }
    const spool = join(dataDir, "spool");
    if (existsSync(spool)) {
      for (const f of readdirSync(spool).sort()) {
        if (statSync(join(spool, f)).isFile()) extra.push([`spool/${f}`, join(spool, f)]);
      }
    }
    for (const [name, path] of extra)
      files.push({ file: name, bytes: statSync(path).size, sha256: sha256File(path) });

    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      formatVersion: BACKUP_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      databases,
      files,
    };
    const partial = `${outPath}.partial`;
    const tar = new TarWriter(partial);
    tar.addBytes("manifest.json", Buffer.from(JSON.stringify(manifest, null, 2)));
    for (const db of databases) tar.addFile(db.file, join(work, db.file));
    for (const [name, path] of extra) tar.addFile(name, path);
    tar.finish();
    renameSync(partial, outPath); // a backup file either exists whole or not at all
    return manifest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function readManifest(file: string) {
  const entries = listTar(file);
  const first = entries[0];
  if (first?.name !== "manifest.json")
    throw new Error(`${file} is not a HomeIQ backup: it does not start with manifest.json`);
  const manifest = JSON.parse(readEntry(file, first).toString("utf8")) as BackupManifest;
  if (manifest.format !== BACKUP_FORMAT)
    throw new Error(`${file} is not a HomeIQ backup (format ${String(manifest.format)})`);
  if (manifest.formatVersion > BACKUP_FORMAT_VERSION)
    throw new Error(
      `${file} was made by a newer HomeIQ (backup format ${manifest.formatVersion}). Fix: restore it with that version.`,
    );
  return { entries, manifest };
}

/**
 * Extracts a backup into `target` (which must not exist) and verifies it: checksums, SQLite integrity,
 * and row counts against the manifest. Returns the problems found (empty when the backup is good).
 */
function extractVerified(file: string, target: string): { manifest: BackupManifest; problems: string[] } {
  const { entries, manifest } = readManifest(file);
  const problems: string[] = [];
  mkdirSync(target, { recursive: true, mode: 0o700 });
  const byName = new Map(entries.map((e) => [e.name, e]));
  const damaged = new Set<string>();
  const expected: { file: string; sha256: string }[] = [...manifest.databases, ...manifest.files];
  for (const item of expected) {
    const entry = byName.get(item.file);
    if (!entry) {
      problems.push(`${item.file}: listed in the manifest but missing from the archive`);
      continue;
    }
    const out = join(target, item.file);
    mkdirSync(dirname(out), { recursive: true });
    extractEntry(file, entry, out);
    if (sha256File(out) !== item.sha256) {
      problems.push(`${item.file}: checksum does not match the manifest (damaged backup)`);
      damaged.add(item.file);
    }
  }
  for (const db of manifest.databases) {
    const path = join(target, db.file);
    if (!existsSync(path) || damaged.has(db.file)) continue;
    const conn = new Database(path, { readonly: true });
    try {
      const check = (conn.query("PRAGMA integrity_check").get() as { integrity_check: string })
        .integrity_check;
      if (check !== "ok") problems.push(`${db.file}: integrity check failed: ${check}`);
      const counts = tableCounts(conn);
      for (const [table, n] of Object.entries(db.tables)) {
        if (counts[table] !== n)
          problems.push(`${db.file}: table ${table} has ${counts[table] ?? 0} rows, the manifest says ${n}`);
      }
    } finally {
      conn.close();
    }
  }
  return { manifest, problems };
}

/** Checks a backup without restoring it. */
export function verifyBackup(file: string): { manifest: BackupManifest; problems: string[] } {
  const scratch = mkdtempSync(join(dirname(file), ".verify-"));
  try {
    return extractVerified(file, join(scratch, "data"));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Restores a backup into an empty (or missing) data dir, after verifying it completely; on any problem
 * nothing is left behind and the error lists what is wrong.
 */
export function restoreBackup(file: string, dataDir: string): BackupManifest {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new Error(
      `data dir ${dataDir} is not empty. Fix: restore into an empty or new directory (and point HOMEIQ_DATA_DIR at it); HomeIQ never overwrites a data dir.`,
    );
  }
  const parent = dirname(dataDir);
  mkdirSync(parent, { recursive: true });
  const staging = mkdtempSync(join(parent, `.${basename(dataDir)}-restoring-`));
  try {
    const { manifest, problems } = extractVerified(file, join(staging, "data"));
    if (problems.length)
      throw new Error(`backup ${file} failed verification:\n  - ${problems.join("\n  - ")}`);
    if (existsSync(dataDir)) rmSync(dataDir, { recursive: true });
    renameSync(join(staging, "data"), dataDir);
    return manifest;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Deletes the oldest `homeiq-*.tar` backups in `dir` beyond `keep`; returns the deleted names. */
export function pruneBackups(dir: string, keep: number): string[] {
  if (!existsSync(dir)) return [];
  const backups = readdirSync(dir)
    .filter((f) => /^homeiq-.*\.tar$/.test(f))
    .sort();
  const doomed = backups.slice(0, Math.max(0, backups.length - keep));
  for (const f of doomed) rmSync(join(dir, f));
  return doomed;
}

/** `homeiq-2026-11-25T14-05-00-123Z.tar`: sorts by time, safe on every filesystem. */
export function backupFileName(now = new Date()): string {
  return `homeiq-${now.toISOString().replace(/[:.]/g, "-")}.tar`;
}
