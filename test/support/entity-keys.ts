/** Test helper: a store whose entity key space is (nearly) used up, as years of new entities would leave it. */
import type { StateChange } from "../../runtime/events/messages.ts";
import type { StoreWriter } from "../../runtime/store/writer.ts";

const T0 = Date.now() * 1000 - 3_600_000_000;

/** The i-th change of `entity`, an hour ago plus i µs: distinct keys, no context. */
export const change = (entity: string, i: number): StateChange => ({
  entity_id: entity,
  state: String(i),
  attributes: "{}",
  last_changed: T0 + i,
  last_updated: T0 + i,
  context_id: null,
  context_parent_id: null,
  context_user_id: null,
});

/** Gives out entity keys 1..n at once, named sensor.fill_<key>. */
export function fillEntityKeys(writer: StoreWriter, n: number): void {
  writer.db.run(
    `WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ${n})
     INSERT INTO entities (e, entity_id, stable_id) SELECT i, 'sensor.fill_' || i, 'sensor.fill_' || i FROM k`,
  );
  writer.db.run("INSERT INTO entity_names (name, e) SELECT entity_id, e FROM entities");
}
