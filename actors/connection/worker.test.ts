/**
 * The connection and metadata actors in real workers under the supervisor, against the simulator. The
 * batcher end of `connection->batcher` is the test (the hub), so it can be made slow on purpose.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config/load.ts";
import type { BatcherMessage } from "../../runtime/events/messages.ts";
import { unpackEvents } from "../../runtime/events/packed.ts";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { MetricsHub } from "../../runtime/kernel/metrics.ts";
import { HUB, Supervisor } from "../../runtime/kernel/supervisor.ts";
import { changeKey } from "../../sim/history.ts";
import { type Simulator, startSimulator } from "../../sim/server.ts";
import { EDGES } from "../edges.ts";
import { openMetadataReader } from "../metadata/reader.ts";

setDefaultTimeout(60000);

const actor = (name: string) => ({
  name,
  module: new URL(`../${name}/worker.ts`, import.meta.url).pathname,
});

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function start(opts: { env?: Record<string, string>; capacity?: number; rate?: number }) {
  // HA's default recorder: history sees a change only after its 5 s commit_interval.
  const sim: Simulator = await startSimulator({ entities: 100, rate: 0, token: "t" });
  cleanup.push(() => sim.stop());
  const dataDir = mkdtempSync(join(tmpdir(), "homeiq-conn-"));
  cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadConfig({
    env: {
      HOMEIQ_DATA_DIR: dataDir,
      HOMEIQ_HA_URL: sim.url,
      HOMEIQ_HA_TOKEN: "t",
      HOMEIQ_HA_RECONNECT_MIN_MS: "20",
      HOMEIQ_HA_RECONNECT_MAX_MS: "200",
      HOMEIQ_LOG_LEVEL: "silent",
      ...opts.env,
    },
  });
  const metrics = new MetricsHub();
  const supervisor = new Supervisor(
    {
      children: [actor("metadata"), actor("connection")],
      edges: [
        { name: EDGES.connectionToMetadata, from: "connection", to: "metadata", capacity: 16, retain: true },
        {
          name: EDGES.connectionToBatcher,
          from: "connection",
          to: HUB,
          capacity: opts.capacity ?? 32,
          retain: true,
        },
      ],
      maxRestarts: 3,
      periodMs: 30000,
      backoffMinMs: 20,
      backoffMaxMs: 200,
      startTimeoutMs: 10000,
      metricsIntervalMs: 50,
      logLevel: "silent",
      config,
    },
    { log: createLogger({ actor: "supervisor", level: "silent" }), metrics, onFatal: () => {} },
  );
  const got: string[] = [];
  /** Changes per events message, in arrival order. */
  const sizes: number[] = [];
  const renames: [string, string][] = [];
  const consumer = { delayMs: 0 };
  supervisor.onHubMessage<BatcherMessage>(EDGES.connectionToBatcher, async (m) => {
    if (m.type === "events") sizes.push(m.events.n);
    if (m.type === "events")
      for (const e of unpackEvents(m.events)) got.push(changeKey(e.entity_id, e.last_updated));
    else if (m.type === "rename") renames.push([m.from, m.to]);
    if (consumer.delayMs > 0) await Bun.sleep(consumer.delayMs); // a slow pipeline, on purpose
  });
  await supervisor.start();
  cleanup.push(async () => {
    await supervisor.stop(5000);
  });
  return { sim, dataDir, supervisor, metrics, got, sizes, renames, consumer };
}

async function expectExactlyOnce(sim: Simulator, got: string[]) {
  sim.setRate(0);
  const emitted = sim.emittedKeys();
  await waitFor(
    () => {
      const have = new Set(got);
      return emitted.every((k) => have.has(k));
    },
    { timeoutMs: 30000, what: "every emitted change downstream" },
  );
  expect(new Set(got).size).toBe(got.length);
  expect(new Set(got)).toEqual(new Set(emitted));
}

