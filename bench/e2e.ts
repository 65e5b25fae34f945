/**
 * End-to-end load test: the simulator and HomeIQ as separate processes (victoria-metrics standing in for
 * InfluxDB), R events/s for S seconds, then one JSON object with what happened.
 *
 *   npm run bench:e2e -- --rate 1000 --seconds 30 --json
 *   npm run bench:e2e -- --rate max --seconds 20 --json
 *   npm run bench:e2e -- --rate 1000 --seconds 60 --config deploy/pi/homeiq.low-memory.json --json
 *
 * Lost and duplicated are counted per entity against the simulator's record of what it emitted, read
 * from events.db after HomeIQ has shut down gracefully.
 */
import { parseArgs } from "node:util";
import { waitFor } from "../runtime/kernel/clock.ts";
import { cpuSeconds, percentile, rssBytes } from "../test/support/proc.ts";
import { API_TOKEN, Stack } from "../test/support/stack.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "30" },
    entities: { type: "string", default: "300" },
    json: { type: "boolean", default: false },
    "no-influx": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    config: { type: "string" },
  },
});
/** `--rate max`: ask the simulator for more than anything can take; it sends as fast as it can. */
const MAX_RATE = 5_000_000;
const rate = values.rate === "max" ? MAX_RATE : Number(values.rate);
const seconds = Number(values.seconds);
const entities = Number(values.entities);
if (!Number.isFinite(rate) || rate <= 0 || !Number.isFinite(seconds) || seconds <= 0 || !(entities >= 1)) {
  console.error(
    "bench:e2e: --rate must be a positive number or max, --seconds and --entities positive numbers",
  );
  process.exit(2);
}
const say = (msg: string) => (values.json ? console.error(msg) : console.log(msg));
const round = (n: number) => Math.round(n * 100) / 100;

const stack = new Stack({
  entities,
  historyMax: Math.ceil(Math.min(rate, 400_000) * seconds * 1.2) + entities * 2,
  influx: !values["no-influx"],
  // e.g. --config deploy/pi/homeiq.low-memory.json: the Raspberry Pi profile.
  env: values.config ? { HOMEIQ_CONFIG: values.config } : {},
});

