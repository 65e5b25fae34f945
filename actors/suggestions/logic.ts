/**
 * Pure decisions of the suggestions actor: what a run mines (window and thresholds from config, clock
 * injected) and when the next scheduled run is due.
 */
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import { homeTimeZone } from "../../runtime/kernel/local-time.ts";
import type { MinerOptions } from "./miner/types.ts";

const DAY_MS = 86_400_000;

/**
 * The home's zone: `suggestions.timeZone` when set, else Home Assistant's `time_zone` (from get_config),
 * else the system's; throws a precise error for an unknown configured zone.
 */
export function resolveTimeZone(configured: string, haTimeZone?: unknown): string {
  return homeTimeZone(configured, haTimeZone, "suggestions.timeZone (HOMEIQ_SUGGESTIONS_TIME_ZONE)");
}

/**
 * Miner options for a run at `now`: the last `suggestions.days` days up to now, days and times of day
 * counted in the home's zone (`haTimeZone`: HA's `time_zone`, when the metadata actor has recorded it).
 */
export function minerOptionsFor(config: HomeIQConfig, now: number, haTimeZone?: unknown): MinerOptions {
  const s = config.suggestions;
  return {
    from: now - s.days * DAY_MS,
    to: now,
    timeZone: resolveTimeZone(s.timeZone, haTimeZone),
    minOccurrences: s.minOccurrences,
    minConfidence: s.minConfidence,
    coWindowMs: s.coWindowMs,
    leftOnMinMs: s.leftOnMinMs,
    maxSamplesPerKey: s.maxSamplesPerKey,
  };
}

/**
 * Delay until the next scheduled run: `intervalMs` after the last run (which survives restarts in
 * suggestions.db), but never sooner than `startDelayMs` after start, so a restart does not mine at once.
 */
export function nextRunDelay(
  lastFinishedAt: number | null,
  startedAt: number,
  now: number,
  s: { startDelayMs: number; intervalMs: number },
): number {
  const earliest = startedAt + s.startDelayMs;
  const due = lastFinishedAt === null ? earliest : Math.max(earliest, lastFinishedAt + s.intervalMs);
  return Math.max(0, due - now);
}