describe("connection actor (worker) with a slow pipeline", () => {
  test("spools to disk while the next mailbox has no credit, shows it in metrics, and delivers everything once", async () => {
    const t = await start({ capacity: 2 });
    await waitFor(() => t.got.length === 100, { timeoutMs: 10000, what: "snapshot" });
    t.consumer.delayMs = 30;
    t.sim.setRate(3000);
    await waitFor(() => t.metrics.gauge("spool_events") > 0, { timeoutMs: 10000, what: "spool in use" });
    expect(t.metrics.gauge("spool_bytes")).toBeGreaterThan(0);
    t.consumer.delayMs = 0;
    await expectExactlyOnce(t.sim, t.got);
    await waitFor(() => t.metrics.gauge("spool_events") === 0, { timeoutMs: 5000, what: "spool drained" });
    expect(t.metrics.counter("events_received_total")).toBe(t.got.length);
    expect(t.metrics.gauge("ha_connected")).toBe(1);
    expect(t.supervisor.notice("connection", "ha-status")).toMatchObject({
      state: "connected",
      haVersion: "2025.11.2",
    });
  });

  test("when the spool bound is hit it closes the HA socket, drains, reconnects and backfills: nothing lost or doubled", async () => {
    const t = await start({ capacity: 1, env: { HOMEIQ_HA_SPOOL_MAX_BYTES: String(1024 * 1024) } });
    await waitFor(() => t.got.length === 100, { timeoutMs: 10000, what: "snapshot" });
    t.consumer.delayMs = 40;
    t.sim.setRate(8000);
    await waitFor(() => t.metrics.counter("spool_full_total") > 0, { timeoutMs: 20000, what: "spool full" });
    t.consumer.delayMs = 0;
    await waitFor(() => t.metrics.gauge("ha_connected") === 1 && t.sim.stats().connections >= 2, {
      timeoutMs: 20000,
      what: "resume after drain",
    });
    await expectExactlyOnce(t.sim, t.got);
  });
});

describe("connection actor (worker) batch bound", () => {
  test("hands changes on in batches of at most ha.forwardMaxEvents (the snapshot, a coalesced frame, a backfill)", async () => {
    const t = await start({ env: { HOMEIQ_HA_FORWARD_MAX_EVENTS: "16" } });
    await waitFor(() => t.got.length === 100, { timeoutMs: 10000, what: "snapshot" });
    // The 100-entity snapshot came as one answer: split in 16s.
    expect(t.sizes.slice(0, 7)).toEqual([16, 16, 16, 16, 16, 16, 4]);
    t.sim.setRate(5000);
    await waitFor(() => t.got.length >= 1100, { timeoutMs: 10000, what: "live changes" });
    await expectExactlyOnce(t.sim, t.got);
    expect(Math.max(...t.sizes)).toBeLessThanOrEqual(16);
    expect(t.metrics.gauge("ha_forward_max_events")).toBe(16);
  });

  test("split batches past a full spool are all held and handed on after the drain: nothing lost or doubled", async () => {
    const t = await start({
      capacity: 1,
      env: { HOMEIQ_HA_SPOOL_MAX_BYTES: String(1024 * 1024), HOMEIQ_HA_FORWARD_MAX_EVENTS: "16" },
    });
    await waitFor(() => t.got.length === 100, { timeoutMs: 10000, what: "snapshot" });
    t.consumer.delayMs = 40;
    t.sim.setRate(8000);
    await waitFor(() => t.metrics.counter("spool_full_total") > 0, { timeoutMs: 20000, what: "spool full" });
    t.consumer.delayMs = 0;
    await waitFor(() => t.metrics.gauge("ha_connected") === 1 && t.sim.stats().connections >= 2, {
      timeoutMs: 20000,
      what: "resume after drain",
    });
    await expectExactlyOnce(t.sim, t.got);
    expect(Math.max(...t.sizes)).toBeLessThanOrEqual(16);
  });
});

describe("metadata actor fed by the connection", () => {
  test("stores the registries, follows an entity rename and keeps the old id as an alias", async () => {
    const t = await start({});
    const reader = openMetadataReader(t.dataDir);
    cleanup.push(() => reader.close());
    await waitFor(() => reader.entities({ limit: 1 }).total === 100 && reader.areas().length === 8, {
      timeoutMs: 10000,
      what: "registries in metadata.db",
    });
    expect(reader.haConfig()?.time_zone).toBe("Europe/Amsterdam");
    const from = "sensor.kitchen_multisensor_7_1_temperature";
    const to = "sensor.kitchen_temperature";
    t.sim.fault("rename", `${from}->${to}`);
    await waitFor(() => reader.entity(to)?.aliases.length === 1, {
      timeoutMs: 10000,
      what: "rename applied",
    });
    expect(reader.entity(to)?.aliases).toEqual([from]);
    expect(reader.entity(from)?.entity_id).toBe(to);
    expect(reader.resolve(from)).toBe(to);
    expect(reader.entities({ q: "multisensor_7_1_temperature", area: "kitchen", limit: 10 }).items).toEqual(
      [],
    );
    // The batcher hears of it on its own edge (order across edges is not defined).
    await waitFor(() => t.renames.length === 1, { timeoutMs: 5000, what: "rename on connection->batcher" });
    expect(t.renames).toEqual([[from, to]]);
  });
});
