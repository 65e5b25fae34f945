/**
 * A health or energy run as a job for ./analysis-thread.ts: what the insights actor sends (plain data,
 * structured-cloned) and what comes back.
 */
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import { openInsightsReader } from "../../runtime/store/insights-reader.ts";
import { energyReport, type HealthReport, healthReport } from "./analyses.ts";
import type { EnergyReport } from "./energy.ts";
import type { EntityMeta } from "./inputs.ts";

export type AnalysisJob = {
  kind: "health" | "energy";
  dataDir: string;
  settings: HomeIQConfig["insights"];
  now: number;
  meta: [string, EntityMeta][];
};

/** `heapPeakBytes`: the thread's largest heap footprint during the run (it is no actor: no actor_heap_bytes). */
export type AnalysisResult =
  | { ok: true; kind: "health"; report: HealthReport; heapPeakBytes: number }
  | { ok: true; kind: "energy"; report: EnergyReport & { computedAt: number }; heapPeakBytes: number }
  | { ok: false; error: string };

/** Runs one job on a fresh read connection. */
export function runAnalysis(job: AnalysisJob): AnalysisResult {
  try {
    const reader = openInsightsReader(job.dataDir, job.settings);
    try {
      const meta = new Map(job.meta);
      if (job.kind === "health") {
        const report = healthReport(reader, job.settings, job.now, meta);
        return { ok: true, kind: "health", report, heapPeakBytes: reader.scanPeakBytes() };
      }
      const report = energyReport(reader, job.settings, job.now, meta);
      return { ok: true, kind: "energy", report, heapPeakBytes: reader.scanPeakBytes() };
    } finally {
      reader.close();
    }
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
