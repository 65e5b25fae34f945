/**
 * Influx export speed against a real server (victoria-metrics' /api/v2/write) and the catch-up after an
 * outage: a 10-minute backlog at 1,000 events/s (600,000 events) must be exported in < 10 s; sustained
 * export ≥100,000 points/s.
 *
 *   bun run bench/influx.bench.ts            (HOMEIQ_BENCH_QUICK=1: a 2-minute backlog, 120,000 events)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { bench, run } from "mitata";
import {
  exporterMetrics,
  InfluxExporter,
  influxSender,
  WriteFailure,
} from "../actors/influx-writer/exporter.ts";
import { eventLine, seriesKey } from "../actors/influx-writer/lines.ts";
import { ConfigSchema, type HomeIQConfig } from "../runtime/config/schema.ts";
import type { StateChange } from "../runtime/events/messages.ts";
import { systemClock } from "../runtime/kernel/clock.ts";
import { createLogger } from "../runtime/kernel/log.ts";
import { Registry } from "../runtime/kernel/metrics.ts";
import { openStoreWriter } from "../runtime/store/writer.ts";
import { startVictoriaMetrics } from "../test/support/victoria-metrics.ts";

const QUICK = Boolean(process.env.HOMEIQ_BENCH_QUICK);
const MINUTES = QUICK ? 2 : 10;
const RATE = 1000;
const N = MINUTES * 60 * RATE;
const ENTITIES = 300;
const T0 = (Date.now() - 3_600_000) * 1000;
const fmt = (n: number) => Math.round(n).toLocaleString("en");

function backlog(offset: number, n: number): StateChange[] {
  const out: StateChange[] = [];
  for (let i = offset; i < offset + n; i++) {
    const e = i % ENTITIES;
    const us = T0 + i * 1000;
    const numeric = e % 10 < 7;
    out.push({
      entity_id: numeric ? `sensor.room_${e}_power` : `light.room_${e}`,
      state: numeric ? (100 + ((i * 7) % 2000) / 10).toFixed(1) : i % 3 === 0 ? "off" : "on",
      attributes: numeric ? '{"unit_of_measurement":"W","device_class":"power"}' : '{"brightness":128}',
      last_changed: us,
      last_updated: us,
      context_id: null,
      context_parent_id: null,
      context_user_id: null,
    });
  }
  return out;
}

const vm = await startVictoriaMetrics();
const dir = mkdtempSync(join(tmpdir(), "homeiq-bench-influx-"));
try {
  console.log(
    `load average before the run: ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")} (2 cores)`,
  );
  const store = openStoreWriter(dir, { dictionaryCache: 10_000 });
  for (let off = 0; off < N; off += 10_000) store.writeEvents(backlog(off, Math.min(10_000, N - off)));
  store.close();

  const config: HomeIQConfig["influx"] = {
    ...(Value.Default(ConfigSchema.properties.influx, {}) as HomeIQConfig["influx"]),
    url: vm.url,
    org: "homeiq",
    bucket: "homeiq",
    batchSize: Number(process.env.HOMEIQ_BENCH_INFLUX_BATCH ?? 10_000),
    inFlight: Number(process.env.HOMEIQ_BENCH_INFLUX_IN_FLIGHT ?? 2),
  };
  const log = createLogger({ actor: "bench", level: "silent" });
  const sender = influxSender(config, systemClock, log);
  let sendMs = 0;
  let pending = 0;
  let waitStart = 0;
  const metrics = exporterMetrics(new Registry({ actor: "influx-writer" }));
  const exporter = new InfluxExporter({
    dataDir: dir,
    config,
    // Time with at least one request outstanding (requests overlap when inFlight > 1).
    send: async (lines) => {
      if (pending++ === 0) waitStart = performance.now();
      try {
        await sender(lines);
      } finally {
        if (--pending === 0) sendMs += performance.now() - waitStart;
      }
    },
    clock: systemClock,
    log,
    metrics,
  });
  // The backlog is what piles up during an outage; catch-up starts when the server is back.
  const started = performance.now();
  const c0 = process.cpuUsage();
  for (;;) {
    try {
      if ((await exporter.step()) === 0) break;
    } catch (error) {
      if (!(error instanceof WriteFailure)) throw error;
      await Bun.sleep(exporter.failed(error));
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const c1 = process.cpuUsage(c0);
  const cpu = (c1.user + c1.system) / 1e6;
  exporter.close();
  console.log(
    `influx catch-up: ${fmt(N)} events (${MINUTES}-minute backlog at ${RATE}/s) exported in ${seconds.toFixed(2)} s${MINUTES === 10 ? "" : ` (×${10 / MINUTES} = ${(seconds * (10 / MINUTES)).toFixed(1)} s for a 10-minute backlog)`}; target < 10 s for 10 minutes`,
  );
  console.log(
    `influx export: ${fmt(N / seconds)} points/s wall, writer CPU ${cpu.toFixed(2)} s (${fmt(N / cpu)} points per writer CPU-second; victoria-metrics runs beside it), batches of ${config.batchSize}, ${config.inFlight} in flight, ${(sendMs / 1000).toFixed(2)} s of it waiting on the server`,
  );
  const stored = await vm.countSamples(
    '{__name__=~"(sensor|light)_(value|state|brightness|unit_of_measurement|device_class)"}',
  );
  console.log(
    `influx check: exported_total=${metrics.exported.value}, samples in victoria-metrics (all fields)=${fmt(stored)}`,
  );
  if (metrics.exported.value !== N)
    throw new Error(`expected ${N} points exported, got ${metrics.exported.value}`);

  // Line building alone (per 1,000 events), the writer's CPU share of the export.
  const series = seriesKey("sensor.room_1_power", { area: "Kitchen", device: "Plug 1" });
  bench("build 1,000 lines", () => {
    let bytes = 0;
    for (let i = 0; i < 1000; i++)
      bytes += eventLine(series, 100 + i / 10, null, ",battery=87", T0 + i).length;
    return bytes;
  });
  await run({ format: QUICK ? "quiet" : undefined });
} finally {
  await vm.destroy();
  rmSync(dir, { recursive: true, force: true });
}
