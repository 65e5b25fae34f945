/**
 * Writes synthetic events into a real `events.db` through the store's own writer, for the insights tests
 * and benchmark. `rollUp` stands in for the store's rollup where a test needs the hourly tier.
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import type { StateChange } from "../../../runtime/events/messages.ts";
import type { InsightEvent } from "../../../runtime/store/insights/types.ts";
import { EVENTS_DB } from "../../../runtime/store/schema.ts";
import { markCaughtUp } from "../../../runtime/store/tail.ts";
import { openStoreWriter } from "../../../runtime/store/writer.ts";
import { indexAll } from "../store-index.ts";

export function toStateChange(e: InsightEvent): StateChange {
  const us = Math.round(e.ts * 1000);
  return {
    entity_id: e.entity_id,
    state: e.state,
    attributes: JSON.stringify(e.attributes ?? {}),
    last_changed: us,
    last_updated: us,
    context_id: e.context_id,
    context_parent_id: e.context_parent_id,
    context_user_id: e.context_user_id,
  };
}

/** Stores events (any order); throws if the writer refuses any. */
export function seedStore(dataDir: string, events: readonly InsightEvent[]): void {
  const writer = openStoreWriter(dataDir, { dictionaryCache: 100_000 });
  try {
    for (let i = 0; i < events.length; i += 10_000) {
      const r = writer.writeEvents(events.slice(i, i + 10_000).map(toStateChange));
      if (r.rejected.length) throw new Error(`seedStore: writer refused ${JSON.stringify(r.rejected[0])}`);
    }
    indexAll(writer);
  } finally {
    writer.close();
  }
}

/** Fills the hourly tier from the raw rows and sets the rollup cursor, as the store's rollup would. */
export function rollUp(dataDir: string): void {
  const db = new Database(join(dataDir, EVENTS_DB));
  try {
    const base = (db.query("SELECT value FROM meta WHERE key = 'base_us'").get() as { value: number }).value;
    db.run(
      `INSERT OR REPLACE INTO hourly (e, t, n, tn) SELECT e, (((id >> 16) + ${base}) / 3600000000) * 3600,
       sum(s IS NULL), sum(s IS NOT NULL) FROM events GROUP BY 1, 2`,
    );
    markCaughtUp(db, "rollup");
  } finally {
    db.close();
  }
}
