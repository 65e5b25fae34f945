/** Queries of the insights endpoints; every field names itself in its 400 (see ../fields.ts). */
import { t } from "elysia";
import { fields } from "../fields.ts";

/** A field's own error (errors.ts turns it into `{ field, expected }`). */
const err = (field: string, expected: string) => () => ({ field, expected });

export const DEFAULT_SEARCH_PAGE = 50;
export const DEFAULT_SEARCH_SPAN_MS = 7 * 86400_000;
/** The first value is the default (an optional union query field takes its first member when absent). */
export const STATS_WINDOW_NAMES = ["24h", "1h", "7d", "30d"] as const;
export const HEALTH_STATUSES = ["all", "unavailable", "unknown", "stale", "flapping", "low_battery"] as const;

export function insightsModels(pageMax: number) {
  const limit = (def: number) =>
    t.Optional(fields.int("query.limit", 1, pageMax, "items per page", Math.min(def, pageMax)));
  return {
    SearchQuery: t.Object({
      q: t.String({
        minLength: 1,
        maxLength: 200,
        description:
          'terms that must all occur in the entity id, friendly name or state; "quoted phrase" allowed',
        error: err("query.q", "1 to 200 characters of search terms, e.g. kitchen on"),
      }),
      from: t.Optional(fields.time("query.from", "oldest event time, inclusive (default: 7 days before to)")),
      to: t.Optional(fields.time("query.to", "newest event time, exclusive (default: now)")),
      domain: t.Optional(fields.domain("query.domain", "only entities of this domain, e.g. light")),
      cursor: t.Optional(fields.cursor("query.cursor")),
      limit: limit(DEFAULT_SEARCH_PAGE),
    }),
    StatsQuery: t.Object({
      window: t.Optional(
        fields.oneOf(
          "query.window",
          STATS_WINDOW_NAMES,
          "span of the stats (default 24h); the chart's bucket follows it",
        ),
      ),
    }),
    TraceParams: t.Object({
      event_id: t.String({
        pattern: "^-?[0-9]{1,19}$",
        description: "an event id as returned by the search endpoint",
        error: err("params.event_id", "an event id (digits) from /api/v1/insights/search"),
      }),
    }),
    TraceQuery: t.Object({
      entity_id: fields.entityId("query.entity_id"),
      ts: fields.time("query.ts", "the event at or before this time is traced"),
    }),
    HealthQuery: t.Object({
      status: t.Optional(
        fields.oneOf("query.status", HEALTH_STATUSES, "only entities with this status (default all)"),
      ),
      cursor: t.Optional(
        t.String({
          pattern: "^[0-9]{1,9}$",
          description: "nextCursor of the previous page",
          error: err("query.cursor", "the nextCursor value of a previous page"),
        }),
      ),
      limit: limit(100),
    }),
    EnergyQuery: t.Object({ limit: limit(50) }),
  };
}
