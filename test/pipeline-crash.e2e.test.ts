/**
 * Crash: SIGKILL the whole HomeIQ process mid-stream, start it again on the same data dir; the store and
 * the Influx stand-in (victoria-metrics) still hold every event the simulated home emitted exactly once
 * (backfill from the newest stored event covers the gap; the export cursor resumes where it was durable).
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { waitFor } from "../runtime/kernel/clock.ts";
import { Stack } from "./support/stack.ts";

let stack: Stack | undefined;
afterAll(async () => {
  await stack?.stop();
}, 60_000);

/** Distinct (series, timestamp) pairs in victoria-metrics: InfluxDB's notion of a point. */
async function influxPoints(url: string): Promise<number> {
  await fetch(`${url}/internal/force_flush`);
  const selector = encodeURIComponent('{__name__=~".+_(value|state)"}');
  const text = await (await fetch(`${url}/api/v1/export?match[]=${selector}`)).text();
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line) continue;
    const row = JSON.parse(line) as { metric: Record<string, string>; timestamps: number[] };
    for (const t of row.timestamps) seen.add(`${row.metric.entity_id}@${t}`);
  }
  return seen.size;
}

/** victoria-metrics holds every stored event once, the writer has no lag and no dead letters. */
async function expectEveryStoredPointInInflux(stack: Stack): Promise<void> {
  const vm = stack.vm!;
  // victoria-metrics keeps milliseconds (InfluxDB keeps our microseconds): two changes of one entity in
  // the same millisecond are one sample there, so the store is counted at that resolution too.
  const db = new Database(join(stack.dataDir, "events.db"), { readonly: true });
  const base = (db.query("SELECT value FROM meta WHERE key = 'base_us'").get() as { value: number }).value;
  const { distinctMs } = db
    .query("SELECT count(DISTINCT (((id >> 16) + ?) / 1000) * 65536 + e) AS distinctMs FROM events")
    .get(base) as { distinctMs: number };
  db.close();
  // Metrics reach the API once per metricsIntervalMs: wait for the lag gauge as well as for the points.
  await waitFor(
    async () => (await influxPoints(vm.url)) >= distinctMs && (await stack.metric("influx_lag_events")) === 0,
    {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: "every stored event in victoria-metrics",
    },
  ).catch(() => undefined); // the assertion below shows what is missing
  const figures = {
    points: await influxPoints(vm.url),
    exported: await stack.metric("events_exported_total"),
    lag: await stack.metric("influx_lag_events"),
    dead: await stack.metric("influx_dead_letter_total"),
    failures: await stack.metric("influx_write_failures_total"),
  };
  expect(figures).toEqual({
    points: distinctMs,
    exported: figures.exported,
    lag: 0,
    dead: 0,
    failures: figures.failures,
  });
}

describe("pipeline under a whole-process crash and an Influx outage", () => {
  test("SIGKILL mid-stream, restart: store and Influx hold every emitted event exactly once", async () => {
    stack = new Stack({
      entities: 40,
      historyMax: 200_000,
      influx: true,
      env: { HOMEIQ_INFLUX_FLUSH_INTERVAL_MS: "50" },
    });
    await stack.start();
    await stack.setRate(200);
    expect(await stack.storedAtLeast(1000, 60_000)).toBe(true);
    await stack.homeiq?.stop("SIGKILL");
    // The home keeps changing while HomeIQ is down; those changes must come back through backfill.
    const atKill = (await stack.simStats()).sent;
    await waitFor(async () => (await stack!.simStats()).sent >= atKill + 400, {
      timeoutMs: 30_000,
      what: "events emitted while HomeIQ is down",
    });
    await stack.startHomeIQ();
    await waitFor(async () => (await stack!.simStats()).sent >= atKill + 800, {
      timeoutMs: 30_000,
      what: "events emitted after the restart",
    });
    await stack.setRate(0);
    const emitted = (await stack.simStats()).sent;
    await waitFor(async () => (await stack!.exactness()).stored >= emitted, {
      timeoutMs: 60_000,
      what: "every emitted event stored",
    });
    expect(await stack.exactness()).toEqual({ stored: emitted, lost: 0, duplicated: 0, mismatched: 0 });
    await expectEveryStoredPointInInflux(stack);
  }, 240_000);

  test("InfluxDB down mid-stream, back later: the server ends with every event once, the store too", async () => {
    await stack?.stop();
    stack = new Stack({
      entities: 40,
      historyMax: 200_000,
      influx: true,
      env: {
        HOMEIQ_INFLUX_FLUSH_INTERVAL_MS: "50",
        HOMEIQ_INFLUX_RETRY_MIN_MS: "50",
        HOMEIQ_INFLUX_RETRY_MAX_MS: "500",
        HOMEIQ_INFLUX_BREAKER_COOLDOWN_MS: "500",
      },
    });
    await stack.start();
    await stack.setRate(200);
    expect(await stack.storedAtLeast(800, 60_000)).toBe(true);
    await stack.vm?.stop();
    const atStop = await stack.metric("events_stored_total");
    expect(await stack.storedAtLeast(atStop + 1000, 60_000)).toBe(true);
    expect(await stack.metric("influx_lag_events")).toBeGreaterThan(0);
    await stack.vm?.start();
    await stack.setRate(0);
    const emitted = (await stack.simStats()).sent;
    await waitFor(async () => (await stack!.exactness()).stored >= emitted, {
      timeoutMs: 60_000,
      what: "every emitted event stored",
    });
    expect(await stack.exactness()).toEqual({ stored: emitted, lost: 0, duplicated: 0, mismatched: 0 });
    expect(await stack.metric("influx_write_failures_total")).toBeGreaterThan(0);
    await expectEveryStoredPointInInflux(stack);
  }, 240_000);
});
