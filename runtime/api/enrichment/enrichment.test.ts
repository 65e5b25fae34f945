import { afterEach, describe, expect, test } from "bun:test";
import type { SourceStatus } from "../../../actors/enricher/logic.ts";
import { type TestApi, testApi } from "../../../test/support/api.ts";

const json = async (r: Response) => (await r.json()) as Record<string, unknown>;

const weather: SourceStatus = {
  source: "weather",
  health: "stale",
  stale: true,
  ageMs: 400_000,
  fetchedAt: 1000,
  values: [{ metric: "temperature_c", ts: 900, value: 7.4 }],
  lastError: { reason: "timeout", detail: "no complete response within 10000 ms", at: 401_000 },
  breaker: "closed",
  consecutiveFailures: 1,
};

let api: TestApi | undefined;
afterEach(() => api?.close());

function withEnrichers(env: Record<string, string> = {}) {
  api = testApi({ env });
  const sup = api.deps.supervisor;
  sup.statuses.push(
    { name: "enricher-weather", state: "running", restarts: 0 },
    { name: "enricher-carbon", state: "restarting", restarts: 1 },
  );
  sup.call = async (actor: string, body?: unknown) => {
    if (actor === "enricher-weather" && (body as { type: string }).type === "latest") return weather;
    throw new Error(`actor "${actor}" is not running (fake)`);
  };
  return api;
}

describe("GET /api/v1/enrichment", () => {
  test("lists every source: latest values with stale flag, age and last error; disabled and down ones marked", async () => {
    const { get } = withEnrichers({ HOMEIQ_ENRICHERS_PRICES: "false" });
    const r = await get("/api/v1/enrichment");
    expect(r.status).toBe(200);
    const body = (await json(r)) as { sources: { source: string; health: string; enabled: boolean }[] };
    expect(body.sources.map((s) => [s.source, s.enabled, s.health])).toEqual([
      ["weather", true, "stale"],
      ["air-quality", true, "not-running"],
      ["carbon", true, "not-running"],
      ["prices", false, "disabled"],
    ]);
    expect(body.sources[0]).toEqual({ ...weather, enabled: true });
  });

  test("needs the API token", async () => {
    const { get } = withEnrichers();
    expect((await get("/api/v1/enrichment", { auth: false })).status).toBe(401);
  });
});

describe("GET /api/v1/enrichment/:source/history", () => {
  test("an unknown source is a 404 naming the known ones", async () => {
    const { get } = withEnrichers();
    const r = await get("/api/v1/enrichment/tides/history");
    expect(r.status).toBe(404);
    expect(await json(r)).toMatchObject({
      error: 'no enrichment source "tides"',
      field: "params.source",
      expected: "one of weather, air-quality, carbon, prices",
    });
  });

  test("a bad time range is a 400 naming the field", async () => {
    const { get } = withEnrichers();
    const r = await get("/api/v1/enrichment/weather/history?from=abc");
    expect(r.status).toBe(400);
    expect(await json(r)).toMatchObject({ field: "query.from" });
  });

  test("says plainly when the store does not offer enrichment series", async () => {
    const { get, deps } = withEnrichers();
    if (typeof (deps.store as { enrichmentHistory?: unknown }).enrichmentHistory === "function") return;
    const r = await get("/api/v1/enrichment/weather/history");
    expect(r.status).toBe(501);
    expect((await json(r)).error).toContain("enrichment history is not available");
  });
});

describe("enrichment history through the store's read API", () => {
  test("passes source, metric, range and limit to the store and returns its points", async () => {
    const { Elysia } = await import("elysia");
    const { errors } = await import("../errors.ts");
    const { enrichment } = await import("./index.ts");
    const { testConfig, FakeSupervisor } = await import("../../../test/support/api.ts");
    const asked: unknown[] = [];
    const app = new Elysia().use(errors).use(
      enrichment(
        {
          config: testConfig(),
          supervisor: new FakeSupervisor(),
          history: {
            enrichmentHistory: (source, query) => {
              asked.push({ source, ...query });
              return { points: [{ metric: "price_eur_mwh", ts: 3600_000, value: -3.2 }] };
            },
          },
        },
        () => 10 * 3600_000,
      ),
    );
    const r = await app.handle(
      new Request("http://localhost/api/v1/enrichment/prices/history?metric=price_eur_mwh&limit=5"),
    );
    const body = await r.json();
    expect([r.status, body]).toEqual([
      200,
      {
        source: "prices",
        points: [{ metric: "price_eur_mwh", ts: 3600_000, value: -3.2 }],
      },
    ]);
    expect(asked).toEqual([
      {
        source: "prices",
        metric: "price_eur_mwh",
        from: 10 * 3600_000 - 24 * 3600_000,
        to: 10 * 3600_000,
        limit: 5,
      },
    ]);
  });
});
