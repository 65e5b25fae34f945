/**
 * `GET /api/v1/events` (time range, entity or domain filter, cursor pagination, hard limit `api.pageMax`)
 * and `GET /api/v1/entities/:entity_id/history` (range + resolution; the store picks the tier; at most
 * `api.pageMax` points, then `truncated: true` and `nextFrom` to continue from). Both read
 * through the store reader's own SQLite connection, so they never wait behind the ingest writer (WAL).
 */

import { Elysia } from "elysia";
import type { ApiDeps } from "../deps.ts";
import { knownQuery } from "../fields.ts";
import { msTimes } from "../time-param.ts";
import { DEFAULT_EVENTS_PAGE, eventModels } from "./model.ts";
import { entityHistory, listEvents } from "./service.ts";

export function events(deps: Pick<ApiDeps, "store" | "config">, now: () => number) {
  const { EventsQuery, HistoryParams, HistoryQuery } = eventModels(deps.config.api.pageMax);
  const defaultLimit = Math.min(DEFAULT_EVENTS_PAGE, deps.config.api.pageMax);
  return new Elysia({ detail: { tags: ["events"] } })
    .get(
      "/api/v1/events",
      ({ query }) => listEvents(deps.store, { ...msTimes(query), limit: query.limit ?? defaultLimit }),
      {
        query: EventsQuery,
        beforeHandle: knownQuery(EventsQuery),
        detail: { summary: "Stored state changes, newest first; follow nextCursor for older pages" },
      },
    )
    .get(
      "/api/v1/entities/:entity_id/history",
      ({ params, query }) =>
        entityHistory(deps.store, params.entity_id, msTimes(query), now(), deps.config.api.pageMax),
      {
        params: HistoryParams,
        query: HistoryQuery,
        beforeHandle: knownQuery(HistoryQuery),
        detail: {
          summary:
            "An entity's history over a range; raw, hourly or daily tier; at most api.pageMax points, then truncated with nextFrom",
        },
      },
    );
}
