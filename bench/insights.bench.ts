/**
 * Insights query latency over 30 days of a 300-entity home. Target: every search/stats/trace answer < 100 ms.
 *
 * The home: the synthetic home (test/support/synthetic-home/insights.ts) with 290 extra sensors reporting every
 * ~5 min, ≈ 100,000 events a day. As in a running HomeIQ with default retention, the last 7 days are raw
 * events (≈ 700,000 rows, written through the store's own writer) and the 30 days are in the hourly rollup:
 * the raw days are rolled up from their rows, the older days are filled with the same per-entity hourly
 * counts (their raw rows would already be gone). Seeding takes most of the run, so the default run writes
 * 3 raw days (≈ 300,000 rows: beyond the 100,000-row search scan bound); HOMEIQ_BENCH_FULL=1 writes all 7.
 * The 7d and 30d stats are timed too, but the API never computes them per request: the insights actor keeps
 * them computed (insights.statsRefreshMs) and the API answers from that.
 *
 *   bun run bench/insights.bench.ts          (HOMEIQ_BENCH_QUICK=1: 1 raw day; HOMEIQ_BENCH_FULL=1: 7)
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bench, run, summary } from "mitata";
import { loadConfig } from "../runtime/config/load.ts";
import { STATS_WINDOWS } from "../runtime/store/insights/stats.ts";
import { openInsightsReader } from "../runtime/store/insights-reader.ts";
import { markCaughtUp } from "../runtime/store/tail.ts";
import { PLANTED, syntheticHome } from "../test/support/synthetic-home/insights.ts";
import { rollUp, seedStore } from "../test/support/synthetic-home/insights-store.ts";

const RAW_DAYS = process.env.HOMEIQ_BENCH_FULL ? 7 : process.env.HOMEIQ_BENCH_QUICK ? 1 : 3;
const TOTAL_DAYS = 30;
const now = Date.now();
const dir = process.env.HOMEIQ_BENCH_KEEP ?? mkdtempSync(join(tmpdir(), "insights-bench-"));

let started = performance.now();
const home = syntheticHome({ seed: 1, days: RAW_DAYS, now, extraSensors: 290, extraIntervalMs: 300_000 });
const entities = new Set(home.events.map((e) => e.entity_id)).size;
seedStore(dir, home.events);
rollUp(dir);
const db = new Database(join(dir, "events.db"));
// Older days: each entity's hourly counts repeated from its first raw day.
const firstDay = Math.floor(home.from / 1000 / 3600) * 3600;
for (let d = 1; d <= TOTAL_DAYS - RAW_DAYS; d++) {
  db.run(
    `INSERT OR IGNORE INTO hourly (e, t, n, tn) SELECT e, t - ${d * 86400}, n, tn FROM hourly
     WHERE t >= ${firstDay} AND t < ${firstDay + 86400}`,
  );
}
markCaughtUp(db, "rollup");
const hourlyRows = (db.query("SELECT count(*) AS n FROM hourly").get() as { n: number }).n;
db.close();
console.log(
  `seeded ${home.events.length.toLocaleString()} raw events (${RAW_DAYS} days, ${entities} entities, ${Math.round(
    home.events.length / RAW_DAYS,
  ).toLocaleString()} events/day) + ${hourlyRows.toLocaleString()} hourly rows (${TOTAL_DAYS} days) in ${(
    (performance.now() - started) / 1000
  ).toFixed(1)} s`,
);

// The shipped defaults: a search page scans at most insights.searchScanRows (100,000) rows.
const reader = openInsightsReader(dir, loadConfig({ env: {} }).insights, () => home.names);
const fan = home.events.find((e) => e.entity_id === PLANTED.chain[4])!;
const span = { from: now - RAW_DAYS * 86400_000, to: now + 1 };

const cases: [string, () => unknown][] = [
  [
    "stats 1h",
    () => reader.stats({ from: now - 3600_000, to: now, bucketMs: STATS_WINDOWS["1h"].bucketMs, top: 20 }),
  ],
  [
    "stats 24h",
    () => reader.stats({ from: now - 86400_000, to: now, bucketMs: STATS_WINDOWS["24h"].bucketMs, top: 20 }),
  ],
  [
    "stats 7d (background compute in the insights actor; the API serves the kept result)",
    () =>
      reader.stats({ from: now - 7 * 86400_000, to: now, bucketMs: STATS_WINDOWS["7d"].bucketMs, top: 20 }),
  ],
  [
    "stats 30d (background compute in the insights actor; the API serves the kept result)",
    () =>
      reader.stats({ from: now - 30 * 86400_000, to: now, bucketMs: STATS_WINDOWS["30d"].bucketMs, top: 20 }),
  ],
  ["search frequent (room_1)", () => reader.search({ q: "room_1", ...span, limit: 100 })],
  ["search rare id (kettle)", () => reader.search({ q: "kettle", ...span, limit: 100 })],
  ["search rare state (unavailable)", () => reader.search({ q: "unavailable", ...span, limit: 100 })],
  ["search no match by state (hall on)", () => reader.search({ q: "hall heat", ...span, limit: 100 })],
  ["trace (entity, ts)", () => reader.trace({ entityId: fan.entity_id, ts: fan.ts })],
];

// Explicit figures first: median and worst of 15 runs each, after one warm-up.
for (const [name, fn] of cases) {
  fn();
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    started = performance.now();
    fn();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(`insights ${name}: median ${times[7].toFixed(1)} ms, worst ${times[14].toFixed(1)} ms`);
}

summary(() => {
  for (const [name, fn] of cases) if (!name.includes("background")) bench(name, fn);
});
await run({ format: "mitata", colors: false, throw: true });
reader.close();
if (!process.env.HOMEIQ_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
