import { afterAll, describe, expect, test } from "bun:test";
import { buildTree } from "../../runtime/app/tree.ts";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { MetricsHub } from "../../runtime/kernel/metrics.ts";
import { HUB, Supervisor } from "../../runtime/kernel/supervisor.ts";
import { startFixtureServer } from "../../test/support/enricher-apis.ts";
import { fixtureConfig } from "../../test/support/enricher-config.ts";
import { forwardHaLocation, type NoticeSource } from "./location.ts";
import type { LogEffect, SourceStatus } from "./logic.ts";
import { type EnrichmentBatch, enricherMessage } from "./messages.ts";
import { sourceNamed } from "./sources/index.ts";

const fixture = startFixtureServer();
const ENRICHER = new URL("./worker.ts", import.meta.url).pathname;

describe("enricher actors under the supervisor", () => {
  const config = fixtureConfig(fixture.url, { HOMEIQ_LOG_LEVEL: "silent" });
  const supervisor = new Supervisor(
    {
      children: [
        { name: "enricher-weather", module: ENRICHER, args: ["weather"] },
        { name: "enricher-prices", module: ENRICHER, args: ["prices"] },
      ],
      edges: [
        { name: "enricher-weather->batcher", from: "enricher-weather", to: HUB, capacity: 4, retain: true },
        { name: "enricher-prices->batcher", from: "enricher-prices", to: HUB, capacity: 4, retain: true },
      ],
      maxRestarts: 1,
      periodMs: 30000,
      backoffMinMs: 10,
      backoffMaxMs: 100,
      startTimeoutMs: 10000,
      metricsIntervalMs: 50,
      logLevel: "silent",
      config,
    },
    {
      log: createLogger({ actor: "supervisor", level: "silent" }),
      metrics: new MetricsHub(),
      onFatal: () => {},
    },
  );
  const batches: EnrichmentBatch[] = [];
  supervisor.onHubMessage<EnrichmentBatch>("enricher-weather->batcher", (b) => void batches.push(b));
  supervisor.onHubMessage<EnrichmentBatch>("enricher-prices->batcher", (b) => void batches.push(b));
  afterAll(async () => {
    await supervisor.stop(5000);
    await fixture.stop();
  });

  test("prices poll at start; weather waits for HA's location, then its readings reach the batcher edge", async () => {
    await supervisor.start();
    await waitFor(() => batches.some((b) => b.source === "prices"), {
      timeoutMs: 10000,
      what: "prices batch",
    });
    const waiting = (await supervisor.call("enricher-weather", enricherMessage.latest())) as SourceStatus;
    expect(waiting.health).toBe("waiting-for-location");
    await supervisor.call("enricher-weather", enricherMessage.location(52.52, 13.41));
    const weather = await waitFor(() => batches.find((b) => b.source === "weather"), { timeoutMs: 10000 });
    expect(weather.readings.find((r) => r.metric === "temperature_c")).toEqual({
      metric: "temperature_c",
      ts: 1_764_000_000_000,
      value: 7.4,
    });
    const latest = (await supervisor.call("enricher-weather", { type: "latest" })) as SourceStatus;
    expect(latest).toMatchObject({ source: "weather", health: "ok", stale: false, lastError: null });
  });

  test("a bad response is reported through latest and the actor keeps running", async () => {
    fixture.mode = "html";
    const after = (await supervisor.call("enricher-prices", enricherMessage.refresh())) as SourceStatus;
    expect(after.lastError).toMatchObject({ reason: "html-error-page" });
    expect(after.values.length).toBe(1);
    expect(supervisor.status().map((s) => [s.name, s.state, s.restarts])).toEqual([
      ["enricher-weather", "running", 0],
      ["enricher-prices", "running", 0],
    ]);
    fixture.mode = "ok";
  });

  test("a malformed call is answered with a precise error", async () => {
    await expect(
      supervisor.call("enricher-weather", { type: "location", latitude: 123, longitude: 0 }),
    ).rejects.toThrow('actor "enricher-weather" rejected message "location": field /latitude');
  });
});

