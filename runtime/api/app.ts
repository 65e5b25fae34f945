/**
 * The HomeIQ HTTP API: one Elysia route chain (so Eden infers every route's types), features as plugins.
 * Tests build it with fakes or real readers and call `app.handle(new Request(...))` in-process;
 * `server.ts` serves it with Bun.
 *
 * @example
 * const app = createApp({ config, supervisor, metrics, store, metadata, live, log, token });
 * const res = await app.handle(new Request("http://localhost/health"));
 */
import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { Registry } from "../kernel/metrics.ts";
import { HUB } from "../kernel/supervisor.ts";
import type { ApiDeps } from "./deps.ts";
import { devices } from "./devices/index.ts";
import { enrichment } from "./enrichment/index.ts";
import { errors } from "./errors.ts";
import { events } from "./events/index.ts";
import { health } from "./health/index.ts";
import { insightsPlugin } from "./insights/index.ts";
import { metricsRoutes } from "./metrics/index.ts";
import { ops } from "./ops/index.ts";
import { security } from "./security/index.ts";
import { AccessPolicy } from "./security/service.ts";
import { DASHBOARD_ROUTES, staticFiles } from "./static/index.ts";
import { stream } from "./stream/index.ts";
import { suggestionsPlugin } from "./suggestions/index.ts";
import { webhooksPlugin } from "./webhooks/index.ts";

export const API_VERSION = "1.0.0";

/** The OpenAPI document's path; `/openapi` redirects to it. */
export const OPENAPI_JSON = "/openapi/json";

/**
 * Paths served without the token. Everything else registered is protected (AccessPolicy), except the
 * dashboard's routes (`DASHBOARD_ROUTES`), which serve only the built files and index.html.
 */
export const PUBLIC_PATHS = ["/health", "/openapi", OPENAPI_JSON] as const;

export function createApp(deps: ApiDeps) {
  const now = deps.now ?? Date.now;
  const registry = deps.registry ?? new Registry({ actor: HUB });
  const token = deps.token ?? deps.config.apiToken;
  if (!token)
    throw new Error("createApp: no API token; pass deps.token (see token.ts) or set config.apiToken");
  // Every bound the API enforces is visible next to the counters that show it being hit.
  for (const [bound, value] of Object.entries({
    bodyLimitBytes: deps.config.api.bodyLimitBytes,
    rateLimitPerMinute: deps.config.api.rateLimitPerMinute,
    rateLimitClients: deps.config.api.rateLimitClients,
    pageMax: deps.config.api.pageMax,
    sseQueueMax: deps.config.api.sseQueueMax,
    sseMaxClients: deps.config.api.sseMaxClients,
  }))
    registry.gauge("api_bound", "The API's configured bounds (config api.*)", { bound }).set(value);
  const policy = new AccessPolicy(PUBLIC_PATHS, DASHBOARD_ROUTES);
  const app = new Elysia()
    .use(
      openapi({
        path: "/openapi",
        // The JSON document only: the default docs page loads a script from a CDN into this origin,
        // where the dashboard keeps its token.
        provider: null,
        documentation: {
          info: {
            title: "HomeIQ API",
            version: API_VERSION,
            description:
              "Read HomeIQ: devices, entities, stored events and history, live state changes (SSE), metrics and health. Every route but /health, this document (/openapi/json) and the dashboard's files needs `Authorization: Bearer <token>`. Errors are `{ error, field, expected, requestId }`.",
          },
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
          security: [{ bearer: [] }],
        },
      }),
    )
    .use(errors)
    // A relative Location, so the redirect stays under a path prefix (HA ingress, a reverse proxy).
    .get("/openapi", ({ path, redirect }) => redirect(path.endsWith("/") ? "json" : "openapi/json", 302), {
      detail: { hide: true },
    })
    .use(security({ config: deps.config, token, log: deps.log, registry, now, policy }))
    .use(health(deps, now))
    .use(metricsRoutes(deps, registry, now))
    .use(devices(deps))
    .use(events(deps, now))
    .use(stream(deps))
    .use(webhooksPlugin(deps, now))
    .use(enrichment(deps, now))
    .use(insightsPlugin(deps, now))
    .use(ops(deps, now))
    .use(suggestionsPlugin(deps))
    .use(staticFiles(deps.staticDir));
  // Once every route is known: a route added to the chain above needs the token unless listed as public.
  policy.protectRoutes(app.routes);
  return app;
}

export type App = ReturnType<typeof createApp>;
