/**
 * Questions about `events.db` for callers outside the store that need one answer, not a reader: whether
 * there is a store yet (a reader would create it), and the newest stored update time.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStoreReader } from "./reader.ts";
import { EVENTS_DB } from "./schema.ts";

/** Whether `events.db` exists under `dataDir` (the batcher creates it at start). */
export function storeExists(dataDir: string): boolean {
  return existsSync(join(dataDir, EVENTS_DB));
}

/**
 * The last_updated (µs) of the newest stored event (the connection backfills HA's history from here after
 * a restart). Opens and closes its own read connection; null when there is no store yet or it is empty.
 * Throws what SQLite throws (a damaged file): the caller decides whether that stops it.
 */
export function newestStoredUpdateUs(dataDir: string): number | null {
  if (!storeExists(dataDir)) return null;
  const reader = openStoreReader(dataDir);
  try {
    return reader.newestUpdateUs();
  } finally {
    reader.close();
  }
}
