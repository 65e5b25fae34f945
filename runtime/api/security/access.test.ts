import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testApi } from "../../../test/support/api.ts";
import { PUBLIC_PATHS } from "../app.ts";
import { DASHBOARD_ROUTES } from "../static/index.ts";
import { AccessPolicy, canonicalPath } from "./service.ts";

// A dashboard is mounted, so a path that slips past the auth check would be answered (200, index.html).
const web = mkdtempSync(join(tmpdir(), "homeiq-access-web-"));
const data = mkdtempSync(join(tmpdir(), "homeiq-access-data-"));
writeFileSync(join(web, "index.html"), "<!doctype html><title>HomeIQ</title>");
mkdirSync(join(web, "assets"));
writeFileSync(join(web, "assets", "index-abc.js"), "console.log(1)");
// Its own data dir: routes that open a database on first use (webhooks) must not touch ./data.
const api = testApi({
  staticDir: web,
  env: { HOMEIQ_API_RATE_LIMIT_PER_MINUTE: "1000000", HOMEIQ_DATA_DIR: data },
});
afterAll(() => {
  api.close();
  rmSync(web, { recursive: true, force: true });
  rmSync(data, { recursive: true, force: true });
});

/** Every route the app registers, with parameters filled in. Routes added later are included unasked. */
const routes = api.app.routes
  .filter((r) => !DASHBOARD_ROUTES.includes(r.path) && !(PUBLIC_PATHS as readonly string[]).includes(r.path))
  .map((r) => ({
    method: r.method,
    path: r.path
      .replace(/:entity_id/g, "sensor.a")
      .replace(/:[a-z_]+/gi, "x1")
      .replace(/\*/g, "x"),
  }));

/** Ways to spell a path that a router or a proxy may take for the same route. */
function variants(path: string): string[] {
  const [first, ...rest] = path.slice(1).split("/");
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  const tail = rest.length ? `/${rest.join("/")}` : "";
  return [
    path,
    `${path}/`,
    `${path}//`,
    `/${path}`,
    path.replaceAll("/", "//"),
    path.toUpperCase(),
    `/${first[0].toUpperCase()}${first.slice(1)}${tail}`,
    `/${hex(first[0])}${first.slice(1)}${tail}`,
    `/${hex(first[0]).toLowerCase()}${first.slice(1)}${tail}`,
    `/${first}${rest.length ? `%2F${rest.join("%2F")}` : "%2F"}`,
    `/${first}${rest.length ? `%2f${rest.join("/")}` : ""}`,
    `/%25${hex(first[0]).slice(1)}${first.slice(1)}${tail}`,
    `/${first}%252F${rest.join("/")}`,
    `/./${path.slice(1)}`,
    `/x/..${path}`,
    `/%2e%2e${path}`,
    `/x/%2E%2E${path}`,
    `${path}/.`,
    `${path}?x=1`,
    `${path}/?limit=1`,
    `${path}%20`,
  ];
}

describe("access to every registered route", () => {
  test("the enumeration finds the API's routes (so the checks below check something)", () => {
    const paths = routes.map((r) => r.path);
    for (const p of ["/metrics", "/health/deep", "/api/v1/devices", "/api/v1/stream", "/api/v1/import"])
      expect(paths).toContain(p);
    expect(routes.length).toBeGreaterThan(30);
  });

  test("without the token, every route in every spelling is refused (401 or 404), never answered", async () => {
    const answered: string[] = [];
    for (const { method, path } of routes)
      for (const v of variants(path)) {
        const r = await api.get(v, {
          method,
          auth: false,
          ...(method === "GET" || method === "HEAD"
            ? {}
            : { body: "{}", headers: { "content-type": "application/json" } }),
        });
        const text = await r.text();
        if (r.status !== 401 && r.status !== 404)
          answered.push(`${method} ${v} -> ${r.status} ${text.slice(0, 60)}`);
      }
    expect(answered).toEqual([]);
  });

  test("a wrong token is refused the same way on every route", async () => {
    const answered: string[] = [];
    for (const { method, path } of routes)
      for (const v of [path, `${path}/`]) {
        const r = await api.get(v, { method, headers: { authorization: "Bearer not-the-token-0123456789" } });
        await r.body?.cancel();
        if (r.status !== 401) answered.push(`${method} ${v} -> ${r.status}`);
      }
    expect(answered).toEqual([]);
  });

  test("with the token, every route is reached (never 401, never the not-found answer)", async () => {
    const refused: string[] = [];
    for (const { method, path } of routes) {
      const abort = new AbortController();
      const r = await api.get(path, {
        method,
        signal: abort.signal,
        ...(method === "GET" ? {} : { body: "{}", headers: { "content-type": "application/json" } }),
      });
      const text = r.headers.get("content-type")?.startsWith("text/event-stream") ? "" : await r.text();
      abort.abort();
      if (r.status === 401 || text.includes('"no route')) refused.push(`${method} ${path} -> ${r.status}`);
    }
    expect(refused).toEqual([]);
  });

  test("/metrics/ (trailing slash) needs the token like /metrics", async () => {
    expect((await api.get("/metrics/", { auth: false })).status).toBe(401);
    const r = await api.get("/metrics/");
    expect(r.status).toBe(200);
    expect(await r.text()).toContain("# HELP");
  });

  test("the public list is /health, the OpenAPI JSON and the dashboard's files, in their usual spellings", async () => {
    for (const path of ["/health", "/health/", "/openapi/json", "/", "/assets/index-abc.js", "/devices/d1"]) {
      const r = await api.get(path, { auth: false });
      expect([path, r.status]).toEqual([path, 200]);
    }
    const docs = await api.get("/openapi", { auth: false });
    expect([docs.status, docs.headers.get("location")]).toEqual([302, "openapi/json"]);
  });
});

describe("AccessPolicy", () => {
  const policy = new AccessPolicy(["/health"], ["/", "/*"]);
  policy.protectRoutes([{ path: "/" }, { path: "/*" }, { path: "/health" }, { path: "/health/deep" }]);
  policy.protectRoutes([{ path: "/admin/users/:id" }]);

  test("a route registered later is protected by its first segment, in any spelling", () => {
    for (const p of ["/admin/users/1", "/admin", "/ADMIN/", "/%61dmin/x", "//admin", "/x/%2e%2e/admin"])
      expect([p, policy.isPublic(p)]).toEqual([p, false]);
    expect(policy.isPublic("/health")).toBe(true);
    expect(policy.isPublic("/health/deep")).toBe(false);
    expect(policy.isPublic("/administration/index.html")).toBe(true);
  });

  test("a route with a parameter as its first segment protects everything but the public paths", () => {
    const open = new AccessPolicy(["/health"], ["/", "/*"]);
    open.protectRoutes([{ path: "/:tenant/data" }]);
    expect(open.isPublic("/anything")).toBe(false);
    expect(open.isPublic("/")).toBe(false);
    expect(open.isPublic("/health")).toBe(true);
  });

  test("canonicalPath decodes, folds case and slashes, and gives up on dot segments and bad escapes", () => {
    expect(canonicalPath("/API//v1/%64evices/")).toBe("/api/v1/devices");
    expect(canonicalPath("/metrics%252F")).toBe("/metrics");
    expect(canonicalPath("/a/%2e%2e/metrics")).toBeNull();
    expect(canonicalPath("/%E0%A4%A")).toBeNull();
    expect(canonicalPath("/%25252525")).toBeNull();
    expect(canonicalPath("/a%5Cb")).toBeNull();
    expect(canonicalPath("/")).toBe("/");
  });
});
