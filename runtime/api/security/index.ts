/**
 * The request pipeline every route shares, in order: request id (accepted or created, echoed as
 * `X-Request-ID` and carried as `cid` in every log line of the request), CORS (closed unless
 * `api.corsOrigins` lists the origin), declared body size, per-client rate limit, the bearer token (default
 * deny: see AccessPolicy; not asked of requests the ingress listener vouched for, see ingress.ts), then
 * the body itself read under its limit. Runs in `onRequest`, before routing and validation, so an
 * unauthenticated caller learns nothing about the API's parameters, a flood is refused before any work is
 * done, and no route ever sees a body past its limit, chunked or not.
 */
import { Elysia } from "elysia";
import type { HomeIQConfig } from "../../config/schema.ts";
import type { Logger } from "../../kernel/log.ts";
import type { Registry } from "../../kernel/metrics.ts";
import { readBounded } from "./body.ts";
import { SECURITY_HEADERS } from "./headers.ts";
import { ingressOf } from "./ingress.ts";
import {
  type AccessPolicy,
  attachRequestContext,
  bearerToken,
  canonicalPath,
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
  /** Which paths are public; the app protects its routes in it once they are all registered. */
  policy: AccessPolicy;
}

/**
 * Routes that read their own body as a stream under their own cap (the import parses line by line under
 * `ops.importMaxBytes`); every other body is read here, whole, under `api.bodyLimitBytes`.
 */
export const STREAMED_BODIES: ReadonlyMap<string, { limit: (c: HomeIQConfig) => number; name: string }> =
  new Map([["/api/v1/import", { limit: (c) => c.ops.importMaxBytes, name: "HOMEIQ_OPS_IMPORT_MAX_BYTES" }]]);

const NO_BODY = new Set(["GET", "HEAD", "OPTIONS"]);

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
  const ingressAccepted = registry.counter(
    "api_ingress_requests_total",
    "Requests taken without the token because they came from Home Assistant's ingress proxy (api.ingressFrom)",
  );
  const clientsGauge = registry.gauge("api_rate_limit_clients", "Clients tracked by the API rate limiter");
  const durations = new Map<string, ReturnType<Registry["histogram"]>>();
  const counts = new Map<string, ReturnType<Registry["counter"]>>();

  return new Elysia()
    .onRequest(({ request, set, server }) => {
      const startedAt = performance.now();
      const id = requestIdFor(request.headers.get("x-request-id"));
      const path = pathOf(request.url);
      const log = opts.log.child({ cid: id });
      // Only the ingress listener marks requests, after checking the socket's peer (ingress.ts).
      const ingress = ingressOf(request);
      attachRequestContext(request, { id, log, startedAt, ingress });
      set.headers["x-request-id"] = id;
      Object.assign(set.headers, SECURITY_HEADERS);
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

      const canonical = canonicalPath(path);
      const streamed = canonical === null ? undefined : STREAMED_BODIES.get(canonical);
      const [limit, limitName] = streamed
        ? [streamed.limit(config), streamed.name]
        : [config.api.bodyLimitBytes, "HOMEIQ_API_BODY_LIMIT_BYTES"];
      const length = Number(request.headers.get("content-length") ?? 0);
      if (length > limit) {
        refusedBody.inc();
        return fail(413, `request body of ${length} bytes is larger than the limit`, {
          field: "body",
          expected: `at most ${limit} bytes (${limitName})`,
        });
      }

      if (opts.policy.isPublic(path)) return;
      const client = ingress ? `ingress:${ingress.peer}` : (server?.requestIP(request)?.address ?? "local");
      const waitMs = limiter.take(client);
      clientsGauge.set(limiter.clients);
      if (waitMs > 0) {
        refusedRate.inc();
        set.headers["retry-after"] = String(Math.ceil(waitMs / 1000));
        return fail(429, "too many requests from this client", {
          expected: `at most ${config.api.rateLimitPerMinute} requests per minute (HOMEIQ_API_RATE_LIMIT_PER_MINUTE); retry after ${Math.ceil(waitMs / 1000)} s`,
        });
      }

      // Home Assistant authenticated the user before its Supervisor proxied the request to the ingress port.
      if (ingress) {
        ingressAccepted.inc();
        return;
      }

      // EventSource cannot send headers, so the stream alone also takes ?access_token=.
      let presented = bearerToken(request.headers.get("authorization"));
      if (presented === null && canonical === "/api/v1/stream")
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
    .onRequest(async (ctx) => {
      // Reached only when the hook above let the request through (authenticated, or a public path).
      const { request, set } = ctx;
      if (NO_BODY.has(request.method) || request.body === null) return;
      const path = pathOf(request.url);
      // No public route takes a body: an anonymous caller's body is never read.
      if (opts.policy.isPublic(path)) return;
      const canonical = canonicalPath(path);
      if (canonical !== null && STREAMED_BODIES.has(canonical)) return;
      const limit = config.api.bodyLimitBytes;
      const read = await readBounded(request.body, limit);
      if (read.ok) {
        // Routes parse the bytes already read; the original stream is spent.
        const bounded = new Request(request.url, {
          method: request.method,
          headers: request.headers,
          body: read.bytes,
          signal: request.signal,
        });
        const context = requestContext(request);
        if (context) attachRequestContext(bounded, context);
        (ctx as { request: Request }).request = bounded;
        return;
      }
      const id = requestContext(request)?.id ?? "";
      set.headers["content-type"] = "application/json";
      if (read.error === "too_large") {
        refusedBody.inc();
        set.status = 413;
        return {
          error: `request body is larger than the limit (read ${read.bytesRead} bytes and stopped)`,
          field: "body",
          expected: `at most ${limit} bytes (HOMEIQ_API_BODY_LIMIT_BYTES)`,
          requestId: id,
        };
      }
      set.status = 400;
      return {
        error: "the request body could not be read (the client went away or sent a broken body)",
        field: "body",
        expected: "a complete request body",
        requestId: id,
      };
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