describe("forwardHaLocation", () => {
  function fakeSupervisor() {
    let listener: (actor: string, name: string, data: unknown) => void = () => {};
    const calls: [string, unknown][] = [];
    const sup: NoticeSource = {
      onNotice: (l) => {
        listener = l;
      },
      call: async (actor, body) => {
        calls.push([actor, body]);
        return null;
      },
      status: () => [
        { name: "connection", state: "running" },
        { name: "enricher-weather", state: "running" },
        { name: "enricher-air-quality", state: "restarting" },
      ],
    };
    return { sup, calls, emit: (a: string, n: string, d: unknown) => listener(a, n, d) };
  }

  test("HA's get_config goes to running enrichers; one that starts later asks and gets it", () => {
    const { sup, calls, emit } = fakeSupervisor();
    const warnings: LogEffect[] = [];
    forwardHaLocation(sup, {
      ...createLogger({ actor: "t", level: "silent" }),
      warn: (msg) => void warnings.push({ level: "warn", msg, fields: {} }),
    });
    emit("enricher-air-quality", "needs-location", { source: "air-quality" }); // nothing known yet
    emit("connection", "ha-config", { latitude: 48.2, longitude: 16.37, time_zone: "Europe/Vienna" });
    emit("enricher-air-quality", "needs-location", { source: "air-quality" });
    const loc = { type: "location", latitude: 48.2, longitude: 16.37 };
    expect(calls).toEqual([
      ["enricher-weather", loc],
      ["enricher-air-quality", loc],
    ]);
    emit("connection", "ha-config", { latitude: "n/a" });
    expect(warnings).toHaveLength(1);
    expect(calls).toHaveLength(2);
  });
});

test("the tree runs only the enabled enrichers, wired to the batcher and the webhook dispatcher", () => {
  const tree = buildTree(
    fixtureConfig("http://x", { HOMEIQ_ENRICHERS_AIR_QUALITY: "false", HOMEIQ_ENRICHERS_PRICES: "off" }),
  );
  const enrichers = tree.children.slice(-2);
  // One module, spawned per enabled source with the source as its argument; the actor names stay.
  expect(enrichers).toEqual([
    { name: "enricher-weather", module: ENRICHER, args: ["weather"] },
    { name: "enricher-carbon", module: ENRICHER, args: ["carbon"] },
  ]);
  const edges = tree.edges.filter((e) => e.from.startsWith("enricher-")).map((e) => [e.name, e.to, e.retain]);
  expect(edges).toEqual([
    ["enricher-weather->batcher", "batcher", true],
    ["enricher-weather->webhooks", "webhook-dispatcher", false],
    ["enricher-carbon->batcher", "batcher", true],
    ["enricher-carbon->webhooks", "webhook-dispatcher", false],
  ]);
});

test("a child spec naming no known source is refused with the list of sources and how to fix it", () => {
  expect(() => sourceNamed("tides")).toThrow(
    'enricher started with source "tides"; expected one of weather, air-quality, carbon, prices. Fix: give its child spec args: [<source>]',
  );
  expect(() => sourceNamed(undefined)).toThrow("enricher started with source undefined");
  expect(sourceNamed("carbon").name).toBe("carbon");
});

test("a half-given location override or inverted retry bounds is a config error saying how to fix it", async () => {
  const { ConfigError, loadConfig } = await import("../../runtime/config/load.ts");
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ env });
      return [];
    } catch (error) {
      return (error as InstanceType<typeof ConfigError>).problems;
    }
  };
  expect(problems({ HOMEIQ_ENRICHERS_LATITUDE: "52.5" })).toEqual([
    "HOMEIQ_ENRICHERS_LATITUDE: set without its partner. Fix: set both HOMEIQ_ENRICHERS_LATITUDE and HOMEIQ_ENRICHERS_LONGITUDE to override Home Assistant's location, or neither.",
  ]);
  expect(problems({ HOMEIQ_ENRICHERS_RETRY_MIN_MS: "9000", HOMEIQ_ENRICHERS_RETRY_MAX_MS: "100" })).toEqual([
    "HOMEIQ_ENRICHERS_RETRY_MIN_MS: larger than HOMEIQ_ENRICHERS_RETRY_MAX_MS. Fix: make the minimum the smaller of the two.",
  ]);
  expect(problems({ HOMEIQ_ENRICHERS_LATITUDE: "52.5", HOMEIQ_ENRICHERS_LONGITUDE: "4.9" })).toEqual([]);
});
