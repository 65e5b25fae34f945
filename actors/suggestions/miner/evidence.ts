/** Small shared folds for detectors: day sets to evidence, medians, rounding. */
import { dateOf } from "../../../runtime/kernel/local-time.ts";
import { type Evidence, MAX_EVIDENCE_DAYS } from "./types.ts";

export function evidence(
  count: number,
  days: Iterable<number>,
  confidence: number,
  detail: Evidence["detail"],
): Evidence {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  return {
    count,
    days: sorted.slice(-MAX_EVIDENCE_DAYS).map(dateOf),
    dayCount: sorted.length,
    confidence: round(Math.min(1, Math.max(0, confidence)), 2),
    detail,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The q-quantile (0..1) by nearest rank. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Appends to a bounded sample list; returns false (and drops) once the bound is reached. */
export function pushBounded<T>(list: T[], item: T, max: number): boolean {
  if (list.length >= max) return false;
  list.push(item);
  return true;
}
