/**
 * The dashboard mount point: when `staticDir` (the built `web/dist`) holds an index.html, `/` serves it,
 * files under it are served as they are, and any other non-API path falls back to index.html (the
 * dashboard routes in the browser). Static files need no token: they hold no data; the dashboard asks for
 * the token and sends it to `/api/v1`. Every URL in the build is relative (Vite `base: "./"`), so the
 * dashboard also works under a path prefix such as Home Assistant's ingress. API-looking paths never fall
 * back, so a wrong API URL is a 404.
 */
import { statSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";
import { Elysia } from "elysia";
import { ApiError } from "../errors.ts";
import { ingressIndexHtml } from "../security/ingress.ts";
import { requestContext } from "../security/service.ts";

const API_PREFIXES = ["/api/", "/health/", "/metrics", "/openapi"];

/** The routes this plugin registers: public, as they serve only the dashboard's files (see AccessPolicy). */
export const DASHBOARD_ROUTES = ["/", "/*"];

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The file a URL path names inside `root`, or null when it would leave `root` or does not exist. */
export function fileFor(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  const path = resolve(root, `.${decoded}`);
  if (path !== root && !path.startsWith(root + sep)) return null;
  return isFile(path) ? path : null;
}

export function staticFiles(staticDir?: string) {
  const root = staticDir ? resolve(staticDir) : undefined;
  const index = root ? join(root, "index.html") : undefined;
  const noDashboard = () =>
    new ApiError(404, "the dashboard is not built", {
      expected:
        "build it with `npm run build:web` (web/dist), or use the API under /api/v1 (described at /openapi/json)",
    });
  const indexPage = async (request: Request, set: { headers: Record<string, string | number> }) => {
    if (!index || !isFile(index)) throw noDashboard();
    set.headers["cache-control"] = "no-cache";
    const ingress = requestContext(request)?.ingress;
    if (!ingress) return Bun.file(index);
    // Through HA's ingress: the page says where it lives and that HA authenticates it (ingress.ts).
    set.headers["content-type"] = "text/html; charset=utf-8";
    return ingressIndexHtml(await Bun.file(index).text(), ingress);
  };
  return new Elysia()
    .get("/", ({ request, set }) => indexPage(request, set), { detail: { hide: true } })
    .get(
      "/*",
      ({ path, request, set }) => {
        if (API_PREFIXES.some((p) => path.startsWith(p)))
          throw new ApiError(404, `no route ${request.method} ${path}`, {
            expected: "a path listed in the OpenAPI document at /openapi/json",
          });
        if (!root) throw noDashboard();
        const file = fileFor(root, path);
        if (file) {
          // Vite fingerprints everything under assets/, so those never change under the same name.
          set.headers["cache-control"] = path.startsWith("/assets/")
            ? "public, max-age=31536000, immutable"
            : "no-cache";
          return Bun.file(file);
        }
        if (extname(path)) throw new ApiError(404, `no file ${path} in the dashboard build`);
        return indexPage(request, set);
      },
      { detail: { hide: true } },
    );
}
