/**
 * The entity key space (16 bits, see schema.ts `ENTITY_BITS`): when it is full, a new entity's events are
 * refused alone and counted; the store never throws inside a batch, so other entities keep being stored.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { importKeyCeiling } from "../../actors/batcher/logic.ts";
import { change, fillEntityKeys } from "../../test/support/entity-keys.ts";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { MAX_ENTITY_KEY } from "./schema.ts";
import { openStoreWriter, type StoreWriter } from "./writer.ts";

const writers: StoreWriter[] = [];
afterEach(() => {
  for (const w of writers.splice(0)) w.close();
});
/** After the hook above: writers close before their directories go. */
const tempDir = tempDirs("homeiq-keys-");
const open = () => {
  const w = openStoreWriter(tempDir(), { dictionaryCache: 100 });
  writers.push(w);
  return w;
};

describe("entity key space", () => {
  test("when it is full, a new entity's events are refused and counted, and known entities in the same batch are stored", () => {
    const w = open();
    fillEntityKeys(w, MAX_ENTITY_KEY - 1);
    const batch = [
      change("sensor.fill_7", 1),
      change("sensor.last_one", 2), // takes the last key
      change("sensor.too_many", 3), // none left
      change("sensor.fill_65000", 4),
      change("sensor.too_many", 5),
      change("sensor.last_one", 6),
    ];
    const result = w.writeEvents(batch);
    expect(result.inserted).toEqual([0, 1, 3, 5]);
    expect(result.keysRefused).toBe(2);
    expect(result.rejected.map((r) => [r.index, r.entity_id])).toEqual([
      [2, "sensor.too_many"],
      [4, "sensor.too_many"],
    ]);
    expect(result.rejected[0].error).toContain("entity key space is full (65535 entities ever seen)");
    expect(w.entityKeysUsed()).toBe(MAX_ENTITY_KEY);
    expect(w.knowsEntity("sensor.too_many")).toBe(false);
    // And again later: still no throw, still refused alone.
    const again = w.writeEvents([change("sensor.too_many", 7), change("sensor.fill_1", 8)]);
    expect([again.inserted, again.keysRefused]).toEqual([[1], 1]);
  });

  test("imports stop short of the reserve kept for live entities; live ingest may still use it", () => {
    const w = open();
    const ceiling = importKeyCeiling(MAX_ENTITY_KEY, 100);
    fillEntityKeys(w, ceiling - 1);
    const imported = w.writeEvents(
      [change("sensor.imp_a", 1), change("sensor.imp_b", 2), change("sensor.fill_3", 3)],
      0,
      undefined,
      { newKeyCeiling: ceiling },
    );
    expect(imported.inserted).toEqual([0, 2]);
    expect(imported.keysRefused).toBe(1);
    expect(imported.rejected[0].error).toContain("no entity key left for imports");
    expect(imported.rejected[0].error).toContain("the last 100 are kept for the home's live entities");
    const live = w.writeEvents([change("sensor.imp_b", 2), change("sensor.new_live", 3)]);
    expect([live.inserted, live.keysRefused]).toEqual([[0, 1], 0]);
    expect(w.entityKeysUsed()).toBe(ceiling + 2);
  });
});
