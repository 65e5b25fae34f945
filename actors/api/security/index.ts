/**
 * The request pipeline every route shares, in order: request id (accepted or created, echoed as
 * `X-Request-ID` and carried as `cid` in every log line of the request), CORS (closed unless
 * `api.corsOrigins` lists the origin), body size limit, per-client rate limit and the bearer token.
 * Runs in `onRequest`, before routing and validation, so an unauthenticated caller learns nothing about
 * the API's parameters and a flood is refused before any work is done.
 */
import { Elysia } from "elysia";
import type { HomeIQConfig } from "../../../runtime/config/schema.ts";
import type { Logger } from "../../../runtime/log.ts";
import type { Registry } from "../../../runtime/metrics.ts";
import {
  attachRequestContext,
  bearerToken,
  isProtected,
  originAllowed,
  RateLimiter,
  requestContext,
  requestIdFor,
  tokenMatches,
} from "./service.ts";

export interface SecurityOptions {
  config: HomeIQConfig;
  token: string;
  log: Logger;
  registry: Registry;
  now: () => number;
}

const ALLOW_HEADERS = "authorization, content-type, x-request-id";
const EXPOSE_HEADERS = "x-request-id, retry-after";

/** Path of a request URL without parsing the whole URL (hot path). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

export function security(opts: SecurityOptions) {
  const { config, token, registry } = opts;
  const limiter = new RateLimiter(config.api.rateLimitPerMinute, config.api.rateLimitClients, opts.now);
  const refused = (reason: string) =>
    registry.counter("api_refused_total", "Requests refused before routing, by reason", { reason });
  const refusedAuth = refused("unauthorized");
  const refusedRate = refused("rate_limited");
  const refusedBody = refused("body_too_large");
  const refusedCors = refused("cors");
  const clientsGauge = registry.gauge("api_rate_limit_clients", "Clients tracked by the API rate limiter");
  const durations = new Map<string, ReturnType<Registry["histogram"]>>();
  const counts = new Map<string, ReturnType<Registry["counter"]>>();

  return new Elysia()
    .onRequest(({ request, set, server }) => {
      const startedAt = performance.now();
      const id = requestIdFor(request.headers.get("x-request-id"));
      const path = pathOf(request.url);
      const log = opts.log.child({ cid: id });
      attachRequestContext(request, { id, log, startedAt });
      set.headers["x-request-id"] = id;
      const fail = (status: number, error: string, extra: Record<string, string> = {}) => {
        set.status = status;
        set.headers["content-type"] = "application/json";
        // The response line (onAfterResponse) records the status; this one says why, for debugging.
        log.debug("request refused", { method: request.method, path, status, error });
        return { error, ...extra, requestId: id };
      };

      const origin = request.headers.get("origin");
      if (originAllowed(origin, config.api.corsOrigins)) {
        set.headers["access-control-allow-origin"] = origin!;
        set.headers.vary = "Origin";
        set.headers["access-control-expose-headers"] = EXPOSE_HEADERS;
        if (request.method === "OPTIONS") {
          set.status = 204;
          set.headers["access-control-allow-methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
          set.headers["access-control-allow-headers"] = ALLOW_HEADERS;
          set.headers["access-control-max-age"] = "600";
          return "";
        }
      } else if (origin && request.method === "OPTIONS") {
        refusedCors.inc();
        return fail(403, `origin ${origin} is not allowed`, {
          expected: "an origin listed in HOMEIQ_API_CORS_ORIGINS (empty by default: CORS closed)",
        });
      }

      const length = Number(request.headers.get("content-length") ?? 0);
      // Line-protocol imports are the one body allowed past api.bodyLimitBytes (bounded by ops.importMaxBytes).
      const [limit, limitName] =
        path === "/api/v1/import"
          ? [config.ops.importMaxBytes, "HOMEIQ_OPS_IMPORT_MAX_BYTES"]
          : [config.api.bodyLimitBytes, "HOMEIQ_API_BODY_LIMIT_BYTES"];
      if (length > limit) {
        refusedBody.inc();
        return fail(413, `request body of ${length} bytes is larger than the limit`, {
          field: "body",
          expected: `at most ${limit} bytes (${limitName})`,
        });
      }

      if (!isProtected(path)) return;
      const client = server?.requestIP(request)?.address ?? "local";
      const waitMs = limiter.take(client);
      clientsGauge.set(limiter.clients);
      if (waitMs > 0) {
        refusedRate.inc();
        set.headers["retry-after"] = String(Math.ceil(waitMs / 1000));
        return fail(429, "too many requests from this client", {
          expected: `at most ${config.api.rateLimitPerMinute} requests per minute (HOMEIQ_API_RATE_LIMIT_PER_MINUTE); retry after ${Math.ceil(waitMs / 1000)} s`,
        });
      }

      // EventSource cannot send headers, so the stream alone also takes ?access_token=.
      let presented = bearerToken(request.headers.get("authorization"));
      if (presented === null && path === "/api/v1/stream")
        presented = new URL(request.url).searchParams.get("access_token");
      if (!tokenMatches(presented, token)) {
        refusedAuth.inc();
        set.headers["www-authenticate"] = 'Bearer realm="homeiq"';
        return fail(401, presented === null ? "missing bearer token" : "invalid bearer token", {
          field: "headers.authorization",
          expected:
            "Authorization: Bearer <API token> (HOMEIQ_API_TOKEN, or the token in <dataDir>/api-token)",
        });
      }
    })
    .derive({ as: "global" }, ({ request }) => {
      const ctx = requestContext(request);
      return { requestId: ctx?.id ?? "", log: ctx?.log ?? opts.log };
    })
    .onAfterResponse({ as: "global" }, ({ request, set, route }) => {
      const ctx = requestContext(request);
      if (!ctx) return;
      const ms = performance.now() - ctx.startedAt;
      const status = typeof set.status === "number" ? set.status : 200;
      const key = `${request.method} ${route || "unmatched"}`;
      let histogram = durations.get(key);
      if (!histogram) {
        histogram = registry.histogram("api_request_duration_ms", "API request handling time", {
          route: key,
        });
        durations.set(key, histogram);
      }
      histogram.observe(ms);
      const countKey = `${key}|${status}`;
      let counter = counts.get(countKey);
      if (!counter) {
        counter = registry.counter("api_requests_total", "API requests answered", {
          route: key,
          status: String(status),
        });
        counts.set(countKey, counter);
      }
      counter.inc();
      const fields = {
        method: request.method,
        path: pathOf(request.url),
        status,
        ms: Math.round(ms * 100) / 100,
      };
      if (status >= 500) ctx.log.error("request failed", fields);
      // A flood of refused requests is counted (api_refused_total), not logged line by line.
      else if (status === 429) ctx.log.debug("request rejected", fields);
      else if (status >= 400) ctx.log.info("request rejected", fields);
      else ctx.log.debug("request", fields);
    });
}
