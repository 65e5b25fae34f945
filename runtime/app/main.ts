/**
 * `npm start`: load the config, start the supervision tree and the API, and handle signals.
 * With no configuration at all this runs the embedded demo: the simulated home, SQLite under ./data.
 */
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EDGES } from "../../actors/edges.ts";
import { forwardHaLocation } from "../../actors/enricher/location.ts";
import { openMetadataReader } from "../../actors/metadata/reader.ts";
import { startSimulator } from "../../sim/server.ts";
import { LiveFeed } from "../api/live.ts";
import { type RunningApi, startApi } from "../api/server.ts";
import { resolveApiToken } from "../api/token.ts";
import { ConfigError, loadConfig } from "../config/load.ts";
import type { HomeIQConfig } from "../config/schema.ts";
import {
  batcherCall,
  type ImportCheckResult,
  type ImportWriteResult,
  type StoredBatch,
} from "../events/messages.ts";
import { whenSettled } from "../kernel/actor.ts";
import { createLogger, errorMessage } from "../kernel/log.ts";
import { giveBackMemory } from "../kernel/memory.ts";
import { MetricsHub } from "../kernel/metrics.ts";
import { PRIVATE_UMASK, privateDataDir } from "../kernel/private-files.ts";
import { installShutdown } from "../kernel/shutdown.ts";
import { Supervisor } from "../kernel/supervisor.ts";
import { scheduleBackups } from "../ops/run-backup.ts";
import { openStoreReader } from "../store/index.ts";
import { buildTree } from "./tree.ts";

function readConfig(): HomeIQConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

const config = readConfig();
const log = createLogger({ actor: "main", level: config.logLevel });
// Everything HomeIQ writes (databases, WAL, spool, backups, exports) is for its own user only.
process.umask(PRIVATE_UMASK);
const tightened = privateDataDir(config.dataDir);
if (tightened.length) log.info("data dir permissions tightened to owner-only", { paths: tightened.length });

// No Home Assistant configured: run the built-in simulated home and connect to it (the demo). The user's
// config stays as loaded; only the copy handed to the actors carries the simulator's URL and token.
const sim =
  !config.ha.url && config.sim.enabled
    ? await startSimulator({
        port: config.sim.port,
        rate: config.sim.rate,
        entities: config.sim.entities,
        seed: config.sim.seed,
        historyMax: config.sim.historyMax,
        historyDays: config.sim.historyDays,
        statisticsDays: config.sim.statisticsDays,
        token: randomBytes(24).toString("base64url"),
      })
    : null;
if (sim) log.info("no ha.url set: running the simulated home", { url: sim.url, rate: config.sim.rate });
const actorConfig: HomeIQConfig = sim
  ? { ...config, ha: { ...config.ha, url: sim.url, token: sim.token } }
  : config;

// Migrations run here, before any actor opens events.db; a data dir from a newer HomeIQ stops the start.
let store: ReturnType<typeof openStoreReader>;
try {
  store = openStoreReader(config.dataDir);
} catch (error) {
  process.stderr.write(`HomeIQ cannot start: ${errorMessage(error)}\n`);
  process.exit(2);
}

const metrics = new MetricsHub();
const supervisor = new Supervisor(buildTree(actorConfig), {
  log: log.child({ actor: "supervisor" }),
  metrics,
  onFatal: (error) => {
    process.stderr.write(`${error.message}\n`);
    supervisor.kill();
    process.exit(1);
  },
});

