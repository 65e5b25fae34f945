import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { change, TEST_TOKEN, testApi } from "../../test/support/api.ts";
import { waitFor } from "../kernel/clock.ts";

const json = async (r: Response) => (await r.json()) as Record<string, unknown>;

/** Apps over real readers in temp dirs; closed (and the dirs removed) after each test, even a failed one. */
const opened: ReturnType<typeof testApi>[] = [];
const sqliteApi = (opts: Parameters<typeof testApi>[0] = {}) => {
  const api = testApi({ ...opts, store: "sqlite" });
  opened.push(api);
  return api;
};
afterEach(() => {
  for (const api of opened.splice(0)) api.close();
});

describe("health", () => {
  test("/health answers ok without a token", async () => {
    const { get } = testApi();
    const r = await get("/health", { auth: false });
    expect(r.status).toBe(200);
    expect(await json(r)).toEqual({ status: "ok", uptimeSeconds: 0 });
  });

  test("/health/deep reports actors, mailbox depths, HA status and store size from the batcher's gauges", async () => {
    const { get, deps } = testApi();
    deps.supervisor.notices.set("connection/ha-status", { state: "connected", url: "ws://ha", since: 5 });
    deps.metrics.update("batcher", {
      counters: [],
      gauges: [
        { name: "mailbox_depth", labels: { actor: "batcher" }, value: 3 },
        {
          name: "mailbox_outstanding",
          labels: { actor: "connection", edge: "connection->batcher" },
          value: 2,
        },
        { name: "store_events", labels: { actor: "batcher" }, value: 2 },
        { name: "store_bytes", labels: { actor: "batcher" }, value: 4096 },
      ],
      histograms: [],
      help: {},
    });
    const body = await json(await get("/health/deep"));
    expect(body.status).toBe("ok");
    expect(
      (body.actors as { name: string; mailboxDepth: number }[]).map((a) => [a.name, a.mailboxDepth]),
    ).toEqual([
      ["metadata", 0],
      ["batcher", 3],
      ["connection", 0],
    ]);
    expect(body.edges).toEqual([{ edge: "connection->batcher", outstanding: 2 }]);
    expect(body.ha).toEqual({ state: "connected", url: "ws://ha", since: 5 });
    expect(body.store).toEqual({ events: 2, bytes: 4096, holdingUnexported: false, droppedUnexported: 0 });
  });

  test("/health/deep is degraded while the store holds, or has dropped, events InfluxDB never got", async () => {
    const { get, deps } = testApi();
    deps.supervisor.notices.set("connection/ha-status", { state: "connected" });
    const batcher = (holding: number, dropped: number) =>
      deps.metrics.update("batcher", {
        counters: [{ name: "events_dropped_unexported_total", labels: { actor: "batcher" }, value: dropped }],
        gauges: [{ name: "store_holding_unexported", labels: { actor: "batcher" }, value: holding }],
        histograms: [],
        help: {},
      });
    batcher(0, 0);
    expect((await json(await get("/health/deep"))).status).toBe("ok");
    batcher(1, 0);
    expect((await json(await get("/health/deep"))).status).toBe("degraded");
    batcher(0, 7);
    const body = await json(await get("/health/deep"));
    expect(body.status).toBe("degraded");
    expect(body.store).toMatchObject({ holdingUnexported: false, droppedUnexported: 7 });
  });

  test("/health/deep is degraded while HA is disconnected and 503 once an actor has failed", async () => {
    const { get, deps } = testApi();
    deps.supervisor.notices.set("connection/ha-status", { state: "disconnected" });
    expect((await json(await get("/health/deep"))).status).toBe("degraded");
    deps.supervisor.statuses[1] = { name: "batcher", state: "failed", restarts: 5, lastError: "boom" };
    const r = await get("/health/deep");
    expect(r.status).toBe(503);
    expect((await json(r)).status).toBe("failed");
  });

  test("/health/deep is degraded naming an actor whose oldest message has waited past supervisor.stuckAfterMs", async () => {
    const { get, deps } = testApi({ env: { HOMEIQ_SUPERVISOR_STUCK_AFTER_MS: "1000" } });
    deps.supervisor.notices.set("connection/ha-status", { state: "connected" });
    deps.supervisor.statuses[1] = { ...deps.supervisor.statuses[1], mailboxOldestAgeMs: 1000 };
    const atBound = await json(await get("/health/deep"));
    expect([atBound.status, atBound.reasons]).toEqual(["ok", []]);
    deps.supervisor.statuses[1] = { ...deps.supervisor.statuses[1], mailboxOldestAgeMs: 1234.4 };
    const past = await json(await get("/health/deep"));
    expect(past.status).toBe("degraded");
    expect(past.reasons).toEqual([
      'actor "batcher": its oldest message has waited 1234 ms (supervisor.stuckAfterMs is 1000)',
    ]);
    expect((past.actors as { name: string; mailboxOldestAgeMs: number }[])[1]).toMatchObject({
      name: "batcher",
      mailboxOldestAgeMs: 1234,
    });
  });
});

