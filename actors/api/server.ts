/**
 * Serves the API with Bun on `config.host`:`config.port` (0 picks a free port; the actual one is
 * returned). Bun's own body cap is process-wide, so it is the largest legitimate body (an import,
 * `ops.importMaxBytes`); the app enforces each route's own limit on the bytes it reads (security/index.ts).
 */
import { createApp } from "./app.ts";
import type { ApiDeps } from "./deps.ts";

/** Bun closes connections idle this long; the SSE heartbeat (15 s) keeps live streams well inside it. */
const IDLE_TIMEOUT_S = 60;

export interface RunningApi {
  app: ReturnType<typeof createApp>;
  port: number;
  /** Base URL to reach the API from this machine (localhost when listening on every address). */
  url: string;
  stop(): Promise<void>;
}

export function startApi(deps: ApiDeps): RunningApi {
  const app = createApp(deps).listen({
    hostname: deps.config.host,
    port: deps.config.port,
    // The app enforces the per-route limits on the bytes read, chunked or not; Bun's bound is the largest.
    maxRequestBodySize: Math.max(deps.config.api.bodyLimitBytes, deps.config.ops.importMaxBytes),
    idleTimeout: IDLE_TIMEOUT_S,
  });
  const server = app.server;
  if (!server) throw new Error(`the API could not listen on ${deps.config.host}:${deps.config.port}`);
  const port = server.port ?? deps.config.port;
  const host = ["0.0.0.0", "::", ""].includes(deps.config.host) ? "localhost" : deps.config.host;
  return {
    app,
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    stop: async () => {
      deps.live.closeAll();
      await app.stop(true);
    },
  };
}
