/**
 * The history import's plan, pure: which windows of Home Assistant's recorded history and long-term
 * statistics to ask for, in what order, and where a restarted import picks up.
 *
 * A plan is fixed when it is made (range, window sizes, the entity ids in batches) and persisted; progress
 * is one number, the steps done, written after each step's data is committed to the store. So a restart
 * re-asks at most the one step that was in flight, and the store's key (entity, last_updated µs) absorbs
 * the rows that step had already stored. Steps go oldest window first, every entity batch of a window
 * before the next window: raw history over [fromUs, toUs), then statistics over [statsFromUs, fromUs)
 * (only hours older than the raw history: raw rows roll up into their own buckets).
 */
import type { StatisticHour } from "../../runtime/events/messages.ts";

export const HOUR_US = 3_600_000_000;
export const DAY_US = 86_400_000_000;
/** One statistics request covers a week of hours (168 rows per entity, ~20 KB for a batch of 100 ids). */
export const STATS_WINDOW_US = 7 * DAY_US;

export interface ImportPlan {
  /** Raw history range (µs): [fromUs, toUs). */
  fromUs: number;
  toUs: number;
  windowUs: number;
  /** Statistics range (µs, whole hours): [statsFromUs, fromUs floored to the hour). */
  statsFromUs: number;
  statsWindowUs: number;
  /** Entity ids in batches (each history request names one batch). */
  batches: string[][];
}

export interface PlanInput {
  nowUs: number;
  days: number;
  statisticsDays: number;
  windowUs: number;
  statsWindowUs: number;
  entityIds: readonly string[];
  batchSize: number;
}

export type Step =
  | { kind: "history"; startUs: number; endUs: number; entityIds: string[] }
  | { kind: "statistics"; startUs: number; endUs: number; entityIds: string[] };

/** Makes a plan; days 0 gives an empty one (no steps). */
export function planImport(p: PlanInput): ImportPlan {
  const ids = [...new Set(p.entityIds)].sort();
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += p.batchSize) batches.push(ids.slice(i, i + p.batchSize));
  const fromUs = p.nowUs - p.days * DAY_US;
  const rawHourUs = Math.floor(fromUs / HOUR_US) * HOUR_US;
  // Day-aligned, so each day's hours come in one request (the store writes days past hourly retention whole).
  const statsFromUs = Math.min(
    rawHourUs,
    Math.floor((p.nowUs - p.statisticsDays * DAY_US) / DAY_US) * DAY_US,
  );
  return {
    fromUs,
    toUs: p.days > 0 ? p.nowUs : fromUs,
    windowUs: p.windowUs,
    statsFromUs: p.statisticsDays > p.days ? statsFromUs : rawHourUs,
    statsWindowUs: p.statsWindowUs,
    batches,
  };
}

const windows = (from: number, to: number, size: number) => (to > from ? Math.ceil((to - from) / size) : 0);

/** History windows, statistics windows and total steps of a plan. */
export function stepCounts(plan: ImportPlan): { history: number; statistics: number; total: number } {
  const b = plan.batches.length;
  const history = windows(plan.fromUs, plan.toUs, plan.windowUs) * b;
  const statsTo = Math.floor(plan.fromUs / HOUR_US) * HOUR_US;
  const statistics = windows(plan.statsFromUs, statsTo, plan.statsWindowUs) * b;
  return { history, statistics, total: history + statistics };
}

/** Step `i` (0-based) of a plan, or null past the last. */
export function stepAt(plan: ImportPlan, i: number): Step | null {
  const b = plan.batches.length;
  const counts = stepCounts(plan);
  if (b === 0 || i < 0 || i >= counts.total) return null;
  if (i < counts.history) {
    const w = Math.floor(i / b);
    const startUs = plan.fromUs + w * plan.windowUs;
    return {
      kind: "history",
      startUs,
      endUs: Math.min(plan.toUs, startUs + plan.windowUs),
      entityIds: plan.batches[i % b],
    };
  }
  const j = i - counts.history;
  const w = Math.floor(j / b);
  const startUs = plan.statsFromUs + w * plan.statsWindowUs;
  return {
    kind: "statistics",
    startUs,
    endUs: Math.min(Math.floor(plan.fromUs / HOUR_US) * HOUR_US, startUs + plan.statsWindowUs),
    entityIds: plan.batches[j % b],
  };
}

/** One row of HA's `recorder/statistics_during_period` answer (period "hour"). */
export interface HAStatisticRow {
  start: number;
  end?: number;
  mean?: number | null;
  min?: number | null;
  max?: number | null;
  state?: number | null;
  sum?: number | null;
}

/**
 * HA's statistics answer as store hours within [startUs, endUs). A meter's growth is the change of `sum`
 * from the hour before, so the request starts an hour early; the first hour of a meter with no row before
 * it grows by 0 (HA's own first `sum` is 0 too). Rows HA sends in seconds are taken as such (older HA
 * versions), newer ones in ms. Malformed rows are counted in `bad`, never thrown.
 */
export function statisticsToHours(
  answer: unknown,
  startUs: number,
  endUs: number,
): { hours: StatisticHour[]; bad: number } {
  const hours: StatisticHour[] = [];
  let bad = 0;
  if (answer === null || typeof answer !== "object" || Array.isArray(answer)) return { hours, bad: 1 };
  for (const [entityId, rows] of Object.entries(answer as Record<string, unknown>)) {
    if (!Array.isArray(rows)) {
      bad++;
      continue;
    }
    let prevSum: number | null = null;
    for (const r of rows as HAStatisticRow[]) {
      const start =
        typeof r?.start === "number"
          ? r.start
          : typeof r?.start === "string"
            ? Date.parse(r.start)
            : Number.NaN;
      if (!Number.isFinite(start)) {
        bad++;
        continue;
      }
      const us = (start < 1e11 ? start * 1e3 : start) * 1e3;
      const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
      const sum = num(r.sum);
      const growth = sum !== null && prevSum !== null ? sum - prevSum : 0;
      if (sum !== null) prevSum = sum;
      // The hour before the window is asked only for its sum (the first hour's growth): not stored.
      if (us < startUs || us >= endUs) continue;
      if (us % HOUR_US !== 0) {
        bad++; // HA's hourly statistics start on the hour; anything else is not a row we understand
        continue;
      }
      const mean = num(r.mean);
      const state = num(r.state);
      if (mean === null && state === null) {
        bad++;
        continue;
      }
      hours.push({ entity_id: entityId, t: us / 1e6, mean, min: num(r.min), max: num(r.max), state, growth });
    }
  }
  return { hours, bad };
}
