/** Query of the live stream. */
import { t } from "elysia";
import { fields } from "../fields.ts";

export const StreamQuery = t.Object({
  entity: t.Optional(fields.entityList("query.entity", "only these entities (comma-separated)")),
  domain: t.Optional(fields.domainList("query.domain", "only these domains (comma-separated)")),
  access_token: t.Optional(
    t.String({ description: "the API token, for EventSource clients that cannot send headers" }),
  ),
});
export type StreamQuery = typeof StreamQuery.static;
