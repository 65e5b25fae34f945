/**
 * HomeIQ started on a store that already holds many events: fills a fresh data dir through the store's
 * writer (10,000-event transactions, spread over the raw tier's days up to now), starts the stack on it
 * at a steady rate, and samples RSS while the analyses run over it. The data dir is deleted
 * at the end.
 *
 *   bun run bench/large-store.ts -- --events 30000000 --minutes 5 --json
 *
 * Reports the fill time, store size, RSS by 10 s and its peak, when the first health and energy runs
 * ended, and each actor's heap (`actor_heap_bytes`).
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openStoreWriter } from "../runtime/store/writer.ts";
import { rssBytes } from "../test/support/proc.ts";
import { Stack } from "../test/support/stack.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    events: { type: "string", default: "30000000" },
    days: { type: "string", default: "7" },
    entities: { type: "string", default: "300" },
    minutes: { type: "string", default: "5" },
    rate: { type: "string", default: "1000" },
    json: { type: "boolean", default: false },
  },
});
const events = Number(values.events);
const days = Number(values.days);
const entities = Number(values.entities);
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const say = (msg: string) => (values.json ? console.error(msg) : console.log(msg));
const MB = 1048576;

/** A home's mix: power meters, temperatures, motion, switches and lights, batteries, humidity. */
function entityOf(i: number): { id: string; attributes: string; kind: string } {
  const kinds = [
    "power",
    "temp",
    "temp",
    "temp",
    "motion",
    "motion",
    "switch",
    "light",
    "battery",
    "humidity",
  ];
  const kind = kinds[i % kinds.length];
  const id =
    kind === "motion"
      ? `binary_sensor.gen_${i}_motion`
      : kind === "switch" || kind === "light"
        ? `${kind}.gen_${i}`
        : `sensor.gen_${i}_${kind}`;
  const unit = { power: "W", temp: "°C", battery: "%", humidity: "%" }[kind as "power"];
  const attributes = JSON.stringify({
    friendly_name: `Gen ${i} ${kind}`,
    ...(unit ? { unit_of_measurement: unit } : {}),
    ...(kind === "battery" ? { device_class: "battery" } : {}),
  });
  return { id, attributes, kind };
}

/** Fills `dataDir` with `n` events over the last `days` days (a minute short of now), in time order. */
function fill(dataDir: string, n: number): number {
  const writer = openStoreWriter(dataDir, { dictionaryCache: 100_000 });
  const started = performance.now();
  const ents = Array.from({ length: entities }, (_, i) => entityOf(i));
  const on = new Uint8Array(entities);
  const endUs = (Date.now() - 60_000) * 1000;
  const spanUs = days * 86400e6 - 120e6;
  const stepUs = spanUs / n;
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  try {
    for (let k = 0; k < n; ) {
      const batch = [];
      for (const end = Math.min(n, k + 10_000); k < end; k++) {
        const i = (k * 7919) % entities;
        const e = ents[i];
        const us = Math.round(endUs - spanUs + k * stepUs);
        let state: string;
        if (e.kind === "power") state = (on[i] ? 1200 : 40 + rand() * 5).toFixed(1);
        else if (e.kind === "temp") state = (19 + rand() * 4).toFixed(1);
        else if (e.kind === "battery") state = String(80 - Math.floor(k / n) * 10);
        else if (e.kind === "humidity") state = String(40 + Math.floor(rand() * 20));
        else {
          if (rand() < 0.3) on[i] ^= 1;
          state = on[i] ? "on" : "off";
        }
        batch.push({
          entity_id: e.id,
          state,
          attributes: e.attributes,
          last_changed: us,
          last_updated: us,
          context_id: null,
          context_parent_id: null,
          context_user_id: null,
        });
      }
      const r = writer.writeEvents(batch);
      if (r.rejected.length) throw new Error(`large-store: writer refused ${JSON.stringify(r.rejected[0])}`);
      if (k % 1_000_000 === 0)
        say(`filled ${k / 1e6}M events in ${Math.round((performance.now() - started) / 1000)} s`);
    }
  } finally {
    writer.close();
  }
  return performance.now() - started;
}

const stack = new Stack({
  entities: 300,
  historyMax: Math.ceil(rate * minutes * 60 * 1.2) + 10_000,
  influx: false,
});

async function run() {
  say(`filling ${events} events over ${days} days`);
  const fillMs = fill(stack.dataDir, events);
  const dbPath = join(stack.dataDir, "events.db");
  const dbBytes = ["", "-wal"].reduce(
    (n, x) => n + (existsSync(dbPath + x) ? statSync(dbPath + x).size : 0),
    0,
  );
  say(`filled in ${Math.round(fillMs / 1000)} s, ${Math.round(dbBytes / MB)} MB; starting HomeIQ`);
  const t0 = performance.now();
  await stack.start();
  await stack.setRate(rate);
  const samples: { t: number; rss: number }[] = [];
  const runsEnded: Record<string, number | null> = { health: null, energy: null };
  let heapAtPeak: Record<string, number> = {};
  let peak = 0;
  while (performance.now() - t0 < minutes * 60_000) {
    const t = performance.now() - t0;
    const rss = rssBytes(stack.pid);
    samples.push({ t, rss });
    if (rss > peak) {
      peak = rss;
      heapAtPeak = await stack.metricBy("actor_heap_bytes", "actor").catch(() => heapAtPeak);
    }
    if (samples.length % 4 === 0) {
      const runs = await stack
        .metricBy("insights_run_ms_count", "kind")
        .catch(() => ({}) as Record<string, number>);
      for (const kind of ["health", "energy"])
        if (runsEnded[kind] === null && (runs[kind] ?? 0) > 0) runsEnded[kind] = Math.round(t / 1000);
    }
    await Bun.sleep(500);
  }
  const heap = await stack.metricBy("actor_heap_bytes", "actor");
  const byTenSeconds: number[] = [];
  for (let s = 0; s * 10_000 < minutes * 60_000; s++) {
    const inside = samples.filter((x) => x.t >= s * 10_000 && x.t < (s + 1) * 10_000).map((x) => x.rss);
    if (inside.length) byTenSeconds.push(Math.round(Math.max(...inside) / MB));
  }
  const mb = (x: number) => Math.round((x / MB) * 10) / 10;
  return {
    events,
    days,
    fill_s: Math.round(fillMs / 1000),
    store_mb: mb(dbBytes),
    minutes,
    rate,
    first_health_run_ended_s: runsEnded.health,
    first_energy_run_ended_s: runsEnded.energy,
    peak_rss_mb: mb(peak),
    peak_rss_at_s: Math.round((samples.find((x) => x.rss === peak)?.t ?? 0) / 1000),
    rss_end_mb: mb(samples[samples.length - 1]?.rss ?? 0),
    rss_mb_max_by_10s: byTenSeconds,
    actor_heap_mb_at_peak: Object.fromEntries(Object.entries(heapAtPeak).map(([k, v]) => [k, mb(v)])),
    actor_heap_mb_end: Object.fromEntries(Object.entries(heap).map(([k, v]) => [k, mb(v)])),
  };
}

let code = 0;
try {
  const result = await run();
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
} catch (error) {
  console.error(`bench/large-store failed: ${(error as Error).message}`);
  if (stack.homeiq) console.error(stack.homeiq.lines.slice(-30).join("\n"));
  code = 1;
}
await stack.stop();
process.exit(code);
