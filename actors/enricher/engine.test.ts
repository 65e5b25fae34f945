import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { Registry } from "../../runtime/kernel/metrics.ts";
import { type FixtureMode, startFixtureServer } from "../../test/support/enricher-apis.ts";
import { captureLog, fixtureConfig, ManualClock } from "../../test/support/enricher-config.ts";
import { Enricher } from "./engine.ts";
import type { EnrichmentBatch, EnrichmentUpdate } from "./messages.ts";
import type { EnricherSource } from "./source.ts";
import { carbonSource } from "./sources/carbon.ts";
import { pricesSource } from "./sources/prices.ts";
import { weatherSource } from "./sources/weather.ts";

const fixture = startFixtureServer();
afterAll(() => fixture.stop());
beforeEach(() => {
  fixture.mode = "ok";
});

const HOME = { latitude: 52.52, longitude: 13.41 };
const T0 = 1_764_000_000_000;

function setup(source: EnricherSource = weatherSource, env: Record<string, string> = {}) {
  const clock = new ManualClock();
  const logs = captureLog();
  const stored: EnrichmentBatch[] = [];
  const announced: EnrichmentUpdate[] = [];
  const metrics = new Registry({ actor: `enricher-${source.name}` });
  const enricher = new Enricher({
    source,
    config: fixtureConfig(fixture.url, env),
    clock,
    log: logs.log,
    metrics,
    random: () => 0.5,
    store: async (b) => {
      stored.push(b);
    },
    announce: (u) => {
      announced.push(u);
      return true;
    },
  });
  if (source.needsLocation) enricher.setLocation(HOME);
  return { clock, logs, stored, announced, enricher, metrics };
}

