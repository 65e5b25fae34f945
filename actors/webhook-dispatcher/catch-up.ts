/**
 * Catch-up after a crash: state changes the batcher stored but the dispatcher never evaluated (they were in
 * a mailbox when the whole process died) are read back from events.db, oldest first. The dispatcher keeps a
 * watermark (newest last_updated evaluated); everything stored after it is new to the rules, and per-entity
 * "last evaluated change" makes any overlap harmless.
 */
import type { StateChange } from "../../runtime/events/messages.ts";
import { openStoreReader, type StoredEvent } from "../../runtime/store/index.ts";
import { storeExists } from "../../runtime/store/probe.ts";

const PAGE = 1000;

/** The store's read API gives times in (fractional) ms; state changes carry µs, as HA stamps them. */
export const toStateChange = (e: StoredEvent): StateChange => ({
  entity_id: e.entity_id,
  state: e.state,
  attributes: JSON.stringify(e.attributes),
  last_changed: Math.round(e.last_changed * 1000),
  last_updated: Math.round(e.ts * 1000),
  context_id: e.context_id,
  context_parent_id: e.context_parent_id,
  context_user_id: e.context_user_id,
});

/**
 * Stored changes with last_updated >= `fromUs`, oldest first, in batches; at most the newest `max` (older
 * ones past it are not read, and `truncated` says so). Reads nothing when events.db does not exist yet.
 */
export function storedSince(
  dataDir: string,
  fromUs: number,
  max: number,
): { batches: StateChange[][]; truncated: boolean } {
  if (max === 0 || !storeExists(dataDir)) return { batches: [], truncated: false };
  const reader = openStoreReader(dataDir);
  try {
    const newestFirst: StoredEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = reader.events({ from: fromUs / 1000, limit: PAGE, cursor });
      newestFirst.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && newestFirst.length < max);
    const kept = newestFirst.slice(0, max).reverse();
    const batches: StateChange[][] = [];
    for (let i = 0; i < kept.length; i += PAGE) batches.push(kept.slice(i, i + PAGE).map(toStateChange));
    return { batches, truncated: newestFirst.length > max || cursor !== undefined };
  } finally {
    reader.close();
  }
}
