/**
 * The metadata actor's inbound messages (edge `connection->metadata`, retained, so handlers are idempotent):
 * full registry lists as HA returns them (`config/*_registry/list`), entity renames, and HA's core config.
 */
import { type Static, Type as T } from "@sinclair/typebox";
import { messageChecker } from "../../runtime/kernel/schema.ts";

export const RegistryKindSchema = T.Union([T.Literal("areas"), T.Literal("devices"), T.Literal("entities")]);
export type RegistryKind = Static<typeof RegistryKindSchema>;

export const metadataSchemas = {
  /** A whole registry list: rows not in it are removed (HA removed them). */
  registry: T.Object({
    type: T.Literal("registry"),
    kind: RegistryKindSchema,
    items: T.Array(T.Record(T.String(), T.Unknown()), { maxItems: 1_000_000 }),
  }),
  /** `entity_registry_updated` with a changed entity_id: history under `from` now belongs to `to`. */
  rename: T.Object({
    type: T.Literal("rename"),
    from: T.String({ minLength: 3 }),
    to: T.String({ minLength: 3 }),
    /** When the rename was seen (ms). */
    at: T.Number(),
  }),
  /** HA's `get_config` result (location, units, time zone, version). */
  ha_config: T.Object({ type: T.Literal("ha_config"), config: T.Record(T.String(), T.Unknown()) }),
};

export type MetadataMessage =
  | { type: "registry"; kind: RegistryKind; items: Record<string, unknown>[] }
  | { type: "rename"; from: string; to: string; at: number }
  | { type: "ha_config"; config: Record<string, unknown> };

export const metadataMessage = {
  registry: (kind: RegistryKind, items: Record<string, unknown>[]): MetadataMessage => ({
    type: "registry",
    kind,
    items,
  }),
  rename: (from: string, to: string, at: number): MetadataMessage => ({ type: "rename", from, to, at }),
  haConfig: (config: Record<string, unknown>): MetadataMessage => ({ type: "ha_config", config }),
};

export const check = messageChecker("metadata", metadataSchemas);
