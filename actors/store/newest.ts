/**
 * "Newest stored": the last_updated (µs) of the newest event in `events.db`, for a caller outside the
 * store that only needs this one figure (the connection backfills HA's history from here after a
 * restart). Opens and closes its own read connection; null when there is no store yet or it is empty.
 * Throws what SQLite throws (a damaged file): the caller decides whether that stops it.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openStoreReader } from "./reader.ts";
import { EVENTS_DB } from "./schema.ts";

export function newestStoredUpdateUs(dataDir: string): number | null {
  if (!existsSync(join(dataDir, EVENTS_DB))) return null;
  const reader = openStoreReader(dataDir);
  try {
    return reader.newestUpdateUs();
  } finally {
    reader.close();
  }
}
