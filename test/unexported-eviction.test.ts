/**
 * Retention and the disk bound against a real InfluxDB-protocol server (victoria-metrics): raw events the
 * sink has not acknowledged are held through an outage on a full store, and when the bound must win the
 * loss is counted. Every event ends up in the server or in `droppedUnexported`, never silently gone.
 * The batcher learns the writer's position only by message (`export-position`, kept in events.db by
 * runtime/store/export-ack.ts): restarts of either side must not make it evict what InfluxDB lacks.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import {
  exporterMetrics,
  InfluxExporter,
  influxSender,
  WriteFailure,
} from "../actors/influx-writer/exporter.ts";
import { ConfigSchema, type HomeIQConfig } from "../runtime/config/schema.ts";
import { batcherMessage, check, type StateChange } from "../runtime/events/messages.ts";
import { systemClock } from "../runtime/kernel/clock.ts";
import { createLogger } from "../runtime/kernel/log.ts";
import { Registry } from "../runtime/kernel/metrics.ts";
import { ExportAcknowledged } from "../runtime/store/export-ack.ts";
import { StoreMaintenance } from "../runtime/store/maintenance.ts";
import { metaPosition } from "../runtime/store/tail.ts";
import { openStoreWriter } from "../runtime/store/writer.ts";
import { tempDirs } from "./support/temp-dirs.ts";
import { startVictoriaMetrics, type VictoriaMetrics } from "./support/victoria-metrics.ts";

const log = createLogger({ actor: "test", level: "silent" });
const T0 = Date.UTC(2026, 10, 24) * 1000;
const DAY_MS = 86_400_000;
const tempDir = tempDirs("homeiq-unexported-");

let vm: VictoriaMetrics;
beforeAll(async () => {
  vm = await startVictoriaMetrics();
});
afterAll(async () => {
  await vm.destroy();
});

const event = (i: number, run: string): StateChange => ({
  entity_id: `sensor.${run}_${i % 10}`,
  state: String(i % 500),
  attributes: '{"unit_of_measurement":"W"}',
  last_changed: T0 + i * 1000,
  last_updated: T0 + i * 1000,
  context_id: null,
  context_parent_id: null,
  context_user_id: null,
});

function influxConfig(url: string): HomeIQConfig["influx"] {
  const defaults = Value.Default(ConfigSchema.properties.influx, {}) as HomeIQConfig["influx"];
  return { ...defaults, url, org: "homeiq", bucket: "homeiq", batchSize: 250, timeoutMs: 2000 };
}

/** The writer's report as it crosses to the batcher: the message, through the batcher's boundary check. */
function deliver(exporter: InfluxExporter, ack: ExportAcknowledged): void {
  const checked = check(batcherMessage.exportPosition(exporter.position()));
  if (!checked.ok) throw new Error(checked.error);
  if (checked.value.type !== "export-position") throw new Error("not an export-position message");
  ack.set(checked.value);
}

/** A bound every store is over, and a week's retention every event is past: only the sink holds them. */
const limits = (unexportedHoldBytes: number) => ({
  rawDays: 1,
  hourlyDays: 30,
  dailyDays: 90,
  maxBytes: 1,
  rollupChunk: 500,
  unexportedHoldBytes,
});

/**
 * A store with `n` old events, the exporter, and the batcher's side: its maintenance following the
 * position the writer reported, delivered before every retention step (as the writer's once-a-second
 * report would be).
 */
function setup(run: string, n: number, unexportedHoldBytes: number) {
  const dir = tempDir();
  const store = openStoreWriter(dir, { dictionaryCache: 1000 });
  store.writeEvents(Array.from({ length: n }, (_, i) => event(i, run)));
  const tailBase = metaPosition(store.db, "tail_base");
  const ack = new ExportAcknowledged(store.db, { ...tailBase, seq: 0 });
  let exporter: InfluxExporter | null = null;
  const maintenance = new StoreMaintenance(store, limits(unexportedHoldBytes), () => {
    if (exporter) deliver(exporter, ack);
    return ack.current;
  });
  while (maintenance.rollupStep() > 0);
  const metrics = exporterMetrics(new Registry({ actor: "influx-writer" }));
  const config = influxConfig(vm.url);
  exporter = new InfluxExporter({
    dataDir: dir,
    config,
    send: influxSender(config, systemClock, log),
    clock: systemClock,
    log,
    metrics,
  });
  return { dir, store, maintenance, exporter, metrics, ack };
}

/** Runs retention until a step deletes nothing; sums what it reports. */
function retainAll(maintenance: StoreMaintenance, nowMs: number) {
  const sum = { expired: 0, evicted: 0, droppedUnexported: 0, holding: false };
  for (let i = 0; i < 1000; i++) {
    const step = maintenance.retentionStep(nowMs);
    sum.expired += step.expired;
    sum.evicted += step.evicted;
    sum.droppedUnexported += step.droppedUnexported;
    sum.holding = step.holdingUnexported;
    if (step.expired + step.evicted === 0) return sum;
  }
  throw new Error("retention did not settle");
}

async function drain(exporter: InfluxExporter, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await exporter.step()) === 0) return;
    } catch (error) {
      if (!(error instanceof WriteFailure)) throw error;
      await Bun.sleep(exporter.failed(error));
    }
  }
  throw new Error("export did not catch up before the deadline");
}

