import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config/load.ts";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { MetricsHub } from "../../runtime/kernel/metrics.ts";
import { Supervisor } from "../../runtime/kernel/supervisor.ts";
import type { EventStats } from "../../runtime/store/insights/stats.ts";
import { PLANTED, syntheticHome } from "../../test/support/synthetic-home/insights.ts";
import { seedStore } from "../../test/support/synthetic-home/insights-store.ts";
import type { HealthMessage } from "../webhook-dispatcher/messages.ts";
import type { HealthReport } from "./analyses.ts";
import type { EnergyReport } from "./energy.ts";
import { EDGE_TO_WEBHOOKS, insightsRequest } from "./messages.ts";

const NOW = Date.now() - 1000;
const home = syntheticHome({ seed: 4, days: 2, now: NOW });
let dir: string;
let supervisor: Supervisor;
const hub = new MetricsHub();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "insights-w-"));
  seedStore(dir, home.events);
  const config = loadConfig({ env: { HOMEIQ_DATA_DIR: dir, HOMEIQ_LOG_LEVEL: "silent" } });
  supervisor = new Supervisor(
    {
      children: [
        {
          name: "health-sink",
          module: new URL("../../test/support/workers/health-sink.ts", import.meta.url).pathname,
        },
        { name: "insights", module: new URL("./worker.ts", import.meta.url).pathname },
      ],
      edges: [{ name: EDGE_TO_WEBHOOKS, from: "insights", to: "health-sink", capacity: 4, retain: true }],
      maxRestarts: 0,
      periodMs: 10_000,
      backoffMinMs: 10,
      backoffMaxMs: 100,
      startTimeoutMs: 30_000,
      metricsIntervalMs: 200,
      logLevel: "silent",
      config,
    },
    { log: createLogger({ actor: "test", level: "silent" }), metrics: hub, onFatal: () => {} },
  );
  await supervisor.start();
});
afterAll(async () => {
  await supervisor.stop(10_000);
  rmSync(dir, { recursive: true, force: true });
});

describe("insights actor under the supervisor", () => {
  test("runs health and energy each in a thread of its own, ended with the run", async () => {
    // Both kinds run at start.
    await waitFor(() => hub.counter("insights_analysis_threads_total", { actor: "insights" }) >= 2, {
      timeoutMs: 30_000,
      what: "threads for the health and the energy run",
    });
    await waitFor(() => hub.gauge("insights_analysis_threads", { actor: "insights" }) === 0, {
      timeoutMs: 30_000,
      what: "the analysis threads ended",
    });
    const health = (await supervisor.call("insights", insightsRequest.health())) as HealthReport;
    expect(health.entities).toBeGreaterThan(0);
  });

  test("sends one health change per planted fault to the webhook edge", async () => {
    const seen = await waitFor(
      async () => {
        const got = (await supervisor.call("health-sink", null)) as HealthMessage[];
        return got.length >= 4 ? got : null;
      },
      { timeoutMs: 30_000, what: "four health messages" },
    );
    expect(seen.map((m) => [m.entity_id, m.status]).sort()).toEqual(
      [
        [PLANTED.flapping, "flapping"],
        [PLANTED.lowBattery, "low_battery"],
        [PLANTED.staleSensor, "stale"],
        [PLANTED.unavailable, "unavailable"],
      ].sort(),
    );
    expect(seen.find((m) => m.entity_id === PLANTED.unavailable)?.ts).toBe(NOW - PLANTED.unavailableForMs);
  });

  test("answers health, energy and stats calls from what it keeps", async () => {
    const health = (await supervisor.call("insights", insightsRequest.health(), 30_000)) as HealthReport;
    expect(health.unhealthy).toHaveLength(4);
    const energy = (await supervisor.call("insights", insightsRequest.energy(), 30_000)) as EnergyReport;
    expect(energy.devices.find((d) => d.entity_id === "switch.kettle")?.measurable).toBe(true);
    const stats = (await supervisor.call("insights", insightsRequest.stats("7d"), 30_000)) as EventStats;
    // The store keeps one event per (entity, time): the synthetic home may repeat one.
    expect(stats.total).toBe(new Set(home.events.map((e) => `${e.entity_id}@${e.ts}`)).size);
  });

  test("refuses a malformed call with the field named", async () => {
    await expect(supervisor.call("insights", { type: "stats", window: "2h" })).rejects.toThrow(/window/);
  });
});
