/**
 * Exactly once across process restarts: the simulator -> connection -> batcher -> events.db, stopped
 * (gracefully, or killed mid-stream) while the simulated home keeps changing, then started again on the same
 * data dir. What events.db holds must equal what the simulator emitted, per entity: count and timestamps.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EDGES } from "../actors/edges.ts";
import { loadConfig } from "../runtime/config/load.ts";
import { waitFor } from "../runtime/kernel/clock.ts";
import { createLogger } from "../runtime/kernel/log.ts";
import { MetricsHub } from "../runtime/kernel/metrics.ts";
import { Supervisor } from "../runtime/kernel/supervisor.ts";
import { type Simulator, startSimulator } from "../sim/server.ts";
import { storeDigest } from "./support/stack.ts";

setDefaultTimeout(90000);

const actor = (name: string) => ({
  name,
  module: new URL(`../actors/${name}/worker.ts`, import.meta.url).pathname,
});

let cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

function pipeline(sim: Simulator, dataDir: string) {
  const config = loadConfig({
    env: {
      HOMEIQ_DATA_DIR: dataDir,
      HOMEIQ_HA_URL: sim.url,
      HOMEIQ_HA_TOKEN: sim.token,
      HOMEIQ_HA_RECONNECT_MIN_MS: "20",
      HOMEIQ_HA_BACKFILL_MARGIN_MS: "5000",
      HOMEIQ_LOG_LEVEL: "silent",
    },
  });
  const metrics = new MetricsHub();
  const supervisor = new Supervisor(
    {
      children: [actor("metadata"), actor("batcher"), actor("connection")],
      edges: [
        { name: EDGES.connectionToMetadata, from: "connection", to: "metadata", capacity: 16, retain: true },
        { name: EDGES.connectionToBatcher, from: "connection", to: "batcher", capacity: 32, retain: true },
      ],
      maxRestarts: 3,
      periodMs: 30000,
      backoffMinMs: 20,
      backoffMaxMs: 200,
      startTimeoutMs: 20000,
      metricsIntervalMs: 50,
      logLevel: "silent",
      config,
    },
    { log: createLogger({ actor: "supervisor", level: "silent" }), metrics, onFatal: () => {} },
  );
  return { supervisor, metrics };
}

const stored = (dataDir: string) => {
  try {
    return Object.values(storeDigest(join(dataDir, "events.db"))).reduce((n, d) => n + d.count, 0);
  } catch {
    return 0;
  }
};

describe("HA -> store across process restarts", () => {
  for (const how of ["stop", "kill"] as const) {
    test(`after a ${how === "stop" ? "graceful stop" : "kill mid-stream"} and restart, events.db holds every emitted change once`, async () => {
      // HA's defaults: a 5 s recorder commit_interval and raw time.time() stamps.
      const sim = await startSimulator({ entities: 60, rate: 0, token: "t" });
      cleanup.push(() => sim.stop());
      const dataDir = mkdtempSync(join(tmpdir(), "homeiq-restart-"));
      cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));

      const first = pipeline(sim, dataDir);
      await first.supervisor.start();
      await waitFor(() => stored(dataDir) >= 60, { timeoutMs: 20000, what: "snapshot stored" });
      sim.setRate(2000);
      await waitFor(() => stored(dataDir) > 2000, { timeoutMs: 30000, what: "live events stored" });
      if (how === "stop") await first.supervisor.stop(10000);
      else first.supervisor.kill();
      const down = sim.stats().sent;
      await waitFor(() => sim.stats().sent > down + 1000, { timeoutMs: 20000, what: "changes while down" });

      const second = pipeline(sim, dataDir);
      cleanup.push(() => second.supervisor.stop(10000));
      await second.supervisor.start();
      await waitFor(() => second.metrics.counter("events_received_total", { source: "backfill" }) > 0, {
        timeoutMs: 20000,
        what: "restart backfill",
      });
      sim.setRate(0);
      const total = sim.stats().sent;
      await waitFor(() => stored(dataDir) >= total, {
        timeoutMs: 30000,
        what: "every emitted change stored",
      });
      const have = storeDigest(join(dataDir, "events.db"));
      expect(have).toEqual(sim.digest());
    });
  }
});
