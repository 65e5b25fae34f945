/** Queries of the stored-events endpoints. */
import { t } from "elysia";
import { fields } from "../fields.ts";

export const DEFAULT_EVENTS_PAGE = 100;
export const DEFAULT_HISTORY_MS = 24 * 3600 * 1000;

export function eventModels(pageMax: number) {
  return {
    EventsQuery: t.Object({
      from: t.Optional(fields.time("query.from", "oldest event time, inclusive")),
      to: t.Optional(fields.time("query.to", "newest event time, exclusive")),
      entity_id: t.Optional(fields.entityList("query.entity_id", "only these entities (comma-separated)")),
      domain: t.Optional(fields.domain("query.domain", "only entities of this domain, e.g. light")),
      cursor: t.Optional(fields.cursor("query.cursor")),
      limit: t.Optional(
        fields.int("query.limit", 1, pageMax, "events per page", Math.min(DEFAULT_EVENTS_PAGE, pageMax)),
      ),
    }),
    HistoryParams: t.Object({ entity_id: fields.entityId("params.entity_id") }),
    HistoryQuery: t.Object({
      from: t.Optional(fields.time("query.from", "start of the range (default: 24 hours before to)")),
      to: t.Optional(fields.time("query.to", "end of the range (default: now)")),
      resolution: t.Optional(
        fields.oneOf(
          "query.resolution",
          ["auto", "raw", "hourly", "daily"],
          "tier to read; auto picks by range",
        ),
      ),
    }),
  };
}