describe("auth", () => {
  const protectedPaths = [
    "/api/v1/devices",
    "/api/v1/events",
    "/api/v1/real-time-metrics",
    "/metrics",
    "/health/deep",
  ];

  test("every protected path answers 401 without a token, with where and how to fix", async () => {
    const { get } = testApi();
    for (const path of protectedPaths) {
      const r = await get(path, { auth: false });
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toBe('Bearer realm="homeiq"');
      const body = await json(r);
      expect(body.error).toBe("missing bearer token");
      expect(body.field).toBe("headers.authorization");
    }
  });

  test("a wrong token is refused and never echoed in the body or the log", async () => {
    const { get, lines } = testApi();
    const wrong = "wrong-token-abcdefghijklmnop";
    const r = await get("/api/v1/devices", { headers: { authorization: `Bearer ${wrong}` } });
    expect(r.status).toBe(401);
    const text = await r.text();
    expect(text).toContain("invalid bearer token");
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(TEST_TOKEN);
    await waitFor(() => lines.length > 0, { timeoutMs: 1000 });
    expect(lines.join("\n")).not.toContain(wrong);
    expect(lines.join("\n")).not.toContain(TEST_TOKEN);
  });

  test("an unauthenticated request with bad parameters gets 401, not a schema hint", async () => {
    const { get } = testApi();
    expect((await get("/api/v1/events?limit=abc", { auth: false })).status).toBe(401);
  });

  test("the stream also accepts ?access_token= for EventSource; other routes do not", async () => {
    const { get } = testApi();
    const ok = await get(`/api/v1/stream?access_token=${TEST_TOKEN}`, { auth: false });
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    expect((await get(`/api/v1/devices?access_token=${TEST_TOKEN}`, { auth: false })).status).toBe(401);
  });
});

describe("request ids and logs", () => {
  test("a caller's X-Request-ID is echoed and carried as cid into the request's log line", async () => {
    const { get, lines } = testApi();
    const r = await get("/api/v1/devices?limit=1", { headers: { "x-request-id": "abc-123" } });
    expect(r.headers.get("x-request-id")).toBe("abc-123");
    await waitFor(() => lines.find((l) => l.includes("abc-123")), { timeoutMs: 1000 });
    const line = JSON.parse(lines.find((l) => l.includes("abc-123"))!);
    expect(line).toMatchObject({ cid: "abc-123", method: "GET", path: "/api/v1/devices", status: 200 });
  });

  test("a missing or unsafe X-Request-ID is replaced by a fresh id, also in error bodies", async () => {
    const { get } = testApi();
    const r = await get("/api/v1/events?limit=0", { headers: { "x-request-id": "bad id\u0001" } });
    const id = r.headers.get("x-request-id")!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await json(r)).requestId).toBe(id);
  });
});