// The API (main thread): a bad token file or a taken port must stop HomeIQ before any actor starts work.
let apiToken: ReturnType<typeof resolveApiToken>;
try {
  apiToken = resolveApiToken(config);
} catch (error) {
  process.stderr.write(`HomeIQ cannot start: ${errorMessage(error)}\n`);
  process.exit(2);
}
const live = new LiveFeed({ queueMax: config.api.sseQueueMax, registry: supervisor.hubMetrics });
supervisor.onHubMessage<StoredBatch>(EDGES.batcherToHub, (batch) => live.publish(batch));
let api: RunningApi | undefined;
/** How long an import waits for the batcher to store one batch (2,000 rows take well under a second). */
const IMPORT_CALL_MS = 60_000;
// Scheduled online backups (in a worker thread) with a retention count; also on demand through the API.
const backupDir = config.ops.backupDir ?? join(config.dataDir, "backups");
const backups = scheduleBackups({
  dataDir: config.dataDir,
  dir: backupDir,
  intervalMs: config.ops.backupIntervalMs,
  keep: config.ops.backupKeep,
  log: log.child({ actor: "backup" }),
});
// Tells `homeiq import` that a HomeIQ owns this data dir, so it imports through the API instead.
const pidFile = join(config.dataDir, "homeiq.pid");
writeFileSync(pidFile, String(process.pid));

installShutdown({
  supervisor,
  deadlineMs: config.shutdownDeadlineMs,
  log,
  before: () => {
    backups.stop();
    return api?.stop();
  },
  after: async () => {
    await sim?.stop();
    rmSync(pidFile, { force: true });
  },
});
// HA's location (connection's `ha-config` notice) reaches the enrichers that need one.
forwardHaLocation(supervisor, log.child({ actor: "enrichers" }));

try {
  await supervisor.start();
} catch (error) {
  process.stderr.write(`HomeIQ failed to start: ${errorMessage(error)}\n`);
  supervisor.kill();
  process.exit(1);
}
try {
  api = startApi({
    config,
    supervisor,
    metrics,
    // Queries use their own read connections (WAL), never the writers'.
    store,
    metadata: openMetadataReader(config.dataDir),
    live,
    log: log.child({ actor: "api" }),
    token: apiToken.token,
    registry: supervisor.hubMetrics,
    staticDir: new URL("../../web/dist", import.meta.url).pathname,
    ops: {
      backups,
      backupDir,
      // Imports are calls, not mailbox messages: the answer says what was stored, and a batch that fails
      // fails its import (it is not redelivered into a crash loop).
      importCheck: async (ids) =>
        (await supervisor.call("batcher", batcherCall.importCheck(ids), IMPORT_CALL_MS)) as ImportCheckResult,
      importEvents: async (events) =>
        (await supervisor.call("batcher", batcherCall.import(events), IMPORT_CALL_MS)) as ImportWriteResult,
      crash: (actor) => supervisor.crash(actor, "crash injected through the API"),
    },
  });
} catch (error) {
  process.stderr.write(
    `HomeIQ could not serve the API on ${config.host}:${config.port}: ${errorMessage(error)}. Fix: set HOMEIQ_PORT (and HOMEIQ_API_INGRESS_PORT with ingress on) to a free port (0 picks one).\n`,
  );
  await supervisor.stop(config.shutdownDeadlineMs);
  await sim?.stop();
  process.exit(1);
}
log.info("HomeIQ running", { actors: supervisor.status().map((s) => s.name), port: api.port });
// Never the token itself: stdout ends up in docker logs and the add-on log. The dashboard asks for it once;
// on first start the note says it is new and where to read it (`cat <dataDir>/api-token`).
const tokenNote = apiToken.generated
  ? `API token: new, in ${apiToken.path}`
  : apiToken.source === "config"
    ? "API token: HOMEIQ_API_TOKEN"
    : `API token: in ${apiToken.path}`;
process.stdout.write(`HomeIQ dashboard: ${api.url}/  (${tokenNote})\n`);
if (api.ingress)
  process.stdout.write(
    `HomeIQ ingress: ${api.ingress.url}/  (only from ${config.api.ingressFrom}, Home Assistant's ingress proxy; no token)\n`,
  );
// Start-up is done: what it left in the main thread's VM goes back to the OS (the actors do the same).
whenSettled(giveBackMemory);
