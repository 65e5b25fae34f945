/**
 * `GET /api/v1/enrichment`: every enrichment source (weather, air quality, carbon intensity, prices) with
 * its latest values, stale flag, age and last error. `GET /api/v1/enrichment/:source/history`: the stored
 * series (`enrichment_<source>`), when the store offers it.
 */
import { Elysia } from "elysia";
import type { ApiDeps } from "../deps.ts";
import { msTimes } from "../time-param.ts";
import { EnrichmentOverview, enrichmentModels } from "./model.ts";
import { type EnrichmentDeps, history, historyReader, overview } from "./service.ts";

export function enrichment(
  api: Pick<ApiDeps, "config" | "supervisor"> & { store?: unknown; history?: EnrichmentDeps["history"] },
  now: () => number = Date.now,
) {
  const deps: EnrichmentDeps = { ...api, history: api.history ?? historyReader(api.store) };
  const { SourceParams, HistoryQuery, History } = enrichmentModels(deps.config.api.pageMax);
  return new Elysia({ name: "homeiq/enrichment", detail: { tags: ["enrichment"] } })
    .get("/api/v1/enrichment", () => overview(deps), {
      response: EnrichmentOverview,
      detail: { summary: "Latest enrichment values per source, with staleness and the last error" },
    })
    .get(
      "/api/v1/enrichment/:source/history",
      ({ params, query }) => history(deps, params.source, msTimes(query), now()),
      {
        params: SourceParams,
        query: HistoryQuery,
        response: History,
        detail: { summary: "Stored readings of one source, oldest first" },
      },
    );
}