describe("Enricher against the fixture APIs", () => {
  test("a good weather response becomes stored readings, webhook updates and a fresh latest view", async () => {
    const { enricher, stored, announced } = setup();
    await enricher.poll();
    expect(stored).toHaveLength(1);
    expect(stored[0].source).toBe("weather");
    expect(stored[0].readings.map((r) => [r.metric, r.value])).toEqual([
      ["temperature_c", 7.4],
      ["humidity_pct", 71],
      ["cloud_cover_pct", 100],
      ["precipitation_mm", 0.1],
      ["wind_speed_kmh", 12.6],
    ]);
    expect(announced[0]).toEqual({
      type: "enrichment",
      source: "weather",
      metric: "temperature_c",
      value: 7.4,
      ts: T0,
    });
    expect(fixture.queries.get("/v1/forecast")?.get("latitude")).toBe("52.52");
    const view = enricher.latest();
    expect(view).toMatchObject({ source: "weather", health: "ok", stale: false, ageMs: 0, lastError: null });
    expect(view.values).toHaveLength(5);
  });

  test("prices and carbon need no location and store every new point once", async () => {
    const prices = setup(pricesSource);
    await prices.enricher.poll();
    expect(prices.stored[0].readings.map((r) => r.value)).toEqual([92.5, 88.1, -3.2]);
    prices.clock.advance(3600_000);
    await prices.enricher.poll();
    expect(prices.stored).toHaveLength(1); // same points again: nothing new to store
    const carbon = setup(carbonSource);
    await carbon.enricher.poll();
    expect(carbon.stored[0].readings[0]).toEqual({
      metric: "intensity_gco2_kwh",
      ts: Date.parse("2025-11-24T16:00Z"),
      value: 182,
    });
  });

  const badCases: [FixtureMode, string, RegExp][] = [
    ["html", "html-error-page", /HTTP 200 .*HTML page \("502 Bad Gateway"\)/],
    ["server-error", "server-error", /HTTP 503/],
    ["html-server-error", "server-error", /HTTP 502 .*HTML error page \("502 Bad Gateway"\)/],
    ["client-error", "client-error", /HTTP 400.*Parameter 'current' is invalid; check the base URL/],
    ["truncated-json", "malformed-json", /not complete JSON/],
    ["cut-connection", "truncated", /closed before the body was complete/],
    ["changed-schema", "changed-schema", /field \/current\/time: Expected integer/],
    ["timeout", "timeout", /no complete response within 300 ms/],
  ];
  test.each(badCases)(
    "%s: logged with source and reason; last good value kept, marked stale with its age",
    async (mode, reason, detail) => {
      const { enricher, clock, logs, stored, metrics } = setup();
      await enricher.poll();
      fixture.mode = mode;
      clock.advance(400_000); // past the 5 min TTL
      await enricher.poll();
      const errors = logs.lines.filter((l) => l.level === "error");
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ source: "weather", reason, consecutiveFailures: 1 });
      expect(errors[0].msg).toMatch(detail);
      expect(errors[0].msg).toStartWith(`enricher weather: ${reason}: `);
      expect(stored).toHaveLength(1);
      const view = enricher.latest();
      expect(view).toMatchObject({ health: "stale", stale: true, ageMs: 400_000, fetchedAt: T0 });
      expect(view.values.find((v) => v.metric === "temperature_c")?.value).toBe(7.4);
      expect(view.lastError).toMatchObject({ reason, at: T0 + 400_000 });
      expect(metrics.counter("enricher_failures_total", "", { reason }).value).toBe(1);
    },
  );

  test("a response over the size bound is refused as too-large, and nothing is stored", async () => {
    const { enricher, logs, stored } = setup(pricesSource, { HOMEIQ_ENRICHERS_MAX_RESPONSE_BYTES: "1024" });
    const saved = fixture.data.prices;
    fixture.data.prices = Array.from({ length: 48 }, (_, i) => i);
    try {
      await enricher.poll();
    } finally {
      fixture.data.prices = saved;
    }
    expect(stored).toEqual([]);
    expect(logs.lines.find((l) => l.level === "error")).toMatchObject({
      source: "prices",
      reason: "too-large",
      msg: "enricher prices: too-large: response body is larger than 1024 bytes; keeping the last good value",
    });
  });

  test("the breaker opens after the threshold, stops requests during its cooldown and recovers on a good trial", async () => {
    const { enricher, clock, logs, metrics } = setup();
    fixture.mode = "server-error";
    const before = fixture.total();
    for (let i = 0; i < 3; i++) {
      await enricher.poll();
      clock.advance(1000);
    }
    expect(enricher.latest()).toMatchObject({ breaker: "open", consecutiveFailures: 3, health: "no-data" });
    expect(metrics.gauge("enricher_breaker_open", "").value).toBe(1);
    expect(fixture.total() - before).toBe(3);
    clock.advance(60_000);
    await enricher.poll();
    expect(fixture.total() - before).toBe(3); // open: no request
    fixture.mode = "ok";
    clock.advance(60_000); // cooldown (120 s from the third failure) has passed
    await enricher.poll();
    expect(fixture.total() - before).toBe(4);
    expect(enricher.latest()).toMatchObject({ breaker: "closed", consecutiveFailures: 0, health: "ok" });
    expect(logs.lines.filter((l) => l.level === "error")).toHaveLength(1); // repeats within 10 min: counted
    expect(logs.lines.at(-1)).toMatchObject({
      level: "info",
      msg: "enricher weather recovered",
      afterFailures: 3,
      suppressedLogs: 2,
    });
  });

  test("a fresh cache entry answers without a request; the next poll is due when it turns stale", async () => {
    const { enricher, clock } = setup();
    enricher.start();
    clock.advance(0);
    await waitFor(() => enricher.latest().health === "ok", { timeoutMs: 5000 });
    const hits = fixture.hits.get("/v1/forecast");
    clock.t += 100_000;
    await enricher.poll();
    expect(fixture.hits.get("/v1/forecast")).toBe(hits);
    expect(clock.nextDelay()).toBe(200_000);
    await enricher.stop();
  });

  test("stale-while-revalidate: reading a stale value serves it at once and refreshes it behind", async () => {
    const { enricher, clock, stored } = setup();
    enricher.start();
    clock.advance(0);
    await waitFor(() => stored.length === 1, { timeoutMs: 5000 });
    fixture.data.currentTime += 900;
    fixture.data.temperature = 9.1;
    clock.t += 301_000; // past the TTL, before the scheduled poll fires
    const stale = enricher.latest();
    expect(stale).toMatchObject({ stale: true, ageMs: 301_000 });
    expect(stale.values.find((v) => v.metric === "temperature_c")?.value).toBe(7.4);
    await waitFor(() => enricher.latest().health === "ok", { timeoutMs: 5000 });
    expect(enricher.latest().values.find((v) => v.metric === "temperature_c")?.value).toBe(9.1);
    expect(stored).toHaveLength(2);
    fixture.data.currentTime -= 900;
    fixture.data.temperature = 7.4;
    await enricher.stop();
  });

  test("weather waits for a location, then polls at once; the cache stays within its LRU bound", async () => {
    const clock = new ManualClock();
    const enricher = new Enricher({
      source: weatherSource,
      config: fixtureConfig(fixture.url, { HOMEIQ_ENRICHERS_CACHE_MAX_ENTRIES: "3" }),
      clock,
      log: captureLog().log,
    });
    enricher.start();
    clock.advance(0);
    expect(enricher.latest().health).toBe("waiting-for-location");
    for (let i = 0; i < 6; i++) {
      enricher.setLocation({ latitude: 50 + i, longitude: 10 });
      clock.advance(0);
      await waitFor(() => enricher.latest().health === "ok", { timeoutMs: 5000 });
    }
    expect(enricher.cacheStats()).toEqual({ size: 3, maxEntries: 3, evictions: 3 });
    await enricher.stop();
  });

  test("stopping aborts a request in flight without logging it as a failure or sending anything", async () => {
    const { enricher, clock, logs, stored } = setup(weatherSource, { HOMEIQ_ENRICHERS_TIMEOUT_MS: "60000" });
    fixture.mode = "timeout";
    const hits = fixture.hits.get("/v1/forecast") ?? 0;
    enricher.start();
    clock.advance(0);
    await waitFor(() => (fixture.hits.get("/v1/forecast") ?? 0) > hits, { timeoutMs: 5000 });
    await enricher.stop();
    expect(logs.lines.filter((l) => l.level === "error")).toEqual([]);
    expect(stored).toEqual([]);
    expect(enricher.latest()).toMatchObject({ health: "no-data", lastError: null, consecutiveFailures: 0 });
    expect(clock.nextDelay()).toBeUndefined();
  });

  test("a configured location overrides HA's", async () => {
    const { enricher } = setup(weatherSource, {
      HOMEIQ_ENRICHERS_LATITUDE: "51.5",
      HOMEIQ_ENRICHERS_LONGITUDE: "-0.12",
    });
    await enricher.poll();
    const q = fixture.queries.get("/v1/forecast");
    expect([q?.get("latitude"), q?.get("longitude")]).toEqual(["51.5", "-0.12"]);
  });
});
