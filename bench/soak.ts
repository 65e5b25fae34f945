/**
 * Soak: hours at a steady rate with an InfluxDB outage and an actor crash injected on the way; reports
 * RSS growth after warm-up and exactness. CI runs a 2-minute version.
 *
 *   npm run bench:soak                               # 60 minutes at 1,000 events/s
 *   npm run bench:soak -- --minutes 2 --json          # the CI version
 *
 * Exits non-zero if any event is lost or duplicated, and — for runs of 30 minutes or more — if RSS grew more
 * than 5% after warm-up (a 2-minute run is too short for a growth verdict; it is reported only).
 */
import { parseArgs } from "node:util";
import { waitFor } from "../runtime/kernel/clock.ts";
import { rssBytes } from "../test/support/proc.ts";
import { API_TOKEN, Stack } from "../test/support/stack.ts";
import { slopeMbPerHour } from "./lib/growth.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    minutes: { type: "string", default: "60" },
    rate: { type: "string", default: "1000" },
    entities: { type: "string", default: "300" },
    crash: { type: "string", default: "batcher" },
    json: { type: "boolean", default: false },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
if (!(minutes > 0) || !(rate > 0)) {
  console.error("bench:soak: --minutes and --rate must be positive numbers");
  process.exit(2);
}
const say = (msg: string) => (values.json ? console.error(msg) : console.log(msg));
/** The soak's memory bound: RSS growth after warm-up, judged on runs this long or longer. */
const RSS_GROWTH_MAX_PCT = 5;
const GROWTH_VERDICT_MINUTES = 30;
const durationMs = minutes * 60_000;
const warmupMs = Math.min(5 * 60_000, durationMs * 0.2);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : Number.NaN;
};

const stack = new Stack({
  entities: Number(values.entities),
  historyMax: Math.ceil(rate * (durationMs / 1000) * 1.2) + 10_000,
  influx: true,
  env: { HOMEIQ_DEBUG_FAULTS: "true" },
});

async function run() {
  await stack.start();
  const initial = (await stack.simStats()).sent;
  if (!(await stack.storedAtLeast(initial, 30000)))
    throw new Error("the connect snapshot was not stored within 30 s");
  const samples: { t: number; rss: number }[] = [];
  const faults: string[] = [];
  const start = performance.now();
  await stack.setRate(rate);
  let outageDone = false;
  let crashDone = false;
  while (performance.now() - start < durationMs) {
    const t = performance.now() - start;
    samples.push({ t, rss: rssBytes(stack.pid) });
    if (!outageDone && t > durationMs * 0.35 && stack.vm) {
      outageDone = true;
      const outageMs = Math.min(60_000, durationMs * 0.1);
      say(`InfluxDB outage for ${Math.round(outageMs / 1000)} s`);
      await stack.vm.stop();
      faults.push(`influx outage ${Math.round(outageMs / 1000)} s at ${Math.round(t / 1000)} s`);
      setTimeout(() => void stack.vm?.start(), outageMs);
    }
    if (!crashDone && t > durationMs * 0.65) {
      crashDone = true;
      const r = await fetch(`${stack.api}/api/v1/debug/crash?actor=${values.crash}`, {
        method: "POST",
        headers: { authorization: `Bearer ${API_TOKEN}` },
      });
      faults.push(`crash ${values.crash} at ${Math.round(t / 1000)} s: HTTP ${r.status}`);
      say(`crashed ${values.crash}: HTTP ${r.status}`);
    }
    await Bun.sleep(1000);
  }
  // Which actor holds the memory: each one's JavaScript heap at the end of the load (`actor_heap_bytes`).
  const heap = await stack.metricBy("actor_heap_bytes", "actor");
  await stack.setRate(0);
  const sent = (await stack.simStats()).sent;
  await stack.storedAtLeast(sent, 180_000);
  const stored = await stack.metric("events_stored_total");
  await waitFor(async () => (await stack.metric("events_exported_total")) >= stored, {
    timeoutMs: 180_000,
    intervalMs: 200,
    what: "export caught up",
  }).catch((e) => say(String(e)));
  const exported = await stack.metric("events_exported_total");
  const restarts = await stack.metric("actor_restarts_total");
  const exitCode = await stack.homeiq!.stop("SIGTERM", 30000);
  const exact = await stack.exactness();
  const window = Math.max(1, Math.floor(samples.length * 0.1));
  const afterWarmup = samples.filter((s) => s.t >= warmupMs);
  const early = median(afterWarmup.slice(0, window).map((s) => s.rss));
  const late = median(afterWarmup.slice(-window).map((s) => s.rss));
  const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a), samples[0]);
  // The curve, not just its ends: a leak climbs with every minute, a fault's one-off cost is a step.
  const byMinute: number[] = [];
  for (let m = 0; m * 60_000 < durationMs; m++) {
    const inMinute = samples.filter((s) => s.t >= m * 60_000 && s.t < (m + 1) * 60_000);
    if (inMinute.length) byMinute.push(Math.round(median(inMinute.map((s) => s.rss)) / 1048576));
  }
  return {
    minutes,
    rate,
    faults,
    events_sent: sent,
    events_stored: exact.stored,
    events_exported: exported,
    lost: exact.lost,
    duplicated: exact.duplicated,
    actor_restarts: restarts,
    rss_after_warmup_mb: Math.round((early / 1048576) * 10) / 10,
    rss_end_mb: Math.round((late / 1048576) * 10) / 10,
    rss_growth_pct: Math.round(((late - early) / early) * 1000) / 10,
    peak_rss_mb: Math.round((peak.rss / 1048576) * 10) / 10,
    peak_rss_at_s: Math.round(peak.t / 1000),
    rss_mb_by_minute: byMinute,
    // Reported, not judged: the bound is on growth, but the slope shows a climb the two windows can hide.
    rss_slope_mb_per_hour: slopeMbPerHour(byMinute, Math.ceil(warmupMs / 60_000)),
    homeiq_exit_code: exitCode,
    actor_heap_mb: Object.fromEntries(
      Object.entries(heap).map(([k, v]) => [k, Math.round((v / 1048576) * 10) / 10]),
    ),
  };
}

let code = 0;
try {
  const result = await run();
  console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  if (result.lost > 0 || result.duplicated > 0 || result.events_exported < result.events_stored) code = 1;
  if (minutes >= GROWTH_VERDICT_MINUTES && result.rss_growth_pct > RSS_GROWTH_MAX_PCT) {
    console.error(
      `bench:soak: RSS grew ${result.rss_growth_pct}% after warm-up (bound ${RSS_GROWTH_MAX_PCT}%)`,
    );
    code = 1;
  }
} catch (error) {
  console.error(`bench:soak failed: ${(error as Error).message}`);
  if (stack.homeiq) console.error(stack.homeiq.lines.slice(-30).join("\n"));
  code = 1;
}
await stack.stop();
process.exit(code);
