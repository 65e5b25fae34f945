/**
 * The insights actor: its own worker thread and read connection to events.db, so the analyses that take
 * seconds (stats over 7 and 30 days, entity health, energy impact) never stall ingest or the API. Each is
 * recomputed on its own timer and kept (one result per kind: bounded); calls answer from what is kept,
 * computing first only when nothing is yet. Health and energy runs, which read a week of raw history,
 * each run in a short-lived thread of their own (./analysis-thread.ts), one heavy run at a time in the
 * process (ctx.heavyRun). Health changes go to the webhook dispatcher when it is wired.
 */
import { runActor } from "../../runtime/kernel/actor.ts";
import { type JobThread, startJobThread } from "../../runtime/kernel/job-thread.ts";
import { homeTimeZone, localClock } from "../../runtime/kernel/local-time.ts";
import { errorMessage } from "../../runtime/kernel/log.ts";
import { type EventStats, STATS_WINDOWS } from "../../runtime/store/insights/stats.ts";
import { openInsightsReader } from "../../runtime/store/insights-reader.ts";
import { openStoreReader } from "../../runtime/store/reader.ts";
import { openMetadataReader, readHaTimeZone } from "../metadata/reader.ts";
import type { HealthMessage } from "../webhook-dispatcher/messages.ts";
import type { HealthReport } from "./analyses.ts";
import type { AnalysisJob, AnalysisResult } from "./analysis-job.ts";
import type { EnergyReport } from "./energy.ts";
import { type HealthStatus, healthChanges } from "./health.ts";
import type { EntityMeta } from "./inputs.ts";
import { ACTOR, check, EDGE_TO_WEBHOOKS, type InsightsRequest } from "./messages.ts";

/** How soon an analysis that found no data (a fresh store) looks again. */
const EMPTY_RETRY_MS = 60_000;
/** A health or energy run's thread is ended after this, and the run counted as failed. */
const ANALYSIS_DEADLINE_MS = 10 * 60_000;
const ANALYSIS_THREAD = new URL("./analysis-thread.ts", import.meta.url).href;