describe("bad input", () => {
  const cases: [string, string, string][] = [
    ["/api/v1/events?limit=0", "query.limit", "a whole number between 1 and 1000"],
    ["/api/v1/events?limit=5000", "query.limit", "a whole number between 1 and 1000"],
    ["/api/v1/events?limit=1.5", "query.limit", "a whole number between 1 and 1000"],
    ["/api/v1/events?from=yesterday", "query.from", "milliseconds since the Unix epoch"],
    ["/api/v1/events?from=20&to=10", "query.from", "a time before query.to"],
    ["/api/v1/events?entity_id=Light.X", "query.entity_id", "comma-separated entity ids"],
    ["/api/v1/events?cursor=not-ours", "query.cursor", "the nextCursor value of a previous page"],
    ["/api/v1/entities?domain=li ght", "query.domain", "a domain like light"],
    ["/api/v1/entities/nodot", "params.entity_id", "an entity id like sensor.kitchen_temperature"],
    [
      "/api/v1/entities/sensor.a/history?resolution=weekly",
      "query.resolution",
      "one of auto, raw, hourly, daily",
    ],
    ["/api/v1/stream?domain=A", "query.domain", "comma-separated domains"],
    [
      "/api/v1/events?entity_ids=sensor.a",
      "query.entity_ids",
      "only from, to, entity_id, domain, cursor, limit",
    ],
    ["/api/v1/devices?areaa=kitchen", "query.areaa", "only area, q, cursor, limit"],
  ];
  for (const [path, field, expected] of cases) {
    test(`${path} -> 400 on ${field}`, async () => {
      const { get } = testApi();
      const r = await get(path);
      expect(r.status).toBe(400);
      const body = await json(r);
      expect(body.field).toBe(field);
      expect(String(body.expected)).toContain(expected);
      expect(body.requestId).toBe(r.headers.get("x-request-id")!);
    });
  }

  test("an unknown API path is a JSON 404 naming the route, even with a dashboard mounted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homeiq-web-"));
    try {
      writeFileSync(join(dir, "index.html"), "<!doctype html><title>HomeIQ</title>");
      const { get } = testApi({ staticDir: dir });
      const r = await get("/api/v1/nope");
      expect(r.status).toBe(404);
      expect((await json(r)).error).toBe("no route GET /api/v1/nope");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("limits", () => {
  test("a body over api.bodyLimitBytes is refused with 413 before routing", async () => {
    const { app } = testApi({ env: { HOMEIQ_API_BODY_LIMIT_BYTES: "1024" } });
    const r = await app.handle(
      new Request("http://localhost/api/v1/devices", {
        method: "POST",
        headers: {
          authorization: `Bearer ${TEST_TOKEN}`,
          "content-type": "application/json",
          "content-length": "2048",
        },
        body: "x".repeat(2048),
      }),
    );
    expect(r.status).toBe(413);
    expect((await json(r)).field).toBe("body");
  });

  test("a client past api.rateLimitPerMinute gets 429 with Retry-After until its bucket refills", async () => {
    let now = 1_000_000;
    const { get } = testApi({ env: { HOMEIQ_API_RATE_LIMIT_PER_MINUTE: "3" }, now: () => now });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get("/api/v1/areas")).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await get("/api/v1/areas");
    expect(limited.headers.get("retry-after")).toBe("20");
    now += 20_000; // one token refills every 60 s / 3
    expect((await get("/api/v1/areas")).status).toBe(200);
    expect((await get("/api/v1/areas")).status).toBe(429);
    // /health is never limited.
    expect((await get("/health")).status).toBe(200);
  });
});

describe("CORS", () => {
  test("closed by default: no allow-origin header, and a preflight is refused", async () => {
    const { get } = testApi();
    const r = await get("/api/v1/areas", { headers: { origin: "https://evil.example" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await get("/api/v1/areas", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example" },
    });
    expect(pre.status).toBe(403);
  });

  test("a configured origin gets allow-origin and a preflight answer", async () => {
    const { get } = testApi({ env: { HOMEIQ_API_CORS_ORIGINS: "https://dash.example" } });
    const r = await get("/api/v1/areas", { headers: { origin: "https://dash.example" } });
    expect(r.headers.get("access-control-allow-origin")).toBe("https://dash.example");
    const pre = await get("/api/v1/areas", {
      method: "OPTIONS",
      auth: false,
      headers: { origin: "https://dash.example", "access-control-request-method": "GET" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-headers")).toContain("authorization");
  });
});

describe("registry and events", () => {
  test("devices page with a cursor until the end, totals stable (real metadata reader)", async () => {
    const { get } = sqliteApi();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const body = (await json(
        await get(`/api/v1/devices?limit=4${cursor ? `&cursor=${cursor}` : ""}`),
      )) as unknown as { items: { id: string }[]; nextCursor: string | null; total: number };
      expect(body.total).toBe(10);
      seen.push(...body.items.map((d) => d.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `d0000${i}`));
  });

  test("entities filter by domain and area; one entity has its device and aliases (real metadata reader)", async () => {
    const { get } = sqliteApi();
    const lights = (await json(await get("/api/v1/entities?domain=light&area=a1"))) as unknown as {
      items: { entity_id: string }[];
      total: number;
    };
    expect(lights.items.map((e) => e.entity_id)).toEqual(["light.dev_1", "light.dev_6"]);
    expect(lights.total).toBe(2);
    const one = await json(await get("/api/v1/entities/switch.dev_3"));
    expect(one).toMatchObject({
      entity_id: "switch.dev_3",
      device_id: "d00003",
      domain: "switch",
      aliases: [],
    });
    expect((await get("/api/v1/entities/switch.nope")).status).toBe(404);
    const areas = (await json(await get("/api/v1/areas"))) as { items: unknown[]; total: number };
    expect(areas.total).toBe(5);
    expect((await get("/api/v1/devices?cursor=bm90LW91cnM")).status).toBe(400);
  });

  test("events filter by entity and range, newest first (real store)", async () => {
    const { get, seed } = sqliteApi();
    const t0 = Date.now() - 60_000;
    seed([
      change("sensor.a", "1", t0 + 1000),
      change("sensor.b", "2", t0 + 2000),
      change("sensor.a", "3", t0 + 3000),
    ]);
    const body = (await json(
      await get(`/api/v1/events?entity_id=sensor.a&from=${t0}&to=${t0 + 5000}`),
    )) as unknown as { items: { state: string; ts: number }[] };
    expect(body.items.map((e) => [e.state, e.ts])).toEqual([
      ["3", t0 + 3000],
      ["1", t0 + 1000],
    ]);
  });

  test("events answer while the ingest writer holds a write transaction open (own read connection, WAL)", async () => {
    const { get, seed, dataDir } = sqliteApi();
    const t0 = Date.now() - 60_000;
    seed([change("sensor.a", "1", t0)]);
    const writer = new Database(join(dataDir!, "events.db"));
    writer.exec("PRAGMA busy_timeout = 0");
    writer.exec("BEGIN IMMEDIATE");
    writer.exec("DELETE FROM raw_events");
    try {
      const r = await get(`/api/v1/events?from=${t0 - 1}`);
      expect(r.status).toBe(200);
      // The uncommitted delete is invisible and nothing waited for the writer's lock.
      expect(((await r.json()) as { items: unknown[] }).items.length).toBe(1);
    } finally {
      writer.exec("ROLLBACK");
      writer.close();
    }
  });

  test("history defaults to the 24 hours before now and the auto resolution (real store)", async () => {
    const now = Date.now();
    const { get, seed } = sqliteApi({ now: () => now });
    seed([change("sensor.t", "20", now - 2 * 86_400_000), change("sensor.t", "21", now - 1000)]);
    const body = await json(await get("/api/v1/entities/sensor.t/history"));
    expect(body).toMatchObject({
      entity_id: "sensor.t",
      from: now - 86_400_000,
      to: now,
      resolution: "auto",
    });
    expect((body.points as { value: number }[]).map((p) => p.value)).toEqual([21]);
    expect(body.tier).toBe("raw");
    expect([body.truncated, body.nextFrom]).toEqual([false, null]);
  });

  test("raw history holds at most api.pageMax points, says truncated and where to go on (real store)", async () => {
    const now = Date.now();
    const { get, seed } = sqliteApi({ now: () => now, env: { HOMEIQ_API_PAGE_MAX: "100" } });
    const t0 = now - 3600_000;
    seed(Array.from({ length: 250 }, (_, i) => change("sensor.fast", String(i), t0 + i * 1000)));
    const values: number[] = [];
    let from = t0;
    let pages = 0;
    for (;;) {
      const body = await json(await get(`/api/v1/entities/sensor.fast/history?resolution=raw&from=${from}`));
      const points = body.points as { value: number }[];
      expect(points.length).toBeLessThanOrEqual(100);
      values.push(...points.map((p) => p.value));
      pages++;
      if (!body.truncated) break;
      expect(body.nextFrom).toBe(t0 + values.length * 1000);
      from = body.nextFrom as number;
    }
    expect(pages).toBe(3);
    expect(values).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });
});

describe("OpenAPI and dashboard mount", () => {
  test("/openapi/json documents every API route without a token", async () => {
    const { get } = testApi();
    const doc = await json(await get("/openapi/json", { auth: false }));
    const paths = Object.keys(doc.paths as object);
    for (const p of [
      "/health",
      "/health/deep",
      "/api/v1/devices",
      "/api/v1/events",
      "/api/v1/stream",
      "/metrics",
    ])
      expect(paths).toContain(p);
    expect(paths).toContain("/api/v1/entities/{entity_id}/history");
    expect(paths).not.toContain("/*");
  });

  test("/openapi points at the JSON document; no docs page loads a script from elsewhere", async () => {
    const { get } = testApi();
    const r = await get("/openapi", { auth: false });
    // Relative, so it resolves under a path prefix (HA ingress) as well as at the root.
    expect([r.status, r.headers.get("location")]).toEqual([302, "openapi/json"]);
    expect((await get("/openapi/", { auth: false })).headers.get("location")).toBe("json");
    expect(await r.text()).not.toContain("<script");
    const doc = await get("/openapi/json", { auth: false });
    expect(doc.headers.get("content-type")).toStartWith("application/json");
    expect(await doc.text()).not.toContain("cdn.jsdelivr.net");
  });

  test("every response, dashboard page, file, API answer or error, carries the security headers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homeiq-web-"));
    try {
      writeFileSync(join(dir, "index.html"), "<!doctype html><title>HomeIQ</title>");
      writeFileSync(join(dir, "app.js"), "console.log(1)");
      const { get } = testApi({ staticDir: dir });
      for (const [path, auth, status] of [
        ["/", false, 200],
        ["/app.js", false, 200],
        ["/health", false, 200],
        ["/api/v1/devices", true, 200],
        ["/api/v1/devices", false, 401],
        ["/api/v1/nothing", true, 404],
        ["/api/v1/events?limit=0", true, 400],
      ] as const) {
        const r = await get(path, { auth });
        const h = Object.fromEntries(
          ["content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"].map(
            (name) => [name, r.headers.get(name)],
          ),
        );
        expect([path, r.status, h]).toEqual([
          path,
          status,
          {
            "content-security-policy":
              "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'",
            "x-frame-options": "SAMEORIGIN",
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
          },
        ]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("/ and unknown non-API paths serve index.html without a token; files are served as they are", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homeiq-web-"));
    try {
      writeFileSync(join(dir, "index.html"), "<!doctype html><title>HomeIQ</title>");
      writeFileSync(join(dir, "app.js"), "console.log(1)");
      const { get } = testApi({ staticDir: dir });
      expect(await (await get("/", { auth: false })).text()).toContain("<title>HomeIQ</title>");
      expect(await (await get("/devices/d1", { auth: false })).text()).toContain("<title>HomeIQ</title>");
      expect(await (await get("/app.js", { auth: false })).text()).toBe("console.log(1)");
      expect((await get("/missing.js", { auth: false })).status).toBe(404);
      expect((await get("/..%2f..%2fetc%2fpasswd", { auth: false })).status).not.toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
