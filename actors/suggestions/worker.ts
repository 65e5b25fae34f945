/**
 * The suggestions actor: its own worker thread, a read-only connection to events.db while mining, and
 * suggestions.db for what it proposed and what the user decided. It mines on a schedule
 * (`suggestions.intervalMs`) and on demand (`run`), one run at a time (a request during a run joins it)
 * and in the process-wide heavy-run turn (ctx.heavyRun), and asks the LLM to rewrite new suggestions in the
 * background when `llm.url` is set.
 */
import { runActor } from "../../runtime/kernel/actor.ts";
import { errorMessage } from "../../runtime/kernel/log.ts";
import { readHaTimeZone } from "../metadata/reader.ts";
import { rewriteSuggestion } from "./llm.ts";
import { minerOptionsFor, nextRunDelay, resolveTimeZone } from "./logic.ts";
import { check, type SuggestionsRequest } from "./messages.ts";
import { type RunOutcome, runMining } from "./run.ts";
import { type StoredSuggestion, SuggestionStore } from "./suggestion-store.ts";

export type SuggestionsReply =
  | { ok: true; suggestions: StoredSuggestion[]; lastRun: RunOutcome["run"] | null; running: boolean }
  | { ok: true; suggestion: StoredSuggestion }
  | { ok: false; code: "not_found" | "bad_request"; error: string };

runActor({
  name: "suggestions",
  check,
  start(ctx) {
    const { config, clock, metrics, log } = ctx;
    const s = config.suggestions;
    resolveTimeZone(s.timeZone); // a bad zone is a start failure with the fix in the message
    if (s.days > config.store.rawDays)
      log.warn(
        "the miner reads raw events, which are kept only store.rawDays; it will see that much history",
        {
          suggestionsDays: s.days,
          rawDays: config.store.rawDays,
          fix: "set HOMEIQ_STORE_RAW_DAYS >= HOMEIQ_SUGGESTIONS_DAYS to mine the full window",
        },
      );
    const store = new SuggestionStore(config.dataDir);
    const startedAt = clock.now();
    const runs = metrics.counter("suggestions_runs_total", "Mining runs finished", {});
    const runErrors = metrics.counter("suggestions_run_errors_total", "Mining runs that failed");
    const mined = metrics.counter("suggestions_events_mined_total", "Events read by the miner");
    const dropped = metrics.counter(
      "suggestions_samples_dropped_total",
      "Miner samples dropped at suggestions.maxSamplesPerKey",
    );
    const runMs = metrics.histogram("suggestions_run_ms", "Duration of one mining run");
    const open = metrics.gauge("suggestions_open", "Open suggestions");
    const rewrites = {
      ok: metrics.counter("suggestions_llm_rewrites_total", "LLM rewrites by outcome", { outcome: "ok" }),
      failed: metrics.counter("suggestions_llm_rewrites_total", "LLM rewrites by outcome", {
        outcome: "failed",
      }),
      timeout: metrics.counter("suggestions_llm_rewrites_total", "LLM rewrites by outcome", {
        outcome: "timeout",
      }),
    };
    metrics
      .gauge("suggestions_chunk_events", "Bound: events per SQL chunk (suggestions.chunkEvents)")
      .set(s.chunkEvents);
    metrics
      .gauge("suggestions_max_open", "Bound: open suggestions kept (suggestions.maxOpen)")
      .set(s.maxOpen);
    metrics
      .gauge("suggestions_max_samples_per_key", "Bound: miner samples per key (suggestions.maxSamplesPerKey)")
      .set(s.maxSamplesPerKey);
    open.set(store.list("open").length);

    let running: Promise<RunOutcome> | null = null;
    let timer: unknown;
    let closing = false;
    let rewriting = false;

    const rewritePending = async () => {
      if (!config.llm.url || rewriting || closing) return;
      rewriting = true;
      try {
        for (const item of store.pendingRewrites(s.llmMaxPerRun)) {
          if (closing) break;
          const result = await rewriteSuggestion(config.llm, {
            kind: item.kind,
            title: item.minerTitle,
            explanation: item.minerExplanation,
            evidence: item.evidence,
          });
          if (closing) break;
          if (result.ok) rewrites.ok.inc();
          else {
            (result.reason === "timeout" ? rewrites.timeout : rewrites.failed).inc();
            log.warn("LLM rewrite failed; the miner's text stands", { id: item.id, error: result.error });
          }
          store.saveRewrite(item.id, result.ok ? result : null);
        }
      } finally {
        rewriting = false;
      }
    };

    const runNow = (trigger: "schedule" | "manual"): Promise<RunOutcome> => {
      if (running) return running;
      running = (async () => {
        // A mining run takes the process-wide heavy-run turn, so its memory peak never stacks on an
        // insights run's.
        const outcome = await ctx.heavyRun(() =>
          runMining(
            {
              dataDir: config.dataDir,
              store,
              // Local days and times of day in HA's time zone (read per run: HA may change it).
              options: minerOptionsFor(config, clock.now(), readHaTimeZone(config.dataDir)),
              chunkEvents: s.chunkEvents,
              maxOpen: s.maxOpen,
              now: () => clock.now(),
            },
            trigger,
          ),
        );
        runs.inc();
        runMs.observe(outcome.run.ms);
        mined.inc(outcome.run.events);
        dropped.inc(outcome.dropped);
        open.set(outcome.run.open);
        if (outcome.run.error) {
          runErrors.inc();
          log.error("mining run failed", { error: outcome.run.error });
        } else log.info("mining run finished", { ...outcome.run });
        void rewritePending().catch((error) =>
          log.error("LLM rewrite loop failed", { error: errorMessage(error) }),
        );
        return outcome;
      })().finally(() => {
        running = null;
        schedule();
      });
      return running;
    };

    const schedule = () => {
      if (closing) return;
      if (timer !== undefined) clock.clearTimeout(timer);
      const delay = nextRunDelay(store.lastRun()?.finishedAt ?? null, startedAt, clock.now(), s);
      timer = clock.setTimeout(() => {
        timer = undefined;
        void runNow("schedule");
      }, delay);
    };
    schedule();

    const answer = async (msg: SuggestionsRequest): Promise<SuggestionsReply> => {
      switch (msg.type) {
        case "list":
          return {
            ok: true,
            suggestions: store.list(msg.status ?? "open"),
            lastRun: store.lastRun(),
            running: running !== null,
          };
        case "run": {
          await runNow("manual");
          return { ok: true, suggestions: store.list("open"), lastRun: store.lastRun(), running: false };
        }
        case "accept":
        case "dismiss": {
          const updated = store.setStatus(
            msg.id,
            msg.type === "accept" ? "accepted" : "dismissed",
            clock.now(),
          );
          if (!updated)
            return {
              ok: false,
              code: "not_found",
              error: `suggestion "${msg.id}" does not exist; list ids with GET /api/v1/suggestions?status=all`,
            };
          open.set(store.list("open").length);
          return { ok: true, suggestion: updated };
        }
      }
    };

    return {
      async handle(msg) {
        await answer(msg);
      },
      call(body) {
        const checked = check(body);
        if (!checked.ok)
          return { ok: false, code: "bad_request", error: checked.error } satisfies SuggestionsReply;
        return answer(checked.value);
      },
      stopIntake() {
        closing = true;
        if (timer !== undefined) clock.clearTimeout(timer);
      },
      async close() {
        await running?.catch(() => undefined);
        store.close();
      },
    };
  },
});
