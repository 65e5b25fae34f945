/**
 * `npm start`: load the config, start the supervision tree and the API, and handle signals.
 * With no configuration at all this runs the embedded demo: the simulated home, SQLite under ./data.
 */
import { mkdirSync } from "node:fs";
import { forwardHaLocation } from "../actors/enrichers/location.ts";
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

const metrics = new MetricsHub();
const supervisor = new Supervisor(buildTree(config), {
  log: log.child({ actor: "supervisor" }),
  metrics,
  onFatal: (error) => {
    process.stderr.write(`${error.message}\n`);
    supervisor.kill();
    process.exit(1);
  },
});

installShutdown({ supervisor, deadlineMs: config.shutdownDeadlineMs, log });
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
