/**
 * Delivery decisions, pure: what an attempt's outcome means (delivered, retry when, dead-letter why) and a
 * per-target circuit breaker. Time and randomness come in as arguments.
 */
import { backoffDelay, type Random } from "../../runtime/kernel/clock.ts";

export interface RetryPolicy {
  maxAttempts: number;
  maxAgeMs: number;
  retryMinMs: number;
  retryMaxMs: number;
}

/**
 * What one POST came back with: an HTTP status (and Retry-After), or an error: a network error, or with
 * `refused` the target policy's refusal (targets.ts; nothing was sent, and retrying will not change it).
 */
export type Outcome = { status: number; retryAfter?: string | null } | { error: string; refused?: true };

export type Verdict =
  | { kind: "delivered" }
  | { kind: "retry"; at: number; reason: string }
  | { kind: "dead"; reason: string };

/** Statuses worth retrying: timeouts, throttling and server errors. Other 4xx and 3xx will not change. */
export const retryable = (status: number): boolean =>
  status === 408 || status === 425 || status === 429 || status >= 500;

/** Retry-After as ms from `now` (seconds or an HTTP date), or undefined when absent or malformed. */
export function retryAfterMs(header: string | null | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Decides after attempt number `attempts` (1-based) of a delivery created at `createdAt`.
 * Backoff is exponential with jitter; a Retry-After longer than the backoff wins.
 */
export function decide(
  outcome: Outcome,
  d: { attempts: number; createdAt: number },
  now: number,
  policy: RetryPolicy,
  random: Random,
): Verdict {
  let reason: string;
  let after: number | undefined;
  if ("error" in outcome && outcome.refused) return { kind: "dead", reason: outcome.error };
  if ("error" in outcome) reason = outcome.error;
  else if (outcome.status >= 200 && outcome.status < 300) return { kind: "delivered" };
  else if (!retryable(outcome.status))
    return { kind: "dead", reason: `HTTP ${outcome.status} (not retryable)` };
  else {
    reason = `HTTP ${outcome.status}`;
    after = retryAfterMs(outcome.retryAfter, now);
  }
  if (d.attempts >= policy.maxAttempts)
    return { kind: "dead", reason: `${reason}; gave up after ${d.attempts} attempts` };
  const delay = Math.max(
    backoffDelay(d.attempts - 1, policy.retryMinMs, policy.retryMaxMs, random),
    after ?? 0,
  );
  const at = now + delay;
  if (at - d.createdAt > policy.maxAgeMs)
    return { kind: "dead", reason: `${reason}; next attempt would pass webhooks.maxAgeMs` };
  return { kind: "retry", at, reason };
}

/**
 * Per-target circuit breaker: `threshold` consecutive failures open it for `cooldownMs`; then one trial
 * attempt is let through (half-open); its success closes the breaker, its failure opens it again.
 */
export class Breaker {
  private failures = 0;
  private openUntil = 0;
  private trialInFlight = false;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
  ) {}

  /** Closed (attempts flow), open (cooling down) or half-open (a trial may go, or is in flight). */
  stateAt(now: number): "closed" | "open" | "half-open" {
    if (this.failures < this.threshold) return "closed";
    return now < this.openUntil ? "open" : "half-open";
  }

  /** When an open breaker next lets a trial through (ms), or 0 when closed. */
  get retryAt(): number {
    return this.failures >= this.threshold ? this.openUntil : 0;
  }

  /** Whether an attempt may start now; a half-open breaker lets exactly one through. */
  allow(now: number): boolean {
    if (this.failures < this.threshold) return true;
    if (this.trialInFlight || now < this.openUntil) return false;
    this.trialInFlight = true;
    return true;
  }

  /** An attempt that never reached the target (refused by policy): counts neither way, frees the trial. */
  release(): void {
    this.trialInFlight = false;
  }

  success(): void {
    this.failures = 0;
    this.openUntil = 0;
    this.trialInFlight = false;
  }

  failure(now: number): void {
    this.failures++;
    this.trialInFlight = false;
    if (this.failures >= this.threshold) this.openUntil = now + this.cooldownMs;
  }
}
