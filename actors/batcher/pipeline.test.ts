/**
 * The batcher and influx-writer as real worker actors under the supervisor: the hub plays the connection
 * (it re-sends overlapping batches, as snapshot + backfill + redelivery do), victoria-metrics plays InfluxDB.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config/load.ts";
import {
  type BatcherMessage,
  batcherMessage,
  type StateChange,
  type StoredBatch,
} from "../../runtime/events/messages.ts";
import { packEvents, unpackEvents } from "../../runtime/events/packed.ts";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { MetricsHub } from "../../runtime/kernel/metrics.ts";
import { HUB, Supervisor } from "../../runtime/kernel/supervisor.ts";
import { ExportAcknowledged } from "../../runtime/store/export-ack.ts";
import { openStoreReader } from "../../runtime/store/reader.ts";
import { metaPosition } from "../../runtime/store/tail.ts";
import { startVictoriaMetrics, type VictoriaMetrics } from "../../test/support/victoria-metrics.ts";
import { EDGES } from "../edges.ts";
import { InfluxState } from "../influx-writer/state.ts";
import { addStored, flushDue, initialFanOut } from "./logic.ts";

const T0 = Date.UTC(2026, 10, 24, 12) * 1000;
const change = (i: number): StateChange => ({
  entity_id: `sensor.pipe_${i % 7}`,
  state: String(i),
  attributes: "{}",
  last_changed: T0 + i * 1000,
  last_updated: T0 + i * 1000,
  context_id: null,
  context_parent_id: null,
  context_user_id: null,
});

describe("batcher fan-out rules", () => {
  test("coalesces stored events until maxEvents or maxDelayMs, then flushes them in order", () => {
    const limits = { maxEvents: 5, maxDelayMs: 50 };
    const batch = (...ids: number[]) => packEvents(ids.map(change));
    const states = (p: ReturnType<typeof packEvents> | null) => (p ? unpackEvents(p).map((e) => e.state) : p);
    const a = addStored(initialFanOut(), batch(1, 2), 1000, limits);
    expect([a.flush, a.armMs]).toEqual([null, 50]);
    const b = addStored(a.state, batch(3), 1010, limits);
    expect([b.flush, b.armMs]).toEqual([null, null]);
    const c = addStored(b.state, batch(4, 5, 6), 1020, limits);
    expect(states(c.flush)).toEqual(["1", "2", "3", "4", "5", "6"]);
    const d = addStored(c.state, batch(7), 1030, limits);
    expect(states(flushDue(d.state).flush)).toEqual(["7"]);
  });
});

describe("batcher to the webhook dispatcher", () => {
  test("each stored batch names its one source, so rules can tell live changes from snapshot and backfill", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homeiq-batcher-sources-"));
    const supervisor = new Supervisor(
      {
        children: [{ name: "batcher", module: new URL("./worker.ts", import.meta.url).pathname }],
        edges: [
          { name: "hub->batcher", from: HUB, to: "batcher", capacity: 64, retain: true },
          // Capacity 1: the batcher waits for each forwarded batch's ack, so what arrives meanwhile queues up.
          { name: EDGES.batcherToWebhooks, from: "batcher", to: HUB, capacity: 1, retain: true },
        ],
        maxRestarts: 0,
        periodMs: 30000,
        backoffMinMs: 20,
        backoffMaxMs: 200,
        startTimeoutMs: 15000,
        metricsIntervalMs: 50,
        logLevel: "silent",
        config: loadConfig({ env: { HOMEIQ_DATA_DIR: dir } }),
      },
      {
        log: createLogger({ actor: "supervisor", level: "silent" }),
        metrics: new MetricsHub(),
        onFatal: () => {},
      },
    );
    const seen: string[] = [];
    supervisor.onHubMessage<StoredBatch>(EDGES.batcherToWebhooks, (m) => {
      for (const e of unpackEvents(m.events)) seen.push(`${m.source}:${e.state}`);
    });
    await supervisor.start();
    try {
      const out = supervisor.hubOutbox<BatcherMessage>("hub->batcher");
      // While the batcher waits for credit on the webhooks edge the rest queue up, and it drains them as one
      // run of messages: the run must end at each change of source.
      const big = Array.from({ length: 100 }, (_, i) => change(1000 + i));
      const sources = ["snapshot", "snapshot", "backfill", "live", "live", "spool", "live"] as const;
      await Promise.all([
        out.send(batcherMessage.events("snapshot", big)),
        ...sources.map((source, i) => out.send(batcherMessage.events(source, [change(i)]))),
      ]);
      await waitFor(() => seen.length === big.length + sources.length, {
        timeoutMs: 20000,
        what: "every change forwarded",
      });
      expect(seen.slice(big.length)).toEqual(sources.map((source, i) => `${source}:${i}`));
    } finally {
      await supervisor.stop(10000);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30000);
});

describe("batcher and influx-writer actors", () => {
  let vm: VictoriaMetrics;
  let dir: string;
  beforeAll(async () => {
    vm = await startVictoriaMetrics();
    dir = mkdtempSync(join(tmpdir(), "homeiq-pipeline-"));
  });
  afterAll(async () => {
    await vm.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test("duplicate and overlapping batches are stored, forwarded and exported exactly once", async () => {
    const config = loadConfig({
      env: {
        HOMEIQ_DATA_DIR: dir,
        HOMEIQ_INFLUX_URL: vm.url,
        HOMEIQ_INFLUX_ORG: "homeiq",
        HOMEIQ_INFLUX_TOKEN: "test-token",
        HOMEIQ_INFLUX_BUCKET: "homeiq",
        HOMEIQ_BATCHER_MAX_DELAY_MS: "5",
        HOMEIQ_INFLUX_FLUSH_INTERVAL_MS: "20",
      },
    });
    const actor = (name: string) => ({
      name,
      module: new URL(`../${name}/worker.ts`, import.meta.url).pathname,
    });
    const metrics = new MetricsHub();
    const supervisor = new Supervisor(
      {
        children: [actor("influx-writer"), actor("batcher")],
        edges: [
          { name: "hub->batcher", from: HUB, to: "batcher", capacity: 8, retain: true },
          { name: EDGES.batcherToHub, from: "batcher", to: HUB, capacity: 64, retain: false },
          { name: EDGES.batcherToInflux, from: "batcher", to: "influx-writer", capacity: 4, retain: false },
          { name: EDGES.influxToBatcher, from: "influx-writer", to: "batcher", capacity: 4, retain: false },
        ],
        maxRestarts: 0,
        periodMs: 30000,
        backoffMinMs: 20,
        backoffMaxMs: 200,
        startTimeoutMs: 15000,
        metricsIntervalMs: 50,
        logLevel: "silent",
        config,
      },
      { log: createLogger({ actor: "supervisor", level: "silent" }), metrics, onFatal: () => {} },
    );
    const live: string[] = [];
    supervisor.onHubMessage<StoredBatch>(EDGES.batcherToHub, (m) => {
      for (const e of unpackEvents(m.events)) live.push(`${e.entity_id}@${e.last_updated}`);
    });
    await supervisor.start();
    try {
      const out = supervisor.hubOutbox<BatcherMessage>("hub->batcher");
      const n = 3000;
      const all = Array.from({ length: n }, (_, i) => change(i));
      // Live in batches of 100, then a "snapshot" and a "backfill" overlapping everything, then a replay.
      for (let i = 0; i < n; i += 100) {
        await out.send(batcherMessage.events("live", all.slice(i, i + 100)));
        // A batch whose parts do not add up is refused alone; the batches around it are stored.
        if (i === 1500)
          await out.send({
            type: "events",
            source: "live",
            events: { n: 3, text: "sensor.broken\u0001on", times: new Float64Array(6) },
          });
      }
      await out.send(batcherMessage.events("snapshot", all.slice(1000, 2500)));
      await out.send(batcherMessage.events("backfill", all));
      await out.send(batcherMessage.events("spool", all.slice(0, 10)));
      await waitFor(() => metrics.counter("events_duplicate_total") === 1500 + n + 10, {
        timeoutMs: 20000,
        what: "every duplicate counted",
      });
      expect(metrics.counter("events_stored_total")).toBe(n);
      expect(metrics.counter("events_rejected_total")).toBe(3);
      await waitFor(() => live.length >= n, { timeoutMs: 10000, what: "live feed" });
      expect(new Set(live).size).toBe(n);
      expect(live.length).toBe(n);
      const reader = openStoreReader(dir);
      expect(reader.totals().events).toBe(n);
      reader.close();
      await waitFor(() => metrics.counter("events_exported_total") >= n, {
        timeoutMs: 20000,
        what: "export",
      });
      expect(
        await vm.countSamples('{__name__="sensor_value",entity_id=~"sensor.pipe_.*"}', { atLeast: n }),
      ).toBe(n);
      await waitFor(() => metrics.gauge("influx_lag_events") === 0, { timeoutMs: 5000, what: "lag 0" });
      // The batcher learns the writer's position by message only, and keeps it in events.db: once caught
      // up, what it kept is what influx.db says (retention then may take every exported row).
      const positions = () => {
        const events = new Database(join(dir, "events.db"), { readonly: true });
        const influx = new InfluxState(dir);
        try {
          const start = { ...metaPosition(events, "tail_base"), seq: 0 };
          return {
            start,
            batcher: new ExportAcknowledged(events, start).current,
            writer: influx.eventsPosition(start),
          };
        } finally {
          influx.close();
          events.close();
        }
      };
      await waitFor(
        () => {
          const p = positions();
          return p.batcher.seq === p.writer.seq && p.batcher.t === p.writer.t && p.batcher.e === p.writer.e;
        },
        { timeoutMs: 5000, what: "the batcher holds the writer's acknowledged position" },
      );
      const { start, batcher } = positions();
      expect(batcher.t).toBeGreaterThan(start.t); // it moved past the start: the rows were acknowledged
    } finally {
      await supervisor.stop(10000);
    }
  }, 60000);
});
