/**
 * The writer's failure policy, pure: retries with exponential backoff (or the server's Retry-After when
 * longer) and a circuit breaker. The export loop asks `nextAttempt` when it may try again.
 *
 *   closed --(breakerThreshold consecutive failures)--> open --(breakerCooldownMs)--> half-open
 *   half-open --success--> closed        half-open --failure--> open
 */
import { backoffDelay, type Random } from "../../runtime/kernel/clock.ts";

export type Breaker =
  | { status: "closed"; failures: number }
  | { status: "open"; failures: number; until: number }
  | { status: "half-open"; failures: number };

export interface FailurePolicy {
  retryMinMs: number;
  retryMaxMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
}

export const closedBreaker = (): Breaker => ({ status: "closed", failures: 0 });

/** A write failed (network, timeout, 429, 5xx) at `now`; returns the new breaker and how long to wait. */
export function onFailure(
  b: Breaker,
  now: number,
  policy: FailurePolicy,
  retryAfterMs: number | null,
  random: Random = Math.random,
): { breaker: Breaker; waitMs: number } {
  const failures = b.failures + 1;
  const backoff = backoffDelay(failures - 1, policy.retryMinMs, policy.retryMaxMs, random);
  const wait = Math.max(backoff, retryAfterMs ?? 0);
  if (b.status === "half-open" || failures >= policy.breakerThreshold) {
    const waitMs = Math.max(wait, policy.breakerCooldownMs);
    return { breaker: { status: "open", failures, until: now + waitMs }, waitMs };
  }
  return { breaker: { status: "closed", failures }, waitMs: wait };
}

export function onSuccess(_b: Breaker): Breaker {
  return closedBreaker();
}

/** Whether a write may be tried at `now`; an open breaker past its cooldown lets one trial through. */
export function nextAttempt(b: Breaker, now: number): { breaker: Breaker; waitMs: number } {
  if (b.status !== "open") return { breaker: b, waitMs: 0 };
  if (now < b.until) return { breaker: b, waitMs: b.until - now };
  return { breaker: { status: "half-open", failures: b.failures }, waitMs: 0 };
}

/** HTTP statuses that mean "these points are bad" (isolate and dead-letter), not "try again later". */
export const isRejection = (status: number): boolean => status === 400 || status === 422;

/** Retry-After as milliseconds (seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : null;
}
