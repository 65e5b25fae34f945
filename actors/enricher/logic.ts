/**
 * The pure part of every enricher: what a poll's success or failure does to the source's state — circuit
 * breaker, backoff, which readings are new, which failures get logged — and how its status looks.
 * No I/O, no clock: `now` and `random` are passed in.
 */
import { backoffDelay, type Random } from "../../runtime/kernel/clock.ts";
import type { CacheHit } from "./cache.ts";
import type { FetchFailure } from "./fetch.ts";
import type { Reading } from "./source.ts";

export interface EnricherPolicy {
  pollMs: number;
  ttlMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  /** After the first failure of a streak is logged, repeats log at most this often. */
  errorLogIntervalMs: number;
}

export type Breaker = { state: "closed" } | { state: "open"; until: number } | { state: "half-open" };

export interface LastError extends FetchFailure {
  at: number;
}

export interface EnricherState {
  breaker: Breaker;
  /** Consecutive failed polls. */
  failures: number;
  lastSuccessAt: number | null;
  lastError: LastError | null;
  /** Highest timestamp per metric already sent to the store, so a re-poll sends only new points. */
  sentTs: Record<string, number>;
  /** Timestamp per metric of the latest value already announced to the webhook dispatcher. */
  announcedTs: Record<string, number>;
  lastLoggedAt: number | null;
  suppressedLogs: number;
}

export const initialState = (): EnricherState => ({
  breaker: { state: "closed" },
  failures: 0,
  lastSuccessAt: null,
  lastError: null,
  sentTs: {},
  announcedTs: {},
  lastLoggedAt: null,
  suppressedLogs: 0,
});

export interface LogEffect {
  level: "error" | "warn" | "info";
  msg: string;
  fields: Record<string, unknown>;
}

/** Whether a request may go out now; an open breaker past its cooldown lets one trial through. */
export function mayFetch(state: EnricherState, now: number): boolean {
  return state.breaker.state !== "open" || now >= state.breaker.until;
}

/** Marks the start of a request: an open breaker past its cooldown becomes half-open (one trial). */
export function beginFetch(state: EnricherState, now: number): EnricherState {
  if (state.breaker.state === "open" && now >= state.breaker.until)
    return { ...state, breaker: { state: "half-open" } };
  return state;
}

/** Milliseconds until the breaker lets a request through (0 when it does now). */
export function breakerWaitMs(state: EnricherState, now: number): number {
  return state.breaker.state === "open" ? Math.max(0, state.breaker.until - now) : 0;
}

export interface SuccessResult {
  state: EnricherState;
  /** Readings newer than anything sent before, for the store. */
  store: Reading[];
  /** Latest value per metric where it changed, for the webhook dispatcher. */
  announce: Reading[];
  delayMs: number;
  log: LogEffect | null;
}

export function onSuccess(
  state: EnricherState,
  now: number,
  readings: Reading[],
  policy: EnricherPolicy,
  source: string,
): SuccessResult {
  const sentTs = { ...state.sentTs };
  const store: Reading[] = [];
  for (const r of readings) {
    if (r.ts > (state.sentTs[r.metric] ?? Number.NEGATIVE_INFINITY)) {
      store.push(r);
      if (r.ts > (sentTs[r.metric] ?? Number.NEGATIVE_INFINITY)) sentTs[r.metric] = r.ts;
    }
  }
  const announcedTs = { ...state.announcedTs };
  const announce: Reading[] = [];
  for (const r of latestPerMetric(readings, now)) {
    if (r.ts !== announcedTs[r.metric]) {
      announce.push(r);
      announcedTs[r.metric] = r.ts;
    }
  }
  const log: LogEffect | null =
    state.failures > 0
      ? {
          level: "info",
          msg: `enricher ${source} recovered`,
          fields: { source, afterFailures: state.failures, suppressedLogs: state.suppressedLogs },
        }
      : null;
  return {
    state: {
      ...state,
      breaker: { state: "closed" },
      failures: 0,
      lastSuccessAt: now,
      sentTs,
      announcedTs,
      suppressedLogs: 0,
    },
    store,
    announce,
    delayMs: policy.pollMs,
    log,
  };
}

