/**
 * `GET /api/v1/real-time-metrics`: one consolidated view (rates in/stored/exported, lag, per-actor health,
 * HA status, totals). `GET /metrics`: Prometheus text exposition of the same registry.
 */
import { Elysia } from "elysia";
import type { Registry } from "../../kernel/metrics.ts";
import type { ApiDeps } from "../deps.ts";
import { RealTimeMetrics } from "./model.ts";
import { prometheusText, RateTracker, realTimeMetrics } from "./service.ts";

export function metricsRoutes(
  deps: Pick<ApiDeps, "supervisor" | "metrics" | "live" | "config">,
  registry: Registry,
  now: () => number,
) {
  const rates = new RateTracker(deps.config.api.rateWindowMs);
  const view = { ...deps, registry };
  return new Elysia({ detail: { tags: ["metrics"] } })
    .get("/api/v1/real-time-metrics", () => realTimeMetrics(view, rates, now()), {
      response: RealTimeMetrics,
      detail: { summary: "Events/s in, stored, exported; lag; per-actor health; HA status; totals" },
    })
    .get(
      "/metrics",
      ({ set }) => {
        set.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
        return prometheusText(deps.metrics, registry);
      },
      { detail: { summary: "Prometheus text exposition (metric names prefixed homeiq_)" } },
    );
}
