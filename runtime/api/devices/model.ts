/** Queries of the device and entity registry endpoints. */
import { t } from "elysia";
import { fields } from "../fields.ts";

/** Rows per page when the caller does not say. */
export const DEFAULT_PAGE = 100;

export function deviceModels(pageMax: number) {
  const limit = fields.int("query.limit", 1, pageMax, "rows per page", Math.min(DEFAULT_PAGE, pageMax));
  return {
    DevicesQuery: t.Object({
      area: t.Optional(fields.text("query.area", "only devices in this area (area id)")),
      q: t.Optional(fields.text("query.q", "text search over name, manufacturer and model")),
      cursor: t.Optional(fields.cursor("query.cursor")),
      limit: t.Optional(limit),
    }),
    EntitiesQuery: t.Object({
      domain: t.Optional(fields.domain("query.domain", "only this domain, e.g. light")),
      area: t.Optional(fields.text("query.area", "only entities in this area (area id)")),
      q: t.Optional(fields.text("query.q", "text search over entity id and name")),
      cursor: t.Optional(fields.cursor("query.cursor")),
      limit: t.Optional(limit),
    }),
    EntityParams: t.Object({ entity_id: fields.entityId("params.entity_id") }),
  };
}
