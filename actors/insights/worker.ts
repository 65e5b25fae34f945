/**
 * The insights actor: its own worker thread and read connection to events.db, so the analyses that take
 * seconds (stats over 7 and 30 days, entity health, energy impact) never stall ingest or the API. Each is
 * recomputed on its own timer and kept (one result per kind: bounded); calls answer from what is kept,
 * computing first only when nothing is yet. Health and energy report from summaries bounded by entities
 * (./health-fold.ts, ./energy-fold.ts) that one read of the store keeps current: each run folds in only
 * the rows stored since the last, and the window is read whole once per actor life, page by page. Health
 * changes go to the webhook dispatcher when it is wired.
 */
import { runActor } from "../../runtime/kernel/actor.ts";
import { homeTimeZone, localClock } from "../../runtime/kernel/local-time.ts";
import { errorMessage } from "../../runtime/kernel/log.ts";
import { type EventStats, STATS_WINDOWS } from "../../runtime/store/insights/stats.ts";
import { openInsightsReader } from "../../runtime/store/insights-reader.ts";
import { openStoreReader } from "../../runtime/store/reader.ts";
import { openMetadataReader, readHaTimeZone } from "../metadata/reader.ts";
import type { HealthMessage } from "../webhook-dispatcher/messages.ts";
import { type HealthReport, healthOfSummary } from "./analyses.ts";
import type { EnergyReport } from "./energy.ts";
import { EnergyFold } from "./energy-fold.ts";
import { type HealthStatus, healthChanges } from "./health.ts";
import { HealthFold } from "./health-fold.ts";
import { FoldedHistory, Folds } from "./history.ts";
import type { EntityMeta } from "./inputs.ts";
import { ACTOR, check, EDGE_TO_WEBHOOKS, type InsightsRequest } from "./messages.ts";

/** How soon an analysis that found no data (a fresh store) looks again. */
const EMPTY_RETRY_MS = 60_000;
/** Rows one read of the summaries takes from the store; calls and messages get through between reads. */
const FOLD_PAGE_ROWS = 10_000;

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
    const healthFold = new HealthFold({
      historyDays: s.historyDays,
      lowBatteryPct: s.lowBatteryPct,
      changesKept: s.healthChangesKept,
    });
    const energyFold = new EnergyFold(s);
    const history = new FoldedHistory(
      reader,
      new Folds([healthFold, energyFold]),
      s.historyDays,
      FOLD_PAGE_ROWS,
    );
    const foldGauges = {
      health: {
        entities: metrics.gauge("insights_fold_entities", "Entities a summary holds", { kind: "health" }),
        bytes: metrics.gauge("insights_fold_bytes", "Bytes a summary holds (estimate)", { kind: "health" }),
      },
      energy: {
        entities: metrics.gauge("insights_fold_entities", "Entities a summary holds", { kind: "energy" }),
        bytes: metrics.gauge("insights_fold_bytes", "Bytes a summary holds (estimate)", { kind: "energy" }),
      },
    };
    const foldRows = metrics.counter("insights_fold_rows_total", "Rows the summaries read from the store");
    const foldRebuilds = metrics.counter(
      "insights_fold_rebuilds_total",
      "Times the summaries read their whole window (start, renames) or one entity's again (rows stored late)",
    );
    metrics
      .gauge("insights_health_changes_kept", "Bound: state-change times kept per entity for health")
      .set(s.healthChangesKept);
    metrics
      .gauge("insights_energy_transitions_kept", "Bound: on/off changes kept per device for energy")
      .set(s.energyTransitionsKept);
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

    let folded = { rowsRead: 0, rebuilds: 0 };
    /** Brings the summaries up to now (only the rows stored since the last run) and reports from them. */
    const fromFold = async <T>(
      kind: "health" | "energy",
      report: (now: number, meta: ReadonlyMap<string, EntityMeta>) => T,
    ): Promise<T | null> => {
      const started = performance.now();
      try {
        const now = clock.now();
        const meta = entityMeta();
        energyFold.setMeta(meta);
        return await history.at(now, () => report(now, meta));
      } catch (error) {
        // A fold stopped by the actor's stop is no failure.
        if (!closing) {
          failures.inc();
          log.error("insights run failed", { kind, error: errorMessage(error) });
        }
        return null;
      } finally {
        runMs[kind].observe(performance.now() - started);
        for (const [k, fold] of [
          ["health", healthFold],
          ["energy", energyFold],
        ] as const) {
          const usage = fold.usage();
          foldGauges[k].entities.set(usage.entities);
          foldGauges[k].bytes.set(usage.bytes);
        }
        const read = history.stats;
        foldRows.inc(read.rowsRead - folded.rowsRead);
        foldRebuilds.inc(read.rebuilds + read.entityRebuilds - folded.rebuilds);
        folded = { rowsRead: read.rowsRead, rebuilds: read.rebuilds + read.entityRebuilds };
      }
    };

    const runHealth = async () => {
      const report = await fromFold("health", (now, meta) => healthOfSummary(healthFold, s, now, meta));
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
      const report = await fromFold("energy", (now) => energyFold.report(now));
      if (report) energy = report;
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
        history.stop();
        for (const t of timers.values()) clock.clearTimeout(t);
      },
      close() {
        reader.close();
      },
    };
  },
});