export interface FailureResult {
  state: EnricherState;
  delayMs: number;
  /** Null when the line is suppressed by the log rate limit (it is counted instead). */
  log: LogEffect | null;
  breakerOpened: boolean;
}

export function onFailure(
  state: EnricherState,
  now: number,
  failure: FetchFailure,
  policy: EnricherPolicy,
  source: string,
  random: Random,
): FailureResult {
  const failures = state.failures + 1;
  const trialFailed = state.breaker.state === "half-open";
  const opens = trialFailed || (state.breaker.state === "closed" && failures >= policy.breakerThreshold);
  const breaker: Breaker = opens ? { state: "open", until: now + policy.breakerCooldownMs } : state.breaker;
  const delayMs = opens
    ? policy.breakerCooldownMs
    : backoffDelay(failures - 1, policy.retryMinMs, policy.retryMaxMs, random);
  const firstOfStreak = state.failures === 0;
  const due =
    firstOfStreak || state.lastLoggedAt === null || now - state.lastLoggedAt >= policy.errorLogIntervalMs;
  const log: LogEffect | null = due
    ? {
        level: "error",
        msg: `enricher ${source}: ${failure.reason}: ${failure.detail}; keeping the last good value`,
        fields: {
          source,
          reason: failure.reason,
          consecutiveFailures: failures,
          breaker: breaker.state,
          retryInMs: delayMs,
          ...(state.suppressedLogs > 0 ? { suppressedSinceLastLog: state.suppressedLogs } : {}),
        },
      }
    : null;
  return {
    state: {
      ...state,
      breaker,
      failures,
      lastError: { ...failure, at: now },
      lastLoggedAt: due ? now : state.lastLoggedAt,
      suppressedLogs: due ? 0 : state.suppressedLogs + 1,
    },
    delayMs,
    log,
    breakerOpened: opens && state.breaker.state !== "open",
  };
}

/**
 * The value of each metric "now": the newest reading at or before `now`, or, when a series lies wholly in
 * the future (a forecast), its earliest point.
 */
export function latestPerMetric(readings: Reading[], now: number): Reading[] {
  const best = new Map<string, Reading>();
  for (const r of readings) {
    const cur = best.get(r.metric);
    if (!cur) best.set(r.metric, r);
    else if (r.ts <= now ? cur.ts > now || r.ts > cur.ts : cur.ts > now && r.ts < cur.ts)
      best.set(r.metric, r);
  }
  return [...best.values()];
}

export type SourceHealth = "ok" | "stale" | "no-data" | "waiting-for-location";

export interface SourceStatus {
  source: string;
  health: SourceHealth;
  /** True when the values shown are older than the source's TTL (the last good value, kept). */
  stale: boolean;
  ageMs: number | null;
  fetchedAt: number | null;
  values: Reading[];
  lastError: LastError | null;
  breaker: Breaker["state"];
  consecutiveFailures: number;
}

/** What `call({type: "latest"})` and `GET /api/v1/enrichment` show for one source. */
export function statusView(
  source: string,
  state: EnricherState,
  hit: CacheHit<Reading[]> | undefined,
  now: number,
  waitingForLocation: boolean,
): SourceStatus {
  const health: SourceHealth = hit
    ? hit.fresh
      ? "ok"
      : "stale"
    : waitingForLocation
      ? "waiting-for-location"
      : "no-data";
  return {
    source,
    health,
    stale: hit ? !hit.fresh : false,
    ageMs: hit ? hit.ageMs : null,
    fetchedAt: hit ? hit.storedAt : null,
    values: hit ? latestPerMetric(hit.value, now) : [],
    lastError: state.lastError,
    breaker: state.breaker.state,
    consecutiveFailures: state.failures,
  };
}