runActor({
  name: ACTOR,
  check,
  start(ctx) {
    const { config, clock, metrics, log } = ctx;
    const s = config.insights;
    // The store's reader creates and migrates events.db if the batcher has not yet; then read-only from here.
    openStoreReader(config.dataDir).close();
    const reader = openInsightsReader(config.dataDir, s);
    const runMs = {
      health: metrics.histogram("insights_run_ms", "Duration of one analysis run", { kind: "health" }),
      energy: metrics.histogram("insights_run_ms", "Duration of one analysis run", { kind: "energy" }),
      stats: metrics.histogram("insights_run_ms", "Duration of one analysis run", { kind: "stats" }),
    };
    const failures = metrics.counter("insights_run_errors_total", "Analysis runs that failed");
    const unhealthy = metrics.gauge("insights_unhealthy_entities", "Entities with a health issue");
    const threadsStarted = metrics.counter(
      "insights_analysis_threads_total",
      "Threads started for one health or energy run each",
    );
    const threadsAlive = metrics.gauge(
      "insights_analysis_threads",
      "Analysis threads running now (0 or 1: runs take turns)",
    );
    const threadPeak = {
      health: metrics.gauge("insights_analysis_heap_peak_bytes", "Heap peak of the last run's thread", {
        kind: "health",
      }),
      energy: metrics.gauge("insights_analysis_heap_peak_bytes", "Heap peak of the last run's thread", {
        kind: "energy",
      }),
    };
    const sent = metrics.counter(
      "insights_health_changes_total",
      "Health changes sent to the webhook dispatcher",
    );
    metrics.gauge("insights_history_days", "Bound: days of history the analyses read").set(s.historyDays);
    metrics.gauge("insights_search_scan_rows", "Bound: raw rows one search page scans").set(s.searchScanRows);
    metrics.gauge("insights_search_terms_max", "Bound: terms one search may hold").set(s.searchTermsMax);
    metrics
      .gauge("insights_search_states_max", "Bound: newest distinct states one search matches terms against")
      .set(s.searchStatesMax);

    let health: HealthReport | null = null;
    let energy: (EnergyReport & { computedAt: number }) | null = null;
    const stats = new Map<"7d" | "30d", EventStats & { computedAt: number }>();
    /** Last status sent per entity with an issue: at most one entry per entity. */
    const notified = new Map<string, HealthStatus>();
    const timers = new Map<string, unknown>();
    let closing = false;

    const timed = <T>(kind: keyof typeof runMs, fn: () => T): T | null => {
      const started = performance.now();
      try {
        return fn();
      } catch (error) {
        failures.inc();
        log.error("insights run failed", { kind, error: errorMessage(error) });
        return null;
      } finally {
        runMs[kind].observe(performance.now() - started);
      }
    };

    /** Names and devices from the metadata registry, read fresh for each run (bounded by the registry). */
    const entityMeta = (): Map<string, EntityMeta> => {
      const out = new Map<string, EntityMeta>();
      try {
        const meta = openMetadataReader(config.dataDir);
        try {
          let cursor: string | undefined;
          do {
            const page = meta.entities({ limit: 1000, ...(cursor ? { cursor } : {}) });
            for (const e of page.items) out.set(e.entity_id, { name: e.name, device_id: e.device_id });
            cursor = page.nextCursor ?? undefined;
          } while (cursor);
        } finally {
          meta.close();
        }
      } catch (error) {
        log.debug("no metadata for insights; names and device pairing skipped", {
          error: errorMessage(error),
        });
      }
      return out;
    };

    let running: JobThread<AnalysisResult> | null = null;
    /** One health or energy run in a thread of its own (./analysis-thread.ts), ended when it answers. */
    const inOwnThread = async (kind: AnalysisJob["kind"]): Promise<AnalysisResult> => {
      const job: AnalysisJob = {
        kind,
        dataDir: config.dataDir,
        settings: s,
        now: clock.now(),
        meta: [...entityMeta()],
      };
      const thread = startJobThread<AnalysisJob, AnalysisResult>(ANALYSIS_THREAD, job, {
        deadlineMs: ANALYSIS_DEADLINE_MS,
        clock,
      });
      running = thread;
      threadsStarted.inc();
      threadsAlive.set(1);
      try {
        const result = await thread.result;
        // The turn passes on once the thread's memory is back, not at its answer (runtime/kernel/job-thread.ts).
        await thread.ended;
        return result;
      } finally {
        running = null;
        threadsAlive.set(0);
      }
    };
    const timedInThread = async (
      kind: AnalysisJob["kind"],
    ): Promise<Extract<AnalysisResult, { ok: true }> | null> => {
      // Runs take the process-wide heavy-run turn: two weeks of history in two threads at once, or one
      // beside a mining run, would stack their peaks.
      const result = await ctx.heavyRun(async (): Promise<AnalysisResult> => {
        const started = performance.now();
        try {
          // A thread that fails or cannot start fails this run only; the turn and the timers go on.
          return await inOwnThread(kind);
        } finally {
          runMs[kind].observe(performance.now() - started);
        }
      });
      if (result.ok) {
        threadPeak[kind].set(result.heapPeakBytes);
        return result;
      }
      failures.inc();
      log.error("insights run failed", { kind, error: result.error });
      return null;
    };

    const runHealth = async () => {
      const result = await timedInThread("health");
      const report = result?.kind === "health" ? result.report : null;
      if (!report) return;
      health = report;
      unhealthy.set(report.unhealthy.length);
      const changes = healthChanges(notified, report.unhealthy, report.computedAt);
      if (!ctx.hasOutbox(EDGE_TO_WEBHOOKS)) return;
      const out = ctx.outbox<HealthMessage>(EDGE_TO_WEBHOOKS);
      for (const c of changes) {
        const v = report.unhealthy.find((x) => x.entity_id === c.entity_id);
        await out.send({
          type: "health",
          entity_id: c.entity_id,
          status: c.status,
          ts: c.since,
          ...(v?.issues[0] ? { reason: v.issues[0].detail } : {}),
        });
        sent.inc();
      }
    };
    const runEnergy = async () => {
      const result = await timedInThread("energy");
      if (result?.kind === "energy") energy = result.report;
    };
    const runStats = () => {
      for (const window of ["7d", "30d"] as const) {
        const now = clock.now();
        const { spanMs, bucketMs } = STATS_WINDOWS[window];
        // Days and hours of the day in the home's zone (HA's time_zone; read per run, HA may change it).
        const home = localClock(homeTimeZone(config.suggestions.timeZone, readHaTimeZone(config.dataDir)));
        const result = timed("stats", () =>
          reader.stats({ from: now - spanMs, to: now, bucketMs, top: s.statsTop, clock: home }),
        );
        if (result) stats.set(window, { computedAt: now, ...result });
      }
    };

    // One timer per kind; a run that overruns its interval delays the next instead of piling up. While a
    // kind has found nothing yet (a fresh store), it looks again within EMPTY_RETRY_MS, not a whole interval.
    const every = (kind: string, ms: number, fn: () => void | Promise<void>, found: () => boolean) => {
      const tick = async () => {
        if (closing) return;
        await fn();
        if (!closing) timers.set(kind, clock.setTimeout(tick, found() ? ms : Math.min(ms, EMPTY_RETRY_MS)));
      };
      timers.set(kind, clock.setTimeout(tick, 0));
    };
    every("stats", s.statsRefreshMs, runStats, () => (stats.get("30d")?.total ?? 0) > 0);
    every("health", s.healthIntervalMs, runHealth, () => (health?.entities ?? 0) > 0);
    every("energy", s.energyIntervalMs, runEnergy, () => (energy?.devices.length ?? 0) > 0);

    return {
      handle() {
        // No inbound edges; requests arrive as calls.
      },
      async call(body) {
        const checked = check(body);
        if (!checked.ok) throw new Error(checked.error);
        const req: InsightsRequest = checked.value;
        switch (req.type) {
          case "stats":
            if (!stats.has(req.window)) runStats();
            return stats.get(req.window) ?? null;
          case "health":
            if (!health) await runHealth();
            return health;
          case "energy":
            if (!energy) await runEnergy();
            return energy;
          case "refresh":
            runStats();
            await runHealth();
            await runEnergy();
            return { health: health?.computedAt ?? null, energy: energy?.computedAt ?? null };
        }
      },
      stopIntake() {
        closing = true;
        for (const t of timers.values()) clock.clearTimeout(t);
      },
      close() {
        running?.stop();
        reader.close();
      },
    };
  },
});
