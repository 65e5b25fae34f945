/**
 * Files only HomeIQ's own user may read. The data dir holds the whole HA history (events.db), every
 * webhook's HMAC secret (webhooks.db), the API token and spooled events, so it is 0700 and what lies in
 * it 0600, whatever the umask. Loose modes left by an older HomeIQ are tightened, never loosened.
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  statSync,
} from "node:fs";
import { join } from "node:path";

/** The umask HomeIQ's processes run with: nothing they create is readable by group or others. */
export const PRIVATE_UMASK = 0o077;

/** Creates `dir` (and missing parents) as 0700, or tightens it to 0700 if group or others have access. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { mode } = statSync(dir);
  if ((mode & 0o077) !== 0) chmodSync(dir, mode & 0o700);
}

/**
 * Makes sure `path` exists as a 0600 file (created empty if missing, tightened if loose), so a database
 * opened on it next (SQLite gives its -wal and -shm files the database file's mode) is never readable by
 * others, not even for the moment between creating and a later chmod.
 */
export function privateFile(path: string): void {
  const fd = openSync(path, "a", 0o600);
  try {
    const { mode } = fstatSync(fd);
    if ((mode & 0o077) !== 0) fchmodSync(fd, mode & 0o700);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates the data dir as 0700, or tightens one made by an older HomeIQ (0755, files 0644): the dir, and
 * the files and directories in it and one level down (spool/, backups/) lose their group and other bits.
 * Symbolic links inside it are left alone (a backup dir may point to another disk). Returns what changed.
 */
export function privateDataDir(dir: string): string[] {
  const changed: string[] = [];
  const walk = (path: string, depth: number) => {
    // The data dir itself may be a link to where the data lives; links inside it are not followed.
    const stat = depth === 0 ? statSync(path) : lstatSync(path, { throwIfNoEntry: false });
    if (!stat || !(stat.isDirectory() || stat.isFile())) return;
    if ((stat.mode & 0o077) !== 0) {
      chmodSync(path, stat.mode & 0o700);
      changed.push(path);
    }
    if (stat.isDirectory() && depth < 2)
      for (const name of readdirSync(path)) walk(join(path, name), depth + 1);
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  walk(dir, 0);
  return changed;
}
