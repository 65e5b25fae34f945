/**
 * Serves the API with Bun on `config.host`:`config.port` (0 picks a free port; the actual one is
 * returned). Bun's own body cap is process-wide, so it is the largest legitimate body (an import,
 * `ops.importMaxBytes`); the app enforces each route's own limit on the bytes it reads (security/index.ts).
 *
 * With `api.ingressFrom` set, a second listener on `api.ingressPort` serves the same app to Home
 * Assistant's ingress proxy alone (security/ingress.ts): a request from any other peer is refused there
 * before the app sees it, and a request from that peer is marked so the token is not asked of it.
 */
import { createApp } from "./app.ts";
import type { ApiDeps } from "./deps.ts";
import { ingressBasePath, isIngressPeer, markIngress } from "./security/ingress.ts";

/** Bun closes connections idle this long; the SSE heartbeat (15 s) keeps live streams well inside it. */
const IDLE_TIMEOUT_S = 60;

export interface RunningApi {
  app: ReturnType<typeof createApp>;
  port: number;
  /** Base URL to reach the API from this machine (localhost when listening on every address). */
  url: string;
  /** The ingress listener, when `api.ingressFrom` is set. */
  ingress?: { port: number; url: string };
  stop(): Promise<void>;
}

function localUrl(configHost: string, port: number): string {
  const host = ["0.0.0.0", "::", ""].includes(configHost) ? "localhost" : configHost;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export function startApi(deps: ApiDeps): RunningApi {
  const { config } = deps;
  // The app enforces the per-route limits on the bytes read, chunked or not; Bun's bound is the largest.
  const maxRequestBodySize = Math.max(config.api.bodyLimitBytes, config.ops.importMaxBytes);
  const app = createApp(deps).listen({
    hostname: config.host,
    port: config.port,
    maxRequestBodySize,
    idleTimeout: IDLE_TIMEOUT_S,
  });
  const server = app.server;
  if (!server) throw new Error(`the API could not listen on ${config.host}:${config.port}`);
  const port = server.port ?? config.port;

  const from = config.api.ingressFrom;
  const refusedPeer = deps.registry?.counter(
    "api_refused_total",
    "Requests refused before routing, by reason",
    {
      reason: "ingress_peer",
    },
  );
  let ingressServer: ReturnType<typeof Bun.serve> | undefined;
  try {
    ingressServer = from ? serveIngress(from) : undefined;
  } catch (error) {
    void app.stop(true);
    throw new Error(
      `the ingress listener could not listen on ${config.host}:${config.api.ingressPort} (${error instanceof Error ? error.message : String(error)}); HOMEIQ_API_INGRESS_PORT names it`,
    );
  }
  function serveIngress(from: string) {
    return Bun.serve({
      hostname: config.host,
      port: config.api.ingressPort,
      maxRequestBodySize,
      idleTimeout: IDLE_TIMEOUT_S,
      fetch(request, self) {
        // The socket's peer, not a header: X-Forwarded-For and X-Ingress-Path are anyone's to send.
        const peer = self.requestIP(request)?.address;
        if (!isIngressPeer(peer, from)) {
          // Counted, logged at debug only: a flood from another add-on must not flood the log.
          refusedPeer?.inc();
          deps.log.debug("ingress port refused a peer", { peer: peer ?? "unknown", expected: from });
          return Response.json(
            {
              error: `the ingress port answers only Home Assistant's ingress proxy (${from}), not ${peer ?? "an unknown peer"}`,
              expected: `the API and dashboard on port ${port} with the API token`,
            },
            { status: 403 },
          );
        }
        markIngress(request, {
          peer: from,
          basePath: ingressBasePath(request.headers.get("x-ingress-path")),
        });
        return app.handle(request);
      },
    });
  }
  const ingressPort = ingressServer?.port;

  return {
    app,
    port,
    url: localUrl(config.host, port),
    ingress:
      ingressPort === undefined ? undefined : { port: ingressPort, url: localUrl(config.host, ingressPort) },
    stop: async () => {
      deps.live.closeAll();
      await Promise.all([app.stop(true), ingressServer?.stop(true)]);
    },
  };
}
