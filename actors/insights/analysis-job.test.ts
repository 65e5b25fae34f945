import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../runtime/config/load.ts";
import { PLANTED, syntheticHome } from "../../test/support/synthetic-home/insights.ts";
import { seedStore } from "../../test/support/synthetic-home/insights-store.ts";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { runAnalysis } from "./analysis-job.ts";

const tempDir = tempDirs("insights-job-");
const settings = loadConfig({ env: {} }).insights;

describe("runAnalysis", () => {
  test("a health job on a store answers its report; energy likewise", () => {
    const now = Date.now() - 1000;
    const dir = tempDir();
    seedStore(dir, syntheticHome({ seed: 4, days: 2, now }).events);
    const health = runAnalysis({ kind: "health", dataDir: dir, settings, now, meta: [] });
    expect(
      health.ok && health.kind === "health" && health.report.unhealthy.map((v) => v.entity_id),
    ).toContain(PLANTED.unavailable);
    const energy = runAnalysis({ kind: "energy", dataDir: dir, settings, now, meta: [] });
    expect(energy.ok && energy.kind === "energy" && energy.report.devices.length).toBeGreaterThan(0);
    // The thread is no actor: its heap shows only through the peak each run reports.
    for (const run of [health, energy]) expect(run.ok && run.heapPeakBytes).toBeGreaterThan(1024 * 1024);
  });

  test("a store that is not there is an error result naming the path, not a throw", () => {
    const dir = tempDir();
    const result = runAnalysis({ kind: "health", dataDir: dir, settings, now: Date.now(), meta: [] });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain(dir);
  });
});
