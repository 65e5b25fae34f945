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
import { openDatabase, schemaVersion } from "../kernel/sqlite.ts";
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  BackupError,
  type BackupManifest,
  type DatabaseEntry,
  type FileEntry,
  MANIFEST_BYTES_MAX,
  MANIFEST_ENTRIES_MAX,
  MANIFEST_NAME,
  memberNameProblem,
  parseManifest,
  pathInside,
} from "./backup-manifest.ts";
import { extractEntry, listTar, readEntry, type TarEntry, TarWriter } from "./tar.ts";

export type { BackupManifest, DatabaseEntry, FileEntry } from "./backup-manifest.ts";
export { BACKUP_FORMAT, BACKUP_FORMAT_VERSION, BackupError } from "./backup-manifest.ts";

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
  const counts: Record<string, number> = Object.create(null); // a table may be named "__proto__"
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
  mkdirSync(dirname(outPath), { recursive: true, mode: 0o700 });
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
    for (const name of [...databases.map((d) => d.file), ...extra.map(([n]) => n)]) {
      const problem = memberNameProblem(name, "file");
      if (problem)
        throw new BackupError(
          `${join(dataDir, name)}: its name ${problem}, so a restore would refuse the backup. Fix: rename or remove that file and back up again.`,
        );
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
    // The same caps restore applies: a backup HomeIQ writes is always one it can restore.
    const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
    if (databases.length + files.length > MANIFEST_ENTRIES_MAX || manifestBytes.length > MANIFEST_BYTES_MAX)
      throw new BackupError(
        `${dataDir} holds ${databases.length + files.length} files to back up (${manifestBytes.length} bytes of manifest); a backup holds at most ${MANIFEST_ENTRIES_MAX} files and ${MANIFEST_BYTES_MAX} bytes of manifest. Fix: let the spool drain (or raise ha.spoolSegmentBytes) and back up again.`,
      );
    const partial = `${outPath}.partial`;
    const tar = new TarWriter(partial);
    tar.addBytes(MANIFEST_NAME, manifestBytes);
    for (const db of databases) tar.addFile(db.file, join(work, db.file));
    for (const [name, path] of extra) tar.addFile(name, path);
    tar.finish();
    renameSync(partial, outPath); // a backup file either exists whole or not at all
    return manifest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Lists the archive and checks everything about it that needs no extraction: the manifest comes first,
 * is small and well formed; every other entry is a regular file with a safe name, listed once in the
 * manifest with the same size. Throws a `BackupError` or `TarError`; content problems come later.
 */
function readManifest(file: string): { entries: Map<string, TarEntry>; manifest: BackupManifest } {
  const list = listTar(file, { maxEntries: MANIFEST_ENTRIES_MAX + 1 });
  const first = list[0];
  if (first?.name !== MANIFEST_NAME)
    throw new BackupError(
      `${file} is not a HomeIQ backup: it does not start with ${MANIFEST_NAME}. Fix: pass a file made by \`homeiq backup\`.`,
    );
  if (first.size > MANIFEST_BYTES_MAX)
    throw new BackupError(
      `${file}: ${MANIFEST_NAME} is ${first.size} bytes, more than the ${MANIFEST_BYTES_MAX} a backup's manifest may take. Fix: use an untouched backup made by \`homeiq backup\`.`,
    );
  const manifest = parseManifest(readEntry(file, first), file);
  const listed = new Set([...manifest.databases, ...manifest.files].map((item) => item.file));
  const entries = new Map<string, TarEntry>();
  for (const entry of list.slice(1)) {
    const refuse = (problem: string) =>
      new BackupError(
        `${file}: archive entry ${JSON.stringify(entry.name)} (byte ${entry.offset - 512}) ${problem}. Fix: use an untouched backup made by \`homeiq backup\`; this one was tampered with or not made by HomeIQ.`,
      );
    const problem = memberNameProblem(entry.name, "file"); // database names are a subset of these
    if (problem) throw refuse(problem);
    if (entries.has(entry.name)) throw refuse("appears twice in the archive");
    if (!listed.has(entry.name)) throw refuse("is not listed in the manifest");
    entries.set(entry.name, entry);
  }
  return { entries, manifest };
}

/** What is wrong with one extracted database: integrity, and row counts against the manifest. */
function databaseProblems(path: string, db: DatabaseEntry): string[] {
  const problems: string[] = [];
  let conn: Database | undefined;
  try {
    conn = new Database(path, { readonly: true });
    const check = (conn.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
    if (check !== "ok") problems.push(`${db.file}: integrity check failed: ${check}`);
    const counts = tableCounts(conn);
    for (const [table, n] of Object.entries(db.tables)) {
      if (counts[table] !== n)
        problems.push(
          `${db.file}: table ${JSON.stringify(table)} has ${counts[table] ?? 0} rows, the manifest says ${n}`,
        );
    }
  } catch (error) {
    // A file whose checksum matches but that SQLite cannot read was made to look like a database.
    problems.push(`${db.file}: SQLite cannot read it (${(error as Error).message})`);
  } finally {
    conn?.close();
  }
  return problems;
}

/**
 * Extracts a backup into `target` (a new dir inside a private staging dir) and verifies it: checksums of
 * exactly the bytes written, SQLite integrity, and row counts against the manifest. Every name was
 * checked by `readManifest` before this writes a byte. Returns the problems found (empty when good).
 */
function extractVerified(file: string, target: string): { manifest: BackupManifest; problems: string[] } {
  const { entries, manifest } = readManifest(file);
  const problems: string[] = [];
  mkdirSync(target, { mode: 0o700 });
  const damaged = new Set<string>();
  for (const item of [...manifest.databases, ...manifest.files]) {
    const entry = entries.get(item.file);
    if (!entry) {
      problems.push(`${item.file}: listed in the manifest but missing from the archive`);
      damaged.add(item.file);
      continue;
    }
    if (entry.size !== item.bytes) {
      problems.push(
        `${item.file}: holds ${entry.size} bytes, the manifest says ${item.bytes} (damaged backup)`,
      );
      damaged.add(item.file);
      continue;
    }
    const out = pathInside(target, item.file);
    if (item.file.includes("/")) mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
    if (extractEntry(file, entry, out) !== item.sha256) {
      problems.push(`${item.file}: checksum does not match the manifest (damaged backup)`);
      damaged.add(item.file);
    }
  }
  for (const db of manifest.databases) {
    if (!damaged.has(db.file)) problems.push(...databaseProblems(pathInside(target, db.file), db));
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
    throw new BackupError(
      `data dir ${dataDir} is not empty. Fix: restore into an empty or new directory (and point HOMEIQ_DATA_DIR at it); HomeIQ never overwrites a data dir.`,
    );
  }
  const parent = dirname(dataDir);
  mkdirSync(parent, { recursive: true });
  const staging = mkdtempSync(join(parent, `.${basename(dataDir)}-restoring-`));
  try {
    const { manifest, problems } = extractVerified(file, join(staging, "data"));
    if (problems.length)
      throw new BackupError(`backup ${file} failed verification:\n  - ${problems.join("\n  - ")}`);
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
