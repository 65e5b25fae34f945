/**
 * `/api/v1/insights/*`: answers about the stored history.
 * - `GET /search?q=&from=&to=&domain=&cursor=&limit=` — events whose entity id, friendly name or state hold
 *   every term, newest first; each page scans at most `insights.searchScanRows` rows and gives a cursor.
 * - `GET /stats?window=1h|24h|7d|30d` — counts per domain and entity, the busiest entities, a series for charts.
 * - `GET /trace/:event_id`, `GET /trace?entity_id=&ts=` — what caused an event and what it caused.
 * - `GET /energy?limit=` — power step per device with confidence and samples, shares, standby load.
 * - `GET /health?status=&cursor=&limit=` — unavailable/unknown, stale, flapping, low-battery entities.
 */
import { Elysia } from "elysia";
import type { ApiDeps } from "../deps.ts";
import { msTimes, timeMs } from "../time-param.ts";
import { insightsModels } from "./model.ts";
import { InsightsService, type InsightsServiceDeps } from "./service.ts";

export function insightsPlugin(
  deps: Pick<ApiDeps, "config" | "supervisor"> &
    Partial<Pick<ApiDeps, "metadata">> &
    Pick<InsightsServiceDeps, "insights">,
  now: () => number = Date.now,
) {
  const service = new InsightsService(deps, now);
  const m = insightsModels(deps.config.api.pageMax);
  return new Elysia({ name: "homeiq/insights", detail: { tags: ["insights"] } })
    .get(
      "/api/v1/insights/search",
      ({ query }) => service.search({ ...msTimes(query), limit: query.limit ?? 50 }),
      {
        query: m.SearchQuery,
        detail: { summary: "Search events by entity id, friendly name and state; newest first, paged" },
      },
    )
    .get("/api/v1/insights/stats", ({ query }) => service.stats(query.window ?? "24h"), {
      query: m.StatsQuery,
      detail: { summary: "Event counts per domain, entity and time bucket over 1h, 24h, 7d or 30d" },
    })
    .get("/api/v1/insights/trace/:event_id", ({ params }) => service.trace({ id: params.event_id }), {
      params: m.TraceParams,
      detail: { summary: "An event's causes (user, automation, state change) and effects, by event id" },
    })
    .get(
      "/api/v1/insights/trace",
      ({ query }) => service.trace({ entityId: query.entity_id, ts: timeMs(query.ts) }),
      {
        query: m.TraceQuery,
        detail: { summary: "The trace of an entity's event at or before a time" },
      },
    )
    .get("/api/v1/insights/energy", ({ query }) => service.energy({ limit: query.limit ?? 50 }), {
      query: m.EnergyQuery,
      detail: { summary: "Power step per device (median, confidence, samples), energy share, standby load" },
    })
    .get("/api/v1/insights/health", ({ query }) => service.health({ ...query, limit: query.limit ?? 100 }), {
      query: m.HealthQuery,
      detail: {
        summary: "Entities unavailable, unknown, stale, flapping or on low battery, with since-when",
      },
    });
}
