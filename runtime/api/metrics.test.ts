import { describe, expect, test } from "bun:test";
import { testApi } from "../../test/support/api.ts";
import { waitFor } from "../kernel/clock.ts";
import type { MetricsSnapshot } from "../kernel/metrics.ts";
import type { RealTimeMetrics } from "./metrics/model.ts";
import { RateTracker } from "./metrics/service.ts";

const counters = (values: Record<string, number>): MetricsSnapshot => ({
  counters: Object.entries(values).map(([name, value]) => ({ name, labels: {}, value })),
  gauges: [
    { name: "influx_lag_events", labels: {}, value: 42 },
    { name: "store_bytes", labels: {}, value: 4096 },
  ],
  histograms: [],
  help: { events_stored_total: "State changes newly stored" },
});

describe("real-time metrics", () => {
  test("totals come from the hub and rates from the change over the window", async () => {
    let now = 1_000_000;
    const { get, deps } = testApi({ now: () => now });
    deps.supervisor.notices.set("connection/ha-status", { state: "connected" });
    deps.metrics.update("connection", counters({ events_received_total: 100 }));
    deps.metrics.update("batcher", counters({ events_stored_total: 90, events_duplicate_total: 10 }));
    const first = (await (await get("/api/v1/real-time-metrics")).json()) as RealTimeMetrics;
    expect(first.rates).toEqual({
      receivedPerSecond: 0,
      storedPerSecond: 0,
      exportedPerSecond: 0,
      windowSeconds: 0,
    });
    expect(first.totals).toMatchObject({
      events_received_total: 100,
      events_stored_total: 90,
      events_exported_total: 0,
      events_duplicate_total: 10,
    });
    expect(first.lag.influxEvents).toBe(84); // both snapshots carry the gauge; the hub sums sources
    expect(first.ha).toEqual({ connected: true, status: { state: "connected" } });
    expect(first.influx).toEqual({ configured: false });
    now += 2000;
    deps.metrics.update("connection", counters({ events_received_total: 2100 }));
    deps.metrics.update("batcher", counters({ events_stored_total: 1090, events_duplicate_total: 10 }));
    const second = (await (await get("/api/v1/real-time-metrics")).json()) as RealTimeMetrics;
    expect(second.rates).toEqual({
      receivedPerSecond: 1000,
      storedPerSecond: 500,
      exportedPerSecond: 0,
      windowSeconds: 2,
    });
    expect(second.actors.map((a) => a.name)).toEqual(["metadata", "batcher", "connection"]);
  });

  test("influx.configured follows HOMEIQ_INFLUX_URL, so the overview can say it is not set", async () => {
    const view = async (env: Record<string, string>) =>
      ((await (await testApi({ env }).get("/api/v1/real-time-metrics")).json()) as RealTimeMetrics).influx;
    expect(await view({})).toEqual({ configured: false });
    const influx = {
      HOMEIQ_INFLUX_URL: "http://127.0.0.1:8086",
      HOMEIQ_INFLUX_TOKEN: "t",
      HOMEIQ_INFLUX_ORG: "home",
      HOMEIQ_INFLUX_BUCKET: "ha",
    };
    expect(await view(influx)).toEqual({ configured: true });
  });

  test("each actor's CPU time and the process's memory and CPU come with the view", async () => {
    const { get, deps } = testApi();
    const cpu = (actor: string, value: number): MetricsSnapshot => ({
      counters: [{ name: "actor_cpu_seconds_total", labels: { actor }, value }],
      gauges: [],
      histograms: [],
      help: {},
    });
    deps.metrics.update("batcher", cpu("batcher", 2.5));
    // A restarted actor's thread starts from zero: the hub carries the earlier total forward.
    deps.metrics.update("batcher", cpu("batcher", 0.5));
    deps.metrics.update("connection", cpu("connection", 1.25));
    const view = (await (await get("/api/v1/real-time-metrics")).json()) as RealTimeMetrics;
    const byName = Object.fromEntries(view.actors.map((a) => [a.name, a.cpuSeconds]));
    expect(byName).toEqual({ metadata: 0, batcher: 3, connection: 1.25 });
    // The test process itself: tens of MB resident at least, and some CPU spent.
    expect(view.process.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(view.process.cpuSeconds).toBeGreaterThan(0);
    if (process.platform === "linux") expect(view.process.hubCpuSeconds).toBeGreaterThan(0);
  });

  test("/metrics is Prometheus text of every actor's metrics plus the hub's own", async () => {
    const { get, deps } = testApi();
    deps.metrics.update("batcher", counters({ events_stored_total: 7 }));
    await get("/api/v1/areas");
    // Request metrics are recorded after the response is sent.
    await waitFor(() => deps.registry.snapshot().counters.some((c) => c.name === "api_requests_total"), {
      timeoutMs: 1000,
    });
    const r = await get("/metrics");
    expect(r.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await r.text();
    expect(text).toContain("# TYPE homeiq_events_stored_total counter");
    expect(text).toContain("homeiq_events_stored_total 7");
    expect(text).toContain('homeiq_api_sse_clients{actor="hub"} 0');
    expect(text).toContain("# TYPE homeiq_process_resident_memory_bytes gauge");
    expect(text).toMatch(/homeiq_process_cpu_seconds_total\{actor="hub"\} \d/);
    expect(text).toContain('homeiq_api_bound{actor="hub",bound="sseQueueMax"} 1000');
    expect(text).toMatch(
      /homeiq_api_requests_total\{actor="hub",route="GET \/api\/v1\/areas",status="200"\} 1/,
    );
  });
});

describe("RateTracker", () => {
  test("keeps one baseline before the window and drops older samples", () => {
    const r = new RateTracker(10_000);
    const v = (n: number) => ({ events_received_total: n, events_stored_total: n, events_exported_total: n });
    r.observe(0, v(0));
    r.observe(5_000, v(50));
    r.observe(12_000, v(120));
    // The baseline is the newest sample at or before 20 s - 10 s: the one at 5 s.
    const out = r.observe(20_000, v(200));
    expect(out.windowSeconds).toBe(15);
    expect(out.perSecond.events_received_total).toBe(10);
  });
});
