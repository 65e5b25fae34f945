/**
 * `npm start`: load the config, start the supervision tree and the API, and handle signals.
 * With no configuration at all this runs the embedded demo: the simulated home, SQLite under ./data.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { forwardHaLocation } from "../actors/enrichers/location.ts";
import { startSimulator } from "../sim/server.ts";
import { ConfigError, loadConfig } from "./config/load.ts";
import type { HomeIQConfig } from "./config/schema.ts";
import { createLogger, errorMessage } from "./log.ts";
import { MetricsHub } from "./metrics.ts";
import { installShutdown } from "./shutdown.ts";
import { Supervisor } from "./supervisor.ts";
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
mkdirSync(config.dataDir, { recursive: true });

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
        token: randomBytes(24).toString("base64url"),
      })
    : null;
if (sim) log.info("no ha.url set: running the simulated home", { url: sim.url, rate: config.sim.rate });
const actorConfig: HomeIQConfig = sim
  ? { ...config, ha: { ...config.ha, url: sim.url, token: sim.token } }
  : config;

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

installShutdown({ supervisor, deadlineMs: config.shutdownDeadlineMs, log, after: () => sim?.stop() });
// HA's location (connection's `ha-config` notice) reaches the enrichers that need one.
forwardHaLocation(supervisor, log.child({ actor: "enrichers" }));

try {
  await supervisor.start();
} catch (error) {
  process.stderr.write(`HomeIQ failed to start: ${errorMessage(error)}\n`);
  supervisor.kill();
  process.exit(1);
}
log.info("HomeIQ running", { actors: supervisor.status().map((s) => s.name) });
