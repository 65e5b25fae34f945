/**
 * Builds the store's bulk entity index (postings) over every row, as the batcher's maintenance does as it
 * goes: a store seeded through the writer alone has it all in the unindexed tail, which no live store has.
 */
import { StoreMaintenance } from "../../runtime/store/maintenance.ts";
import type { StoreWriter } from "../../runtime/store/writer.ts";

export function indexAll(store: StoreWriter): void {
  const maintenance = new StoreMaintenance(store, {
    rawDays: 3650,
    hourlyDays: 3650,
    dailyDays: 3650,
    maxBytes: Number.MAX_SAFE_INTEGER,
    rollupChunk: 50_000,
    unexportedHoldBytes: 0,
  });
  while (maintenance.indexStep() > 0);
}
