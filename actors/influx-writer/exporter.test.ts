import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { ConfigSchema, type HomeIQConfig } from "../../runtime/config/schema.ts";
import type { StateChange } from "../../runtime/events/messages.ts";
import { systemClock } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { Registry } from "../../runtime/kernel/metrics.ts";
import { openStoreReader } from "../../runtime/store/reader.ts";
import { openStoreWriter } from "../../runtime/store/writer.ts";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { startVictoriaMetrics, type VictoriaMetrics } from "../../test/support/victoria-metrics.ts";
import { openMetadataDb } from "../metadata/db.ts";
import { exporterMetrics, InfluxExporter, influxSender, type SendLines, WriteFailure } from "./exporter.ts";
import { InfluxState } from "./state.ts";

const log = createLogger({ actor: "test", level: "silent" });
const T0 = Date.UTC(2026, 10, 24) * 1000;

let vm: VictoriaMetrics;
beforeAll(async () => {
  vm = await startVictoriaMetrics();
});
afterAll(async () => {
  await vm.destroy();
});
const tempDir = tempDirs("homeiq-influx-");

function influxConfig(url: string, over: Partial<HomeIQConfig["influx"]> = {}): HomeIQConfig["influx"] {
  const defaults = Value.Default(ConfigSchema.properties.influx, {}) as HomeIQConfig["influx"];
  return {
    ...defaults,
    url,
    org: "homeiq",
    bucket: "homeiq",
    retryMinMs: 10,
    retryMaxMs: 50,
    breakerThreshold: 3,
    breakerCooldownMs: 100,
    ...over,
  };
}

const event = (i: number, entities: number, run: string): StateChange => ({
  entity_id: `sensor.${run}_${i % entities}`,
  state: String((i % 1000) / 10),
  attributes: '{"unit_of_measurement":"W","battery":87}',
  last_changed: T0 + i * 1000,
  last_updated: T0 + i * 1000,
  context_id: null,
  context_parent_id: null,
  context_user_id: null,
});

/** Distinct (series, timestamp) pairs: InfluxDB's notion of a point (VictoriaMetrics keeps re-sent copies). */
async function distinctPoints(selector: string): Promise<{ points: number; samples: number }> {
  await fetch(`${vm.url}/internal/force_flush`);
  const text = await (await fetch(`${vm.url}/api/v1/export?match[]=${encodeURIComponent(selector)}`)).text();
  const seen = new Set<string>();
  let samples = 0;
  for (const line of text.split("\n")) {
    if (!line) continue;
    const row = JSON.parse(line) as { metric: Record<string, string>; timestamps: number[] };
    const key = JSON.stringify(row.metric);
    samples += row.timestamps.length;
    for (const t of row.timestamps) seen.add(`${key}@${t}`);
  }
  return { points: seen.size, samples };
}

async function waitForPoints(selector: string, n: number, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await distinctPoints(selector);
    if (got.points >= n || Date.now() > deadline) return got;
    await Bun.sleep(200);
  }
}

function setup(run: string, n: number, entities: number, send: (url: string) => SendLines, over = {}) {
  const dir = tempDir();
  const store = openStoreWriter(dir, { dictionaryCache: 1000 });
  const events = Array.from({ length: n }, (_, i) => event(i, entities, run));
  store.writeEvents(events);
  const registry = new Registry({ actor: "influx-writer" });
  const metrics = exporterMetrics(registry);
  const config = influxConfig(vm.url, { batchSize: 500, ...over });
  const exporter = new InfluxExporter({
    dataDir: dir,
    config,
    send: send(vm.url),
    clock: systemClock,
    log,
    metrics,
  });
  return { dir, store, exporter, metrics, events };
}

/** Runs the export loop as the worker does, until caught up or the deadline; returns failures seen. */
async function drain(exporter: InfluxExporter, timeoutMs = 30000, onStep?: (i: number) => Promise<void>) {
  const deadline = Date.now() + timeoutMs;
  let failures = 0;
  for (let i = 0; Date.now() < deadline; i++) {
    await onStep?.(i);
    try {
      if ((await exporter.step()) === 0) return failures;
    } catch (error) {
      if (!(error instanceof WriteFailure)) throw error;
      failures++;
      await Bun.sleep(exporter.failed(error));
    }
  }
  throw new Error("export did not catch up before the deadline");
}