async function run() {
  await stack.start();
  say(`HomeIQ serving ${stack.coldStartMs.toFixed(0)} ms after spawn`);
  const initial = (await stack.simStats()).sent;
  if (!(await stack.storedAtLeast(initial, 30000)))
    throw new Error("the connect snapshot was not stored within 30 s");

  const pid = stack.pid;
  const storedBefore = await stack.metric("events_stored_total");
  const cpuBefore = cpuSeconds(pid);
  const actorCpuBefore = await stack.metricBy("actor_cpu_seconds_total", "actor");
  let peakRss = rssBytes(pid);
  // How much waited on disk at worst: a run faster than HomeIQ can store spools the excess.
  let spoolMax = 0;
  const latencies: Record<string, number[]> = { health: [], devices: [], events: [] };
  const paths: [string, string][] = [
    ["health", "/health"],
    ["devices", "/api/v1/devices?limit=100"],
    ["events", `/api/v1/events?limit=100&from=${Date.now() - 86_400_000}`],
  ];
  let driving = true;
  let driveStart = performance.now();
  // What the process was doing at its peak: when, whether an analysis thread ran, and each actor's heap.
  let peakContext: Record<string, unknown> | null = null;
  let contextRss = 0;
  const sampler = (async () => {
    for (let i = 0; driving; i++) {
      const rss = rssBytes(pid);
      peakRss = Math.max(peakRss, rss);
      if (rss > contextRss + 8 * 1024 * 1024) {
        contextRss = rss;
        const [threads, heaps] = await Promise.all([
          stack.metric("insights_analysis_threads").catch(() => -1),
          stack.metricBy("actor_heap_bytes", "actor").catch(() => ({}) as Record<string, number>),
        ]);
        peakContext = {
          rss_mb: round(rss / 1024 / 1024),
          at_s: round((performance.now() - driveStart) / 1000),
          analysis_threads: threads,
          heap_mb_by_actor: Object.fromEntries(
            Object.entries(heaps).map(([actor, bytes]) => [actor, round(bytes / 1024 / 1024)]),
          ),
        };
      }
      if (i % 5 === 0) spoolMax = Math.max(spoolMax, await stack.metric("spool_bytes").catch(() => 0));
      await Bun.sleep(100);
    }
  })();
  const prober = (async () => {
    for (let i = 0; driving; i++) {
      const [name, path] = paths[i % paths.length];
      const t = performance.now();
      const r = await fetch(`${stack.api}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      await r.arrayBuffer();
      if (r.ok) latencies[name].push(performance.now() - t);
      await Bun.sleep(20);
    }
  })();

  say(`driving ${values.rate} events/s for ${seconds} s`);
  driveStart = performance.now();
  await stack.setRate(rate);
  await Bun.sleep(seconds * 1000);
  await stack.setRate(0);
  const sim = await stack.simStats();
  say(`simulator sent ${sim.sent}; waiting for HomeIQ to store them`);
  const allStored = await stack.storedAtLeast(sim.sent, 180000);
  const storedAt = performance.now();
  const storedTotal = await stack.metric("events_stored_total");
  if (stack.vm) {
    await waitFor(async () => (await stack.metric("events_exported_total")) >= storedTotal, {
      timeoutMs: 180000,
      intervalMs: 100,
      what: "every stored event exported",
    }).catch(async (e) =>
      say(`${e}: ${await stack.metric("events_exported_total")} exported of ${storedTotal} stored`),
    );
  }
  const exported = await stack.metric("events_exported_total");
  driving = false;
  await Promise.all([sampler, prober]);
  const cpu = cpuSeconds(pid) - cpuBefore;
  const actorCpu = await stack.metricBy("actor_cpu_seconds_total", "actor");
  const received = await stack.metricBy("events_received_total", "source");
  const pressureCollections = await stack.metric("actor_pressure_gc_total");
  const exitCode = await stack.homeiq!.stop("SIGTERM", 30000);
  const exact = await stack.exactness();
  const storedDuringRun = storedTotal - storedBefore;
  const summary = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { n: sorted.length, p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)) };
  };
  return {
    rate: values.rate,
    seconds,
    entities,
    influx: stack.vm ? "victoria-metrics" : "off",
    events_sent: sim.sent,
    events_stored: exact.stored,
    events_exported: exported,
    lost: exact.lost,
    duplicated: exact.duplicated,
    checksum_mismatched_entities: exact.mismatched,
    all_stored_before_deadline: allStored,
    sustained_events_per_s: Math.round(storedDuringRun / ((storedAt - driveStart) / 1000)),
    api: {
      health: summary(latencies.health),
      devices: summary(latencies.devices),
      events: summary(latencies.events),
    },
    peak_rss_mb: round(peakRss / 1024 / 1024),
    peak_rss_context: peakContext,
    cpu_seconds: round(cpu),
    cpu_us_per_event: round((cpu / Math.max(1, storedDuringRun)) * 1e6),
    // Where it went, per thread (actor_cpu_seconds_total; hub = the main thread: API, supervisor, live
    // feed). The rest of cpu_us_per_event is the runtime's own threads (JIT, GC helpers, allocator).
    cpu_us_per_event_by_actor: Object.fromEntries(
      Object.entries(actorCpu)
        .map(
          ([actor, s]) =>
            [
              actor,
              round(((s - (actorCpuBefore[actor] ?? 0)) / Math.max(1, storedDuringRun)) * 1e6),
            ] as const,
        )
        .sort((a, b) => b[1] - a[1]),
    ),
    bytes_per_event_on_disk: round(stack.bytesPerEvent(exact.stored)),
    cold_start_ms: Math.round(stack.coldStartMs),
    sim_pending_bytes_max: sim.pendingBytesMax,
    // HA's view of HomeIQ keeping up: its send queue at worst, and how often HA's slow-client rules
    // (4,096 queued, or over 1,024 for 10 s) cut the connection; the simulator never waits for it.
    sim_pending_messages_max: sim.pendingMessagesMax,
    sim_slow_client_closes: sim.slowClientsDropped,
    spool_bytes_max: spoolMax,
    // How much came back from HA's history after a slow-client close (or any reconnect), and how often an
    // actor's heap grew actorHeapCollectBytes past its last collection and was collected at once.
    events_backfilled: received.backfill ?? 0,
    heap_pressure_collections: pressureCollections,
    homeiq_exit_code: exitCode,
  };
}

let code = 0;
try {
  const result = await run();
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  if (result.lost > 0 || result.duplicated > 0) {
    code = 1;
    // What HomeIQ said (warnings and errors) is where a loss shows its cause.
    console.error(stack.homeiq?.lines.slice(-40).join("\n"));
  } else if (result.homeiq_exit_code !== 0) {
    // Not a failure of the run (nothing was lost), but why the stop was not clean shows in its last words.
    console.error(stack.homeiq?.lines.slice(-40).join("\n"));
  }
} catch (error) {
  console.error(`bench:e2e failed: ${(error as Error).message}`);
  if (stack.homeiq) console.error(stack.homeiq.lines.slice(-30).join("\n"));
  code = 1;
}
await stack.stop(values.keep);
process.exit(code);
