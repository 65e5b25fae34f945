/** Shapes of `GET /api/v1/enrichment` and `GET /api/v1/enrichment/:source/history`. */
import { t } from "elysia";
import { fields } from "../fields.ts";

export const Reading = t.Object({
  metric: t.String({ description: "e.g. temperature_c, intensity_gco2_kwh, price_eur_mwh" }),
  ts: t.Number({ description: "milliseconds since the Unix epoch" }),
  value: t.Number(),
});

export const SourceView = t.Object({
  source: t.String({ description: "weather, air-quality, carbon or prices" }),
  enabled: t.Boolean({ description: "its HOMEIQ_ENRICHERS_<SOURCE> switch" }),
  health: t.UnionEnum(["ok", "stale", "no-data", "waiting-for-location", "disabled", "not-running"], {
    description:
      "ok: fresh values; stale: the last good values, older than the source's TTL (the API is failing or unreachable); waiting-for-location: HA's location not yet known",
  }),
  stale: t.Boolean(),
  ageMs: t.Union([t.Number(), t.Null()], { description: "age of the values shown" }),
  fetchedAt: t.Union([t.Number(), t.Null()]),
  values: t.Array(Reading, { description: "the latest value of each metric" }),
  lastError: t.Union([
    t.Object({
      reason: t.String({ description: "e.g. timeout, server-error, html-error-page, changed-schema" }),
      detail: t.String(),
      at: t.Number(),
    }),
    t.Null(),
  ]),
  breaker: t.UnionEnum(["closed", "open", "half-open"]),
  consecutiveFailures: t.Number(),
});
export type SourceView = typeof SourceView.static;

export const EnrichmentOverview = t.Object({ sources: t.Array(SourceView) });

export function enrichmentModels(pageMax: number) {
  return {
    SourceParams: t.Object({
      source: t.String({
        pattern: "^[a-z0-9-]+$",
        maxLength: 64,
        description: "an enrichment source, e.g. weather",
        error: () => ({ field: "params.source", expected: "a source name like weather or air-quality" }),
      }),
    }),
    HistoryQuery: t.Object({
      metric: t.Optional(
        t.String({
          pattern: "^[A-Za-z0-9_.-]+$",
          maxLength: 128,
          description: "only this metric, e.g. temperature_c",
          error: () => ({ field: "query.metric", expected: "a metric name like temperature_c" }),
        }),
      ),
      from: t.Optional(fields.time("query.from", "start (inclusive); default 24 h before `to`")),
      to: t.Optional(fields.time("query.to", "end (exclusive); default now")),
      limit: t.Optional(fields.int("query.limit", 1, pageMax, "points at most", pageMax)),
    }),
    History: t.Object({
      source: t.String(),
      points: t.Array(Reading, { description: "oldest first" }),
    }),
  };
}
