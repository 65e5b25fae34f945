/**
 * Temporary directories for tests, removed after the test that made them (even a failed one).
 */
import { afterEach } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Temporary directories for one test file: each is removed after the test that made it.
 *
 * Call it at the file's top level: it registers the `afterEach` that removes them. Bun runs `afterEach`
 * hooks in the order they were registered, so a hook registered before this call (closing a database
 * that lives in one of the directories, say) runs before the directories are removed.
 *
 * @example
 * const tempDir = tempDirs("homeiq-backup-");
 * test("a backup restores", () => {
 *   const dataDir = tempDir();
 *   // …
 * });
 */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}