describe("influx-writer against victoria-metrics", () => {
  test("an outage mid-stream ends with exactly N points in the server and N events in the store", async () => {
    const n = 6000;
    const { dir, exporter, metrics, store } = setup("outage", n, 20, (url) =>
      influxSender(influxConfig(url, { timeoutMs: 2000 }), systemClock, log),
    );
    let stopped = false;
    const failures = await drain(exporter, 60000, async (i) => {
      if (i === 4 && !stopped) {
        stopped = true;
        await vm.stop();
      }
      if (stopped && i === 12) await vm.start();
    });
    expect(failures).toBeGreaterThan(0);
    const got = await waitForPoints('{__name__="sensor_value",entity_id=~"sensor.outage_.*"}', n);
    expect(got.points).toBe(n);
    // Requests cut by the shutdown may have landed before their answer was lost: at most one round of
    // batches (batchSize × inFlight) again, which InfluxDB would overwrite in place.
    expect(got.samples - n).toBeLessThanOrEqual(500 * 2);
    expect(metrics.exported.value).toBe(n);
    expect(exporter.measureLag()).toEqual({ events: 0, seconds: 0 });
    const reader = openStoreReader(dir);
    expect(reader.totals().events).toBe(n);
    reader.close();
    exporter.close();
    store.close();
  }, 90000);

  test("events stored behind what was already exported (a backfill) are exported too, each once", async () => {
    const n = 1200;
    const { exporter, metrics, store } = setup("late", n, 10, (url) =>
      influxSender(influxConfig(url), systemClock, log),
    );
    await drain(exporter);
    // Between the existing events, older than the newest exported one: only the journal knows them.
    const late = Array.from({ length: 300 }, (_, i) => ({
      ...event(2 * i, 10, "late"),
      entity_id: `sensor.late_b${i % 3}`,
      last_updated: T0 + 2 * i * 1000 + 500,
      last_changed: T0 + 2 * i * 1000 + 500,
    }));
    expect(store.writeEvents(late).inserted).toHaveLength(300);
    expect(exporter.measureLag().events).toBeGreaterThanOrEqual(300);
    await drain(exporter);
    const got = await waitForPoints('{__name__="sensor_value",entity_id=~"sensor.late_.*"}', n + 300);
    expect(got).toEqual({ points: n + 300, samples: n + 300 });
    expect(metrics.exported.value).toBe(n + 300);
    expect(exporter.measureLag()).toEqual({ events: 0, seconds: 0 });
    exporter.close();
    store.close();
  }, 60000);

  test("a point the server refuses is dead-lettered with its reason; all others land", async () => {
    // A 127.0.0.1 proxy that answers 400 for any request holding a line with the marker, else forwards.
    const proxy = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const body = await req.text();
        if (body.includes("MARKER-400"))
          return new Response('{"code":"invalid","message":"poison point refused"}', {
            status: 400,
            headers: { "content-type": "application/json" },
          });
        const url = new URL(req.url);
        return fetch(`${vm.url}${url.pathname}${url.search}`, { method: "POST", body });
      },
    });
    try {
      const n = 2000;
      const { store, exporter, metrics } = setup("poison", 0, 10, () =>
        influxSender(influxConfig(`http://127.0.0.1:${proxy.port}`), systemClock, log),
      );
      const events = Array.from({ length: n }, (_, i) => event(i, 10, "poison"));
      events[777] = { ...events[777], state: "MARKER-400" };
      events[1500] = { ...events[1500], state: "MARKER-400" };
      store.writeEvents(events);
      expect(await drain(exporter)).toBe(0);
      expect(metrics.deadLetters.value).toBe(2);
      expect(metrics.exported.value).toBe(n - 2);
      const dead = exporter.deadLetters();
      expect(
        dead.map((d) => [
          d.status,
          d.reason.includes("poison point refused"),
          d.line.includes('state="MARKER-400"'),
        ]),
      ).toEqual([
        [400, true, true],
        [400, true, true],
      ]);
      const got = await waitForPoints('{__name__="sensor_value",entity_id=~"sensor.poison_.*"}', n - 2);
      expect(got.points).toBe(n - 2);
      exporter.close();
      store.close();
    } finally {
      proxy.stop(true);
    }
  }, 60000);

  test("writes the documented schema: numeric value, text state, typed attributes, stable tag after rename", async () => {
    const sent: string[] = [];
    const { store, exporter, dir } = setup("schema", 0, 1, () => async (lines) => {
      sent.push(...lines);
    });
    const base = {
      attributes: '{"battery":80,"mode":"eco","friendly_name":"Lamp"}',
      context_id: null,
      context_parent_id: null,
      context_user_id: null,
    };
    store.writeEvents([
      { ...base, entity_id: "light.lamp", state: "on", last_changed: T0, last_updated: T0 },
      { ...base, entity_id: "light.lamp", state: "12.5", last_changed: T0 + 1, last_updated: T0 + 1 },
    ]);
    store.rename("light.lamp", "light.desk lamp");
    store.writeEvents([
      {
        ...base,
        attributes: '{"battery":"low","mode":3}',
        entity_id: "light.desk lamp",
        state: "off",
        last_changed: T0 + 2,
        last_updated: T0 + 2,
      },
    ]);
    store.writeReadings("weather", [{ metric: "temperature_c", ts: T0 / 1000, value: 4.5 }]);
    await drain(exporter);
    expect(sent).toEqual([
      `light,entity_id=light.lamp,domain=light state="on",battery=80 ${T0}`,
      `light,entity_id=light.lamp,domain=light value=12.5,battery=80 ${T0 + 1}`,
      // battery stays float ("low" is left out); text attributes (mode="eco") are not exported
      `light,entity_id=light.lamp,domain=light state="off",mode=3 ${T0 + 2}`,
      `enrichment_weather temperature_c=4.5 ${T0}`,
    ]);
    exporter.close();
    const types = new InfluxState(dir);
    expect([...types.fieldTypes().entries()].sort()).toEqual([
      ["light\u0000battery", "float"],
      ["light\u0000mode", "float"],
    ]);
    types.close();
    store.close();
  });

  test("tags device and area from metadata.db when it exists (area of the entity, else of its device)", async () => {
    const sent: string[] = [];
    const { store, exporter, dir } = setup("meta", 0, 1, () => async (lines) => {
      sent.push(...lines);
    });
    const meta = openMetadataDb(dir);
    meta.run(
      "INSERT INTO areas (area_id, name, raw) VALUES ('k', 'Kitchen', '{}'), ('h', 'Hall, upstairs', '{}')",
    );
    meta.run("INSERT INTO devices (id, name, area_id, raw) VALUES ('d1', 'Plug 1', 'k', '{}')");
    meta.run(`INSERT INTO entities (entity_id, domain, device_id, area_id, raw) VALUES
      ('sensor.plug_power', 'sensor', 'd1', NULL, '{}'), ('sensor.hall_temp', 'sensor', NULL, 'h', '{}')`);
    meta.close();
    const base = { attributes: "{}", context_id: null, context_parent_id: null, context_user_id: null };
    store.writeEvents([
      { ...base, entity_id: "sensor.plug_power", state: "5", last_changed: T0, last_updated: T0 },
      { ...base, entity_id: "sensor.hall_temp", state: "19", last_changed: T0 + 1, last_updated: T0 + 1 },
      { ...base, entity_id: "sensor.unknown", state: "1", last_changed: T0 + 2, last_updated: T0 + 2 },
    ]);
    await drain(exporter);
    expect(sent).toEqual([
      `sensor,entity_id=sensor.plug_power,domain=sensor,area=Kitchen,device=Plug\\ 1 value=5 ${T0}`,
      `sensor,entity_id=sensor.hall_temp,domain=sensor,area=Hall\\,\\ upstairs value=19 ${T0 + 1}`,
      `sensor,entity_id=sensor.unknown,domain=sensor value=1 ${T0 + 2}`,
    ]);
    exporter.close();
    store.close();
  });
});
