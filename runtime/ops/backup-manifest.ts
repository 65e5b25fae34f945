/**
 * A backup's `manifest.json`: its shape, and the checks that make an untrusted one safe to act on.
 *
 * Restore writes every name the manifest lists under a staging dir, so each name must be a plain relative
 * name there: an allowlist (letters, digits, `.`, `_`, `-`; databases end in `.db`; state files may sit
 * one level down in `spool/`) refuses `..`, absolute paths, backslashes, NUL and everything else before
 * any path is built. Counts and sizes are capped so a crafted manifest cannot make us allocate at will.
 * Both caps are format limits, not tuning: `createBackup` refuses to write a backup past them, so every
 * backup HomeIQ writes can be restored by any HomeIQ that reads this format.
 */
import { resolve, sep } from "node:path";

export const BACKUP_FORMAT = "homeiq-backup";
export const BACKUP_FORMAT_VERSION = 1;
export const MANIFEST_NAME = "manifest.json";
/** Files one backup may list (databases + state files). 64 GiB of spool at the smallest segment is 1M. */
export const MANIFEST_ENTRIES_MAX = 100_000;
/** Bytes `manifest.json` may take (~200 bytes per entry at the entry cap, with room for table counts). */
export const MANIFEST_BYTES_MAX = 32 * 1024 * 1024;
/** Tables one database may list with row counts. */
const TABLES_MAX = 10_000;

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

/** A backup that cannot be trusted or read: what is wrong, where, and how to fix it. */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackupError";
  }
}

const FIX =
  "Fix: use an untouched backup made by `homeiq backup`; this one was damaged, tampered with, or not made by HomeIQ.";
const PLAIN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
/** Names the data dir uses for itself: the spool directory and the manifest. */
const RESERVED = new Set(["spool", MANIFEST_NAME]);

/**
 * Why `name` is not a safe member name of a backup (null when it is). `kind` "database" names a file of
 * the data dir ending in `.db`; "file" names a plain state file, or `spool/<plain name>`.
 */
export function memberNameProblem(name: string, kind: "database" | "file"): string | null {
  if (name === "") return "is empty";
  if (name.includes("\0")) return "contains a NUL byte";
  if (name.includes("\\")) return "contains a backslash";
  if (name.startsWith("/")) return "is an absolute path";
  if (name.split("/").some((part) => part === "..")) return 'climbs out of the data dir with ".."';
  if (Buffer.byteLength(name) > 100) return "is longer than a tar name may be (100 bytes)";
  const parts = name.split("/");
  const plain = parts.length === 1 || (kind === "file" && parts.length === 2 && parts[0] === "spool");
  const last = parts[parts.length - 1];
  if (!plain || !PLAIN.test(last))
    return kind === "database"
      ? "is not a plain file name ending in .db (letters, digits, '.', '_', '-'; not starting with '.')"
      : "is not a plain file name, or spool/ and one (letters, digits, '.', '_', '-'; not starting with '.')";
  if (kind === "database" && !last.endsWith(".db")) return "does not end in .db";
  if (parts.length === 1 && RESERVED.has(name)) return "is a name the data dir reserves";
  return null;
}

/** `root/name`, after checking that the result lies inside `root` (the allowlist's second line of defence). */
export function pathInside(root: string, name: string): string {
  const base = resolve(root);
  const out = resolve(base, name);
  if (!out.startsWith(base + sep))
    throw new BackupError(`${quote(name)} would be written outside ${base}. ${FIX}`);
  return out;
}

/** A value from the manifest, quoted for an error message and cut short. */
function quote(v: unknown): string {
  const text = JSON.stringify(v) ?? "missing";
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Parses and checks the manifest of backup `where` (named in errors). Throws a `BackupError` naming the
 * first field that is wrong; on success every listed name is safe and unique.
 */
export function parseManifest(bytes: Uint8Array, where: string): BackupManifest {
  const bad = (path: string, problem: string) =>
    new BackupError(`${where}: ${MANIFEST_NAME}${path ? ` ${path}` : ""} ${problem}. ${FIX}`);
  if (bytes.length > MANIFEST_BYTES_MAX) throw bad("", `is larger than ${MANIFEST_BYTES_MAX} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw bad("", `is not JSON (${(error as Error).message})`);
  }
  if (!isRecord(raw)) throw bad("", "is not a JSON object");
  if (raw.format !== BACKUP_FORMAT)
    throw new BackupError(`${where} is not a HomeIQ backup (format ${quote(raw.format)}). ${FIX}`);
  if (!isCount(raw.formatVersion) || raw.formatVersion < 1)
    throw bad("formatVersion", "is not a version number");
  if (raw.formatVersion > BACKUP_FORMAT_VERSION)
    throw new BackupError(
      `${where} was made by a newer HomeIQ (backup format ${raw.formatVersion}). Fix: restore it with that version.`,
    );
  if (typeof raw.createdAt !== "string" || raw.createdAt.length > 64)
    throw bad("createdAt", "is not a time stamp");
  const { databases, files } = raw;
  if (!Array.isArray(databases)) throw bad("databases", "is not a list");
  if (!Array.isArray(files)) throw bad("files", "is not a list");
  if (databases.length + files.length > MANIFEST_ENTRIES_MAX)
    throw bad("", `lists ${databases.length + files.length} files, more than ${MANIFEST_ENTRIES_MAX}`);
  const seen = new Set<string>();
  const entry = (item: unknown, path: string, kind: "database" | "file"): FileEntry => {
    if (!isRecord(item)) throw bad(path, "is not an object");
    const { file, bytes: size, sha256 } = item;
    if (typeof file !== "string") throw bad(`${path}.file`, "is not a string");
    const problem = memberNameProblem(file, kind);
    if (problem) throw bad(`${path}.file`, `${quote(file)} ${problem}`);
    if (seen.has(file)) throw bad(`${path}.file`, `${quote(file)} is listed twice`);
    seen.add(file);
    if (!isCount(size)) throw bad(`${path}.bytes`, "is not a byte count");
    if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256))
      throw bad(`${path}.sha256`, "is not a SHA-256 in hex");
    return { file, bytes: size, sha256 };
  };
  const dbs: DatabaseEntry[] = databases.map((item: unknown, i) => {
    const path = `databases[${i}]`;
    const base = entry(item, path, "database");
    const { schemaVersion, tables } = item as Record<string, unknown>;
    if (!isCount(schemaVersion)) throw bad(`${path}.schemaVersion`, "is not a version number");
    if (!isRecord(tables)) throw bad(`${path}.tables`, "is not an object of row counts");
    const names = Object.keys(tables);
    if (names.length > TABLES_MAX) throw bad(`${path}.tables`, `lists more than ${TABLES_MAX} tables`);
    for (const name of names)
      if (!isCount(tables[name])) throw bad(`${path}.tables[${quote(name)}]`, "is not a row count");
    // fromEntries defines own properties, so a table named "__proto__" stays a table name.
    return { ...base, schemaVersion, tables: Object.fromEntries(names.map((n) => [n, tables[n] as number])) };
  });
  const states = files.map((item: unknown, i) => entry(item, `files[${i}]`, "file"));
  return {
    format: BACKUP_FORMAT,
    formatVersion: raw.formatVersion,
    createdAt: raw.createdAt,
    databases: dbs,
    files: states,
  };
}
