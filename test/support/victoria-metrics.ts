/**
 * A real InfluxDB-protocol server for tests and benchmarks: Debian's `victoria-metrics` accepts
 * InfluxDB's `/api/v2/write` line protocol (numeric fields only) and answers PromQL/export queries.
 * Started on a free port with a temp data dir; `stop()` kills it; `restart()` keeps the data.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { type Child, freePort, spawnChild } from "./proc.ts";

export const VICTORIA_METRICS = process.env.VICTORIA_METRICS_BIN ?? "/usr/bin/victoria-metrics";

export interface VictoriaMetrics {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes the data dir. */
  destroy(): Promise<void>;
  /**
   * Number of samples matching a series selector (e.g. `{__name__=~"sensor_.*"}`). Waits until at least
   * `atLeast` are searchable (or the count stops changing when not given), up to `timeoutMs`.
   */
  countSamples(selector: string, expect?: { atLeast?: number; timeoutMs?: number }): Promise<number>;
}

export async function startVictoriaMetrics(): Promise<VictoriaMetrics> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "homeiq-vm-"));
  const url = `http://127.0.0.1:${port}`;
  let child: Child | undefined;
  const start = async () => {
    child = spawnChild(
      [
        VICTORIA_METRICS,
        `-httpListenAddr=127.0.0.1:${port}`,
        `-storageDataPath=${dataDir}`,
        "-retentionPeriod=100y",
        "-search.disableCache",
        "-loggerLevel=ERROR",
      ],
      process.env,
    );
    await waitFor(
      async () => {
        try {
          return (await fetch(`${url}/health`)).ok;
        } catch {
          return false;
        }
      },
      { timeoutMs: 20000, what: "victoria-metrics /health" },
    );
  };
  await start();
  const stop = async () => {
    // A graceful stop: VictoriaMetrics persists its in-memory parts on SIGINT (SIGKILL would lose them).
    await child?.stop("SIGINT");
    child = undefined;
  };
  return {
    url,
    port,
    start,
    stop,
    async destroy() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    async countSamples(selector, expect) {
      // VictoriaMetrics makes fresh rows searchable about a second after they arrive: poll until the
      // expected count shows up (or the count holds still) instead of guessing a delay.
      const count = async () => {
        await fetch(`${url}/internal/force_flush`);
        const text = await (
          await fetch(`${url}/api/v1/export?match[]=${encodeURIComponent(selector)}`)
        ).text();
        let n = 0;
        for (const line of text.split("\n"))
          if (line) n += (JSON.parse(line) as { values: unknown[] }).values.length;
        return n;
      };
      const deadline = Date.now() + (expect?.timeoutMs ?? 10000);
      let last = -1;
      let stableSince = Date.now();
      for (;;) {
        const n = await count();
        if (expect?.atLeast !== undefined && n >= expect.atLeast) return n;
        if (n !== last) {
          last = n;
          stableSince = Date.now();
        } else if (expect?.atLeast === undefined && Date.now() - stableSince > 2500) return n;
        if (Date.now() > deadline) return n;
        await Bun.sleep(100);
      }
    },
  };
}
