/**
 * Pure decisions of the suggestions actor: what a run mines (window and thresholds from config, clock
 * injected) and when the next scheduled run is due.
 */
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { MinerOptions } from "./miner/types.ts";

const DAY_MS = 86_400_000;

/** The configured zone, or the system's when empty; throws a precise error for an unknown zone. */
export function resolveTimeZone(configured: string): string {
  const zone = configured || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    throw new Error(
      `suggestions.timeZone (HOMEIQ_SUGGESTIONS_TIME_ZONE): unknown time zone "${zone}". Fix: use an IANA name like Europe/Berlin, or leave it empty for the system zone.`,
    );
  }
  return zone;
}

/** Miner options for a run at `now`: the last `suggestions.days` days up to now. */
export function minerOptionsFor(config: HomeIQConfig, now: number): MinerOptions {
  const s = config.suggestions;
  return {
    from: now - s.days * DAY_MS,
    to: now,
    timeZone: resolveTimeZone(s.timeZone),
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
