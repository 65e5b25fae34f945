/**
 * Opening SQLite databases the HomeIQ way (WAL, synchronous=NORMAL, busy timeout) and versioned schema
 * migrations on `PRAGMA user_version`. A data dir written by a newer HomeIQ is refused with a clear
 * message instead of being half-understood; migrations run in one transaction each, so a failed upgrade
 * changes nothing.
 */
import { Database } from "bun:sqlite";
import { privateFile } from "./private-files.ts";

export interface OpenOptions {
  readonly?: boolean;
  /** Milliseconds a connection waits for a lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

export function openDatabase(path: string, opts: OpenOptions = {}): Database {
  if (!opts.readonly) privateFile(path); // owner-only from the start; -wal and -shm take its mode
  const db = opts.readonly ? new Database(path, { readonly: true }) : new Database(path, { create: true });
  db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
  if (!opts.readonly) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
  }
  return db;
}

/** A migration is SQL text or a function run inside the migration's transaction. */
export type Migration = string | ((db: Database) => void);

export class SchemaTooNewError extends Error {
  constructor(
    readonly file: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `${file} has schema version ${found}, but this HomeIQ knows versions up to ${known}: it was written by a newer HomeIQ. Fix: run that newer version again, or restore a backup made by this version into an empty data dir.`,
    );
    this.name = "SchemaTooNewError";
  }
}

/** An upgrade step that failed; its transaction rolled back, so the database is as it was. */
export class MigrationError extends Error {
  constructor(
    readonly file: string,
    readonly from: number,
    readonly to: number,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    // An upgrade that rewrites a table needs room for a second copy of it until it commits (SQLITE_FULL).
    const fix = /disk is full|SQLITE_FULL/i.test(why)
      ? "free disk space (an upgrade that rewrites a table needs room for a second copy of it) and start again"
      : "start again; if it fails the same way, restore a backup into an empty data dir and report this message";
    super(
      `${file}: upgrading from schema version ${from} to ${to} failed, nothing was changed: ${why}. Fix: ${fix}.`,
      {
        cause,
      },
    );
    this.name = "MigrationError";
  }
}

/** The schema version a database is at. */
export function schemaVersion(db: Database): number {
  return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/**
 * Brings a database to the latest schema: migration i (0-based) takes it from version i to i+1.
 * Returns the versions before and after. Throws SchemaTooNewError for a newer database, and MigrationError
 * (naming the file, the step and the fix) when a step fails.
 */
export function migrate(
  db: Database,
  file: string,
  migrations: readonly Migration[],
): { from: number; to: number } {
  const from = schemaVersion(db);
  if (from > migrations.length) throw new SchemaTooNewError(file, from, migrations.length);
  for (let v = from; v < migrations.length; v++) {
    const step = migrations[v];
    try {
      db.transaction(() => {
        if (typeof step === "string") db.exec(step);
        else step(db);
        db.exec(`PRAGMA user_version = ${v + 1}`);
      })();
    } catch (error) {
      throw new MigrationError(file, v, v + 1, error);
    }
  }
  return { from, to: migrations.length };
}