describe("retention with an InfluxDB sink", () => {
  test("an outage on a full store holds every unexported event; once the server is back all arrive, then go", async () => {
    const n = 2000;
    const { store, maintenance, exporter, metrics } = setup("held", n, 1e12);
    await vm.stop();
    try {
      await expect(exporter.step()).rejects.toBeInstanceOf(WriteFailure);
      const now = T0 / 1000 + 30 * DAY_MS;
      const held = retainAll(maintenance, now);
      expect(held).toEqual({ expired: 0, evicted: 0, droppedUnexported: 0, holding: true });
      expect(store.rawCount).toBe(n);
    } finally {
      await vm.start();
    }
    await drain(exporter);
    expect(metrics.exported.value).toBe(n);
    expect(
      await vm.countSamples('{__name__="sensor_value",entity_id=~"sensor.held_.*"}', { atLeast: n }),
    ).toBe(n);
    // Acknowledged now: retention (and the bound) may take them, none counted as lost.
    const after = retainAll(maintenance, T0 / 1000 + 30 * DAY_MS);
    expect(after.expired).toBeGreaterThan(0);
    expect(after.droppedUnexported).toBe(0);
    expect(store.rawCount).toBe(0);
    exporter.close();
    store.close();
  }, 90000);

  test("past the hold the bound wins: exported events go first, every other loss is counted", async () => {
    const n = 3000;
    const { store, maintenance, exporter, metrics } = setup("bound", n, 0);
    // Export the first part while the server is up: at least two batches of 250.
    await exporter.step();
    await exporter.step();
    const exportedBefore = metrics.exported.value;
    expect(exportedBefore).toBeGreaterThanOrEqual(500);
    expect(exportedBefore).toBeLessThan(n);
    await vm.stop();
    let dropped = 0;
    try {
      // Not past rawDays yet (now = the events' own day): only the disk bound deletes, the acknowledged
      // events first (chunk by chunk, none counted as lost), then the rest, each counted.
      const now = T0 / 1000 + 1000;
      let evictedFirst = 0;
      while (evictedFirst < exportedBefore) {
        const step = maintenance.retentionStep(now);
        expect(step).toMatchObject({ expired: 0, droppedUnexported: 0 });
        expect(step.evicted).toBeGreaterThan(0);
        evictedFirst += step.evicted;
      }
      expect(evictedFirst).toBe(exportedBefore);
      const rest = retainAll(maintenance, now);
      dropped = rest.droppedUnexported;
      // Raw rows, then (raw empty) the tiers' buckets.
      expect(rest.evicted).toBeGreaterThanOrEqual(dropped);
      expect(dropped).toBe(n - exportedBefore);
      expect(store.rawCount).toBe(0);
    } finally {
      await vm.start();
    }
    await drain(exporter);
    const inServer = await vm.countSamples('{__name__="sensor_value",entity_id=~"sensor.bound_.*"}', {
      atLeast: exportedBefore,
    });
    // Every event is either in InfluxDB or counted as dropped unexported.
    expect(inServer + dropped).toBe(n);
    exporter.close();
    store.close();
  }, 90000);

  test("a restarted batcher holds what the writer had not acknowledged, before the writer speaks again", async () => {
    const n = 2000;
    const { dir, store, exporter, metrics, ack } = setup("restart", n, 1e12);
    await exporter.step();
    await exporter.step();
    const exportedBefore = metrics.exported.value;
    expect(exportedBefore).toBeGreaterThanOrEqual(500);
    expect(exportedBefore).toBeLessThan(n);
    deliver(exporter, ack);
    const reported = ack.current;
    exporter.close();
    store.close();
    // The batcher restarts (its store reopened) and the writer has not reported since: the position it
    // stored stands, so retention takes exactly the acknowledged rows and holds the rest.
    const reopened = openStoreWriter(dir, { dictionaryCache: 1000 });
    const base = metaPosition(reopened.db, "tail_base");
    const again = new ExportAcknowledged(reopened.db, { ...base, seq: 0 });
    expect(again.current).toEqual(reported);
    const maintenance = new StoreMaintenance(reopened, limits(1e12), () => again.current);
    const after = retainAll(maintenance, T0 / 1000 + 30 * DAY_MS);
    expect(after).toMatchObject({ droppedUnexported: 0, holding: true });
    expect(after.expired + after.evicted).toBe(exportedBefore);
    expect(reopened.rawCount).toBe(n - exportedBefore);
    // The writer restarts too: it reports the position it kept in influx.db, which is the same one.
    const restarted = new InfluxExporter({
      dataDir: dir,
      config: influxConfig(vm.url),
      send: influxSender(influxConfig(vm.url), systemClock, log),
      clock: systemClock,
      log,
      metrics: exporterMetrics(new Registry({ actor: "influx-writer" })),
    });
    expect(restarted.position()).toEqual(reported);
    await drain(restarted);
    deliver(restarted, again);
    const rest = retainAll(maintenance, T0 / 1000 + 30 * DAY_MS);
    expect(rest).toMatchObject({ droppedUnexported: 0, holding: false });
    expect(reopened.rawCount).toBe(0);
    restarted.close();
    reopened.close();
  }, 90000);

  test("a writer whose influx.db was reset reports an earlier position, and the batcher takes it", () => {
    const dir = tempDir();
    const store = openStoreWriter(dir, { dictionaryCache: 1000 });
    const start = { ...metaPosition(store.db, "tail_base"), seq: 0 };
    const ack = new ExportAcknowledged(store.db, start);
    expect(ack.current).toEqual(start);
    expect(ack.set({ t: 5_000_000, e: 3, seq: 7 })).toBe(true);
    expect(ack.set({ t: 5_000_000, e: 3, seq: 7 })).toBe(false);
    expect(ack.set(start)).toBe(true);
    expect(new ExportAcknowledged(store.db, start).current).toEqual(start);
    store.close();
  });
});
