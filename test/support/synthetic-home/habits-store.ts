/** Writes a synthetic history into events.db through the store's own writer (tests and the benchmark). */
import type { StateChange } from "../../../runtime/events/messages.ts";
import { openStoreWriter } from "../../../runtime/store/writer.ts";
import { indexAll } from "../store-index.ts";
import { type SyntheticOptions, syntheticDays } from "./habits.ts";

const PARENT = "01JDZ5K3M8Q2W7XYZABCDEFGHJ";

/** Seeds `dataDir/events.db`; returns the number of events written. */
export function seedStore(dataDir: string, opts: SyntheticOptions, batch = 5000): number {
  const writer = openStoreWriter(dataDir, { dictionaryCache: 10_000 });
  let written = 0;
  const lastUs = new Map<string, number>();
  const attrText = new Map<Record<string, unknown>, string>();
  try {
    for (const day of syntheticDays(opts)) {
      const records: StateChange[] = [];
      for (const e of day) {
        // Keep (entity, last_updated) unique as Home Assistant does.
        let us = e.ts * 1000;
        const prev = lastUs.get(e.entity_id);
        if (prev !== undefined && us <= prev) us = prev + 1;
        lastUs.set(e.entity_id, us);
        let attributes = attrText.get(e.attributes);
        if (attributes === undefined) {
          attributes = JSON.stringify(e.attributes);
          attrText.set(e.attributes, attributes);
        }
        records.push({
          entity_id: e.entity_id,
          state: e.state,
          attributes,
          last_changed: us,
          last_updated: us,
          context_id: null,
          context_parent_id: e.automated ? PARENT : null,
          context_user_id: null,
        });
      }
      for (let i = 0; i < records.length; i += batch) {
        const result = writer.writeEvents(records.slice(i, i + batch));
        written += result.inserted.length;
      }
    }
    indexAll(writer);
  } finally {
    writer.close();
  }
  return written;
}
