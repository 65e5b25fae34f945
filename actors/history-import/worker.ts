/**
 * The history import actor: reads Home Assistant's recorded history and long-term statistics over its own
 * short-lived session (./client.ts) and hands them to the batcher, step by step as ./logic.ts plans them,
 * with progress in `history-import.db` (./progress.ts). Thin adapter: the rules are in ./logic.ts.
 *
 * Bounded and paced: one request in flight, one step's answer in memory, `ha.importPaceMs` between
 * requests, and a step counts as done only once the batcher acknowledged its data (committed), so a
 * restart resumes at the step in flight. Rows go in as source "history": deduplicated against live
 * events by (entity, last_updated µs); no webhook rule can select that source, so imported history never
 * fires one.
 */

import { type BatcherMessage, batcherMessage } from "../../runtime/events/messages.ts";
import { runActor } from "../../runtime/kernel/actor.ts";
import { historyToChanges } from "../connection/frames.ts";
import { RequestError } from "../connection/request-error.ts";
import { isoFromUs } from "../connection/time.ts";
import { EDGES } from "../edges.ts";
import { ImportSession } from "./client.ts";
import {
  DAY_US,
  HOUR_US,
  planImport,
  STATS_WINDOW_US,
  statisticsToHours,
  stepAt,
  stepCounts,
} from "./logic.ts";
import { check, type HistoryImportCall, type HistoryImportStatus, type StartAnswer } from "./messages.ts";
import { ImportProgress, type SavedImport } from "./progress.ts";

/** History windows too large for one answer are split down to a minute (then refused for good). */
const MIN_SPLIT_US = 60_000_000;

