/**
 * The history import end to end: a simulated home with N days of recorded history and M days of hourly
 * statistics, imported by the real batcher and history-import actors under the supervisor into a fresh
 * data dir. Prints time, peak RSS (the whole process: actors are threads of it), events/s and the
 * requests HA got.
 *
 *   bun run bench/history-import.ts [--days 10] [--entities 300] [--statistics-days 90]
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EDGES } from "../actors/edges.ts";
import type { HistoryImportStatus } from "../actors/history-import/messages.ts";
import { loadConfig } from "../runtime/config/load.ts";
import { waitFor } from "../runtime/kernel/clock.ts";
import { createLogger } from "../runtime/kernel/log.ts";
import { MetricsHub } from "../runtime/kernel/metrics.ts";
import { Supervisor } from "../runtime/kernel/supervisor.ts";
import { startSimulator } from "../sim/server.ts";

const { values } = parseArgs({
  options: {
    days: { type: "string", default: "10" },
    entities: { type: "string", default: "300" },
    "statistics-days": { type: "string", default: "90" },
  },
});
const days = Number(values.days);
const entities = Number(values.entities);
const statisticsDays = Number(values["statistics-days"]);

const sim = await startSimulator({ entities, rate: 0, token: "t", historyDays: days, statisticsDays });
const dataDir = mkdtempSync(join(tmpdir(), "homeiq-bench-history-"));
const config = loadConfig({
  env: {
    HOMEIQ_DATA_DIR: dataDir,
    HOMEIQ_HA_URL: sim.url,
    HOMEIQ_HA_TOKEN: "t",
    HOMEIQ_HA_IMPORT_DAYS: String(days),
    HOMEIQ_HA_IMPORT_STATISTICS_DAYS: String(statisticsDays),
    HOMEIQ_LOG_LEVEL: "warn",
  },
});
const actor = (name: string) => ({
  name,
  module: new URL(`../actors/${name}/worker.ts`, import.meta.url).pathname,
});
const metrics = new MetricsHub();
const supervisor = new Supervisor(
  {
    children: [actor("batcher"), actor("history-import")],
    edges: [
      {
        name: EDGES.historyImportToBatcher,
        from: "history-import",
        to: "batcher",
        capacity: config.mailbox.capacity,
        retain: true,
      },
    ],
    maxRestarts: 3,
    periodMs: 30000,
    backoffMinMs: 100,
    backoffMaxMs: 1000,
    startTimeoutMs: 10000,
    metricsIntervalMs: 200,
    logLevel: "warn",
    config,
  },
  { log: createLogger({ actor: "supervisor", level: "warn" }), metrics, onFatal: () => {} },
);
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 100);
const started = performance.now();
await supervisor.start();
const status = () => supervisor.notice("history-import", "history-import") as HistoryImportStatus | undefined;
await waitFor(() => status()?.state === "done", {
  timeoutMs: 3_600_000,
  intervalMs: 200,
  what: "import done",
});
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
await waitFor(() => metrics.counter("history_import_requests_total") > 0, { timeoutMs: 5000 });
const s = status() as HistoryImportStatus;
const requests = metrics.counter("history_import_requests_total");
await supervisor.stop(10000);
const db = new Database(join(dataDir, "events.db"), { readonly: true });
const stored = (db.query("SELECT count(*) AS n FROM events").get() as { n: number }).n;
const hourly = (db.query("SELECT count(*) AS n FROM hourly").get() as { n: number }).n;
db.close();
sim.stop();
rmSync(dataDir, { recursive: true, force: true });
const figures = {
  days,
  entities,
  statisticsDays,
  seconds: Number(seconds.toFixed(1)),
  peakRssMB: Math.round(peakRss / 2 ** 20),
  events: s.events,
  stored,
  eventsPerSecond: Math.round(s.events / seconds),
  statisticsHours: s.hours,
  hourlyBuckets: hourly,
  steps: s.stepsTotal,
  haRequests: requests,
};
console.log(JSON.stringify(figures, null, 2));
process.exit(0);
