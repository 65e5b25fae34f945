/**
 * A stand-in for Home Assistant's ingress: one origin (the "HA" the browser sees) that proxies
 * `/api/hassio_ingress/<token>/...` to an add-on's ingress port the way HA and its Supervisor do — prefix
 * stripped, `X-Ingress-Path: /api/hassio_ingress/<token>` added, responses streamed (SSE included) —
 * from a chosen source address (`from`; the Supervisor's is 172.30.32.2, tests use 127.0.0.2, which is
 * loopback on Linux too). `/ha-panel` is HA's frontend in miniature: a page of HA's origin that frames the
 * add-on, as HA's sidebar panel does. Any other path is HA's own and answers 404; those requests are
 * recorded in `escaped`, because a dashboard under ingress must never make them.
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";

export interface IngressProxy {
  /** The origin the browser talks to, e.g. http://127.0.0.1:40123. */
  origin: string;
  /** `/api/hassio_ingress/<random token>`, no trailing slash (as in X-Ingress-Path). */
  prefix: string;
  /** Requests for paths outside the prefix (other than /ha-panel): HA's, never the add-on's. */
  escaped: string[];
  stop(): void;
}

/** Hop-by-hop headers a proxy does not pass on, plus the ones it sets itself. */
const DROP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"]);

function streamOf(res: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      res.on("data", (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk)));
      res.on("end", () => controller.close());
      res.on("error", (error) => controller.error(error));
    },
    cancel() {
      res.destroy();
    },
  });
}

export function startIngressProxy(opts: {
  target: { host: string; port: number };
  from: string;
}): IngressProxy {
  const prefix = `/api/hassio_ingress/${randomBytes(24).toString("base64url")}`;
  const escaped: string[] = [];

  const forward = async (request: Request, path: string, client: string): Promise<Response> => {
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      if (!DROP.has(key)) headers[key] = value;
    });
    headers["x-ingress-path"] = prefix;
    headers["x-forwarded-for"] = client;
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    return new Promise((resolve, reject) => {
      const out = httpRequest(
        {
          host: opts.target.host,
          port: opts.target.port,
          localAddress: opts.from,
          method: request.method,
          path,
          headers,
        },
        (res) => {
          const answer = new Headers();
          for (const [key, value] of Object.entries(res.headers)) {
            if (value === undefined || DROP.has(key)) continue;
            answer.set(key, Array.isArray(value) ? value.join(", ") : value);
          }
          const status = res.statusCode ?? 502;
          const empty = status === 204 || status === 304 || request.method === "HEAD";
          resolve(new Response(empty ? null : streamOf(res), { status, headers: answer }));
        },
      );
      out.on("error", reject);
      request.signal.addEventListener("abort", () => out.destroy());
      out.end(body);
    });
  };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request, self) {
      const url = new URL(request.url);
      if (url.pathname === "/ha-panel")
        return new Response(
          `<!doctype html><title>Home Assistant</title><link rel="icon" href="data:," /><iframe src="${prefix}/" style="width:1200px;height:850px;border:0"></iframe>`,
          { headers: { "content-type": "text/html; charset=utf-8" } },
        );
      if (url.pathname === prefix || url.pathname.startsWith(`${prefix}/`)) {
        const rest = url.pathname.slice(prefix.length) || "/";
        try {
          return await forward(request, rest + url.search, self.requestIP(request)?.address ?? "");
        } catch (error) {
          return new Response(`ingress: ${error instanceof Error ? error.message : String(error)}`, {
            status: 502,
          });
        }
      }
      escaped.push(`${request.method} ${url.pathname}${url.search}`);
      return new Response("Home Assistant: not found", { status: 404 });
    },
  });
  return {
    origin: `http://127.0.0.1:${server.port}`,
    prefix,
    escaped,
    stop: () => server.stop(true),
  };
}