runActor<{ type: "never" }>({
  name: "history-import",
  check,
  start(ctx) {
    const ha = ctx.config.ha;
    const progress = new ImportProgress(ctx.config.dataDir);
    const out = ctx.outbox<BatcherMessage>(EDGES.historyImportToBatcher);
    const m = ctx.metrics;
    const stepsDone = m.gauge(
      "history_import_steps_done",
      "History import steps (window × entity batch) committed",
    );
    const stepsTotal = m.gauge("history_import_steps_total", "History import steps in the current plan");
    const eventsTotal = m.counter(
      "history_import_events_total",
      "State changes read from HA's history and stored (deduplicated by the store)",
    );
    const hoursTotal = m.counter(
      "history_import_statistics_hours_total",
      "Hours of HA long-term statistics handed to the store",
    );
    const requests = m.counter("history_import_requests_total", "Requests the history import made of HA");
    const failures = m.counter(
      "history_import_failures_total",
      "History import runs stopped by an error (retried, resuming)",
    );
    const splits = m.counter(
      "history_import_splits_total",
      "History windows asked again in halves because the answer was over ha.maxFrameBytes",
    );
    const badRows = m.counter(
      "history_import_rows_rejected_total",
      "History or statistics rows HA sent that could not be read",
    );
    m.gauge("history_import_days", "Bound: days of raw history imported (ha.importDays)").set(ha.importDays);
    m.gauge(
      "history_import_statistics_days",
      "Bound: days of hourly statistics imported (ha.importStatisticsDays, capped at store.dailyDays)",
    ).set(Math.min(ha.importStatisticsDays, ctx.config.store.dailyDays));
    m.gauge("history_import_window_ms", "Bound: one history request's window (ha.importWindowMs)").set(
      ha.importWindowMs,
    );
    m.gauge("history_import_entity_batch", "Bound: entities per history request (ha.importEntityBatch)").set(
      ha.importEntityBatch,
    );
    m.gauge("history_import_pace_ms", "Pacing: wait between history requests (ha.importPaceMs)").set(
      ha.importPaceMs,
    );

    let saved: SavedImport | null = progress.load();
    let state: HistoryImportStatus["state"] = "idle";
    let lastError: string | null = null;
    /** Requests this process made of HA for imports. */
    let requestsTotal = 0;
    let stopping = false;
    let session: ImportSession | null = null;
    let retryTimer: unknown = null;
    const sleep = (ms: number) => new Promise<void>((r) => ctx.clock.setTimeout(r, ms));

    const status = (): HistoryImportStatus => {
      const total = saved ? stepCounts(saved.plan).total : 0;
      return {
        state,
        reason: saved?.reason ?? null,
        stepsDone: saved?.done ?? 0,
        stepsTotal: total,
        events: saved?.events ?? 0,
        hours: saved?.hours ?? 0,
        fromMs: saved ? Math.round(Math.min(saved.plan.statsFromUs, saved.plan.fromUs) / 1000) : null,
        toMs: saved ? Math.round(saved.plan.toUs / 1000) : null,
        lastError,
        requests: requestsTotal,
      };
    };
    const report = () => {
      const s = status();
      stepsDone.set(s.stepsDone);
      stepsTotal.set(s.stepsTotal);
      ctx.notify("history-import", s);
    };

    const sendAll = async (msgs: BatcherMessage[]) => {
      for (const msg of msgs) await out.send(msg);
      // Acknowledged = handled by the batcher = committed: only then is the step done.
      await out.drained();
    };

    /**
     * Fetches and stores [startUs, endUs) with `fetch`; a part whose answer is over ha.maxFrameBytes is
     * asked again in halves (aligned to `minUs`, never shorter), paced like steps. Returns what `fetch`
     * counted. The step is done when all parts are committed; a restart redoes it and the store dedupes.
     */
    const inHalves = async (
      startUs: number,
      endUs: number,
      minUs: number,
      fetch: (startUs: number, endUs: number) => Promise<number>,
    ): Promise<number> => {
      const parts: [number, number][] = [[startUs, endUs]];
      let n = 0;
      for (let part = parts.shift(); part; part = parts.shift()) {
        const [a, b] = part;
        try {
          n += await fetch(a, b);
        } catch (error) {
          const mid = a + Math.floor((b - a) / 2 / minUs) * minUs;
          if (!(error instanceof RequestError && error.code === "too_large" && mid > a)) throw error;
          parts.unshift([a, mid], [mid, b]);
          splits.inc();
        }
        if (parts.length > 0 && ha.importPaceMs > 0) await sleep(ha.importPaceMs);
      }
      return n;
    };

    /** Runs the plan from where it stands; `fresh` makes a new plan first (HA's entity ids right now). */
    const run = async (fresh: { days: number; reason: string } | null) => {
      if (!ha.url || !ha.token) {
        state = "off";
        return;
      }
      state = "running";
      report();
      const s = new ImportSession({
        url: ha.url,
        token: ha.token,
        connectTimeoutMs: ha.connectTimeoutMs + ha.authTimeoutMs,
        requestTimeoutMs: ha.requestTimeoutMs,
        maxFrameBytes: ha.maxFrameBytes,
      });
      session = s;
      let planned = false;
      let requestsSeen = 0;
      const counted = () => {
        requests.inc(s.requests - requestsSeen);
        requestsTotal += s.requests - requestsSeen;
        requestsSeen = s.requests;
      };
      try {
        await s.open();
        if (fresh) {
          const states = (await s.request("get_states", {})) as { entity_id?: unknown }[];
          const ids = Array.isArray(states)
            ? states.map((x) => x?.entity_id).filter((x): x is string => typeof x === "string")
            : [];
          const plan = planImport({
            nowUs: ctx.clock.now() * 1000,
            days: fresh.days,
            // The daily tier keeps store.dailyDays: statistics older than that would be deleted at once.
            statisticsDays: Math.min(ha.importStatisticsDays, ctx.config.store.dailyDays),
            windowUs: ha.importWindowMs * 1000,
            statsWindowUs: STATS_WINDOW_US,
            entityIds: ids,
            batchSize: ha.importEntityBatch,
          });
          saved = progress.begin(plan, fresh.reason, ctx.clock.now());
          planned = true;
          ctx.log.info("history import planned", {
            reason: fresh.reason,
            days: fresh.days,
            entities: ids.length,
            steps: stepCounts(plan).total,
          });
        }
        const job = saved;
        if (!job) return;
        report();
        for (let step = stepAt(job.plan, job.done); step && !stopping; step = stepAt(job.plan, job.done)) {
          if (step.kind === "history") {
            const events = await inHalves(step.startUs, step.endUs, MIN_SPLIT_US, async (startUs, endUs) => {
              const answer = await s.request("history/history_during_period", {
                // HA's bounds are exclusive: 1 µs wider at the start; the end is the next window's start.
                start_time: isoFromUs(startUs - 1),
                end_time: isoFromUs(endUs),
                entity_ids: step.entityIds,
                include_start_time_state: false,
                significant_changes_only: false,
                minimal_response: false,
                no_attributes: false,
              });
              const { changes, rejected } = historyToChanges(answer, { maxDepth: ha.maxAttributeDepth });
              if (rejected.length > 0) badRows.inc(rejected.length);
              const msgs: BatcherMessage[] = [];
              const size = ctx.config.batcher.maxEvents;
              for (let i = 0; i < changes.length; i += size)
                msgs.push(batcherMessage.events("history", changes.slice(i, i + size)));
              await sendAll(msgs);
              eventsTotal.inc(changes.length);
              return changes.length;
            });
            progress.stepDone(job, events, 0);
          } else {
            // Split in whole days only: the store writes a day before hourly retention from one answer.
            const hours = await inHalves(step.startUs, step.endUs, DAY_US, async (startUs, endUs) => {
              // From an hour early: a meter's growth in the first hour is the change of `sum` from the one before.
              const answer = await s.request("recorder/statistics_during_period", {
                start_time: isoFromUs(startUs - HOUR_US),
                end_time: isoFromUs(endUs),
                statistic_ids: step.entityIds,
                period: "hour",
                types: ["mean", "min", "max", "sum", "state"],
              });
              const { hours, bad } = statisticsToHours(answer, startUs, endUs);
              if (bad > 0) badRows.inc(bad);
              await sendAll(hours.length > 0 ? [batcherMessage.statistics(hours)] : []);
              hoursTotal.inc(hours.length);
              return hours.length;
            });
            progress.stepDone(job, 0, hours);
          }
          counted();
          report();
          if (ha.importPaceMs > 0) await sleep(ha.importPaceMs);
        }
        if (!stopping) {
          state = "done";
          lastError = null;
          ctx.log.info("history import done", { events: job.events, hours: job.hours, requests: s.requests });
        }
      } catch (error) {
        counted();
        if (stopping) return;
        failures.inc();
        lastError = String((error as Error)?.message ?? error);
        state = "waiting";
        ctx.log.warn("history import stopped; resuming where it stood", {
          error: lastError,
          retryMs: ha.reconnectMaxMs,
        });
        retryTimer = ctx.clock.setTimeout(() => {
          retryTimer = null;
          // A fresh run that failed before its plan was saved asks again for the plan it meant to make.
          void run(fresh && !planned ? fresh : null);
        }, ha.reconnectMaxMs);
      } finally {
        s.close();
        if (session === s) session = null;
        report();
      }
    };

    // First start with the import on (no plan ever made): import the recorder's days. A plan left
    // unfinished by a restart resumes.
    if (!saved && ha.importDays > 0) void run({ days: ha.importDays, reason: "first-start" });
    else if (saved && saved.done < stepCounts(saved.plan).total) void run(null);
    else {
      if (saved) state = "done";
      report();
    }

    return {
      handle() {},
      call(raw) {
        const body = raw as HistoryImportCall;
        if (body?.type === "status") return status();
        if (body?.type === "start") {
          const days = body.days;
          if (!Number.isInteger(days) || days < 1 || days > 3650)
            return {
              ok: false,
              error: `days must be an integer from 1 to 3650, got ${String(days)}`,
            } satisfies StartAnswer;
          if (state === "running")
            return {
              ok: false,
              error: "a history import is running; wait for it (GET its status) or restart HomeIQ",
            } satisfies StartAnswer;
          if (retryTimer !== null) ctx.clock.clearTimeout(retryTimer);
          retryTimer = null;
          void run({ days, reason: "on-demand" });
          return { ok: true, status: status() } satisfies StartAnswer;
        }
        throw new Error('history-import: unknown call; expected {type: "status"} or {type: "start", days}');
      },
      stopIntake() {
        stopping = true;
        if (retryTimer !== null) ctx.clock.clearTimeout(retryTimer);
        session?.close();
      },
      close() {
        progress.close();
      },
    };
  },
});
