/**
 * Entity health: which entities are unavailable or unknown, stale (silent for far longer than their own
 * usual interval, learned from their history), low on battery, or flapping (too many state changes in a
 * short window), each with since-when. Pure: a history per entity plus `now` in, a verdict out; the worker
 * diffs verdicts to emit health-change notices.
 */
import { domainOf, quantileSorted } from "../../runtime/store/insights/types.ts";

export type HealthKind = "unavailable" | "unknown" | "stale" | "flapping" | "low_battery";
export type HealthStatus = HealthKind | "ok";

/** Worst first: the status of an entity is its worst issue. */
export const SEVERITY: readonly HealthKind[] = ["unavailable", "unknown", "stale", "flapping", "low_battery"];

export interface HealthOptions {
  now: number;
  /** Stale when silent for longer than staleFactor × the entity's usual (90th percentile) interval. */
  staleFactor: number;
  /** Never stale sooner than this, whatever the usual interval. */
  minStaleMs: number;
  /** Intervals needed before an entity's usual interval counts as learned. */
  minIntervals: number;
  /** Learned only when p90/median of the intervals is at most this (a regular reporter, not event-driven). */
  regularityMax: number;
  /** Battery levels (%) at or below this are low. */
  lowBatteryPct: number;
  flapWindowMs: number;
  /** State changes within flapWindowMs that make an entity flapping, at least. */
  flapChanges: number;
  /** ...and at least this many times the entity's own usual changes per window (learned). */
  flapFactor: number;
}

export interface HealthEvent {
  ts: number;
  state: string;
  value: number | null;
  /** The battery level (%) this reading reports (./inputs.ts batteryLevel), or null. */
  battery?: number | null;
}

export interface HealthIssue {
  kind: HealthKind;
  since: number;
  detail: string;
}

export interface EntityHealth {
  entity_id: string;
  name: string | null;
  status: HealthStatus;
  /** When the worst issue began (or the last update, for ok). */
  since: number;
  issues: HealthIssue[];
  state: string;
  lastSeen: number;
  /** The learned usual interval (90th percentile of gaps), or null when not learned. */
  usualIntervalMs: number | null;
  learning: "regular" | "irregular" | "too_few";
}

/** Domains whose state is a measurement: many changes there are normal, not flapping. */
export const MEASURING = new Set([
  "sensor",
  "number",
  "input_number",
  "counter",
  "weather",
  "sun",
  "device_tracker",
]);

/**
 * One entity's history as the judge reads it, ascending by time, by index: an array of events in tests
 * (seriesOfEvents), the store's columns in the analysis (./inputs.ts healthSeries).
 */
export interface HealthSeries {
  length: number;
  ts(i: number): number;
  state(i: number): string;
  /** Whether readings i and j hold the same state. */
  sameState(i: number, j: number): boolean;
  /** The battery level (%) reading i reports, or null. */
  battery(i: number): number | null;
}

/** An array of events as a HealthSeries. */
export function seriesOfEvents(events: readonly HealthEvent[]): HealthSeries {
  return {
    length: events.length,
    ts: (i) => events[i].ts,
    state: (i) => events[i].state,
    sameState: (i, j) => events[i].state === events[j].state,
    battery: (i) => events[i].battery ?? null,
  };
}

/** Judges one entity from its history (ascending by time). */
export function judgeEntity(
  entityId: string,
  name: string | null,
  events: readonly HealthEvent[],
  opts: HealthOptions,
): EntityHealth {
  return judgeSeries(entityId, name, seriesOfEvents(events), opts);
}

/**
 * What the judge reads of one entity's rows in the window: from the rows themselves (factsOfSeries, the
 * full read) or from a bounded summary kept as rows arrive (./health-fold.ts).
 */
export interface HealthFacts {
  /** Rows in the window (0: nothing to judge). */
  rows: number;
  /** Times of the first and newest row in the window. */
  firstTs: number;
  lastTs: number;
  /** The newest row's state, and when the trailing run of that state began. */
  state: string;
  stateSince: number;
  /** Update gaps between neighbouring rows, and their q-quantile (as quantileSorted gives it). */
  gaps: number;
  gapQuantile(q: number): number;
  /** State changes (a row whose state differs from the row before) in the window... */
  changes: number;
  /** ...and their times, ascending: all of them, or the newest ones when a summary keeps only so many. */
  recentChanges: ArrayLike<number>;
  /** The newest row's battery level (%), and when the trailing run of readings at or below the limit began. */
  battery: number | null;
  lowSince: number;
}

/** The judge over the rows themselves. */
export function judgeSeries(
  entityId: string,
  name: string | null,
  h: HealthSeries,
  opts: HealthOptions,
): EntityHealth {
  const flaps = !MEASURING.has(domainOf(entityId));
  return judgeFacts(entityId, name, factsOfSeries(h, opts.lowBatteryPct, flaps), opts);
}

/**
 * The facts of an entity's rows, read off them exactly. `withChanges`: count and list the state changes
 * (only the flapping rule reads them, and a week of a busy sensor's changes is an array of ~600,000).
 */
export function factsOfSeries(h: HealthSeries, lowBatteryPct: number, withChanges = true): HealthFacts {
  const n = h.length;
  let i = n - 1;
  while (i > 0 && h.sameState(i - 1, n - 1)) i--;
  const gaps = new Float64Array(Math.max(0, n - 1));
  for (let k = 1; k < n; k++) gaps[k - 1] = h.ts(k) - h.ts(k - 1);
  gaps.sort();
  const changes: number[] = [];
  if (withChanges) for (let k = 1; k < n; k++) if (!h.sameState(k, k - 1)) changes.push(h.ts(k));
  const battery = n ? h.battery(n - 1) : null;
  let low = n - 1;
  if (battery !== null && battery <= lowBatteryPct)
    while (low > 0) {
      const prev = h.battery(low - 1);
      if (prev === null || prev > lowBatteryPct) break;
      low--;
    }
  return {
    rows: n,
    firstTs: n ? h.ts(0) : Number.NaN,
    lastTs: n ? h.ts(n - 1) : Number.NaN,
    state: n ? h.state(n - 1) : "",
    stateSince: n ? h.ts(i) : Number.NaN,
    gaps: gaps.length,
    gapQuantile: (q) => quantileSorted(gaps, q),
    changes: changes.length,
    recentChanges: changes,
    battery,
    lowSince: n ? h.ts(low) : Number.NaN,
  };
}

/** The judge itself, over an entity's facts. */
export function judgeFacts(
  entityId: string,
  name: string | null,
  f: HealthFacts,
  opts: HealthOptions,
): EntityHealth {
  const issues: HealthIssue[] = [];
  const n = f.rows;
  const lastTs = n ? f.lastTs : null;
  const state = n ? f.state : "";

  // unavailable / unknown: since the first event of the trailing run of that state.
  if (n && (state === "unavailable" || state === "unknown"))
    issues.push({ kind: state, since: f.stateSince, detail: `state has been ${state}` });

  // stale: learned per entity from the gaps between its updates.
  let usual: number | null = null;
  let learning: EntityHealth["learning"] = "too_few";
  if (f.gaps >= opts.minIntervals) {
    const p50 = f.gapQuantile(0.5);
    const p90 = f.gapQuantile(0.9);
    learning = p50 > 0 && p90 / p50 <= opts.regularityMax ? "regular" : "irregular";
    if (learning === "regular") usual = p90;
  }
  if (lastTs !== null && usual !== null && !issues.length) {
    const limit = Math.max(opts.minStaleMs, opts.staleFactor * usual);
    const silent = opts.now - lastTs;
    if (silent > limit)
      issues.push({
        kind: "stale",
        since: lastTs,
        detail: `no update for ${fmt(silent)}; usually every ${fmt(usual)} or sooner`,
      });
  }

  // flapping: state changes (not attribute updates) counted in a sliding window.
  if (!MEASURING.has(domainOf(entityId))) {
    const changes = f.recentChanges;
    const windowFrom = opts.now - opts.flapWindowMs;
    let inWindow = 0;
    for (let k = changes.length - 1; k >= 0 && changes[k] > windowFrom; k--) inWindow++;
    // The entity's own usual rate (changes per window before this one): a busy room's motion sensor
    // changes often every evening; only a burst well above its own habit is flapping.
    const windowsBefore = n ? (windowFrom - f.firstTs) / opts.flapWindowMs : 0;
    const usualRate = windowsBefore >= 1 ? (f.changes - inWindow) / windowsBefore : null;
    const need = Math.ceil(Math.max(opts.flapChanges, usualRate === null ? 0 : opts.flapFactor * usualRate));
    if (inWindow >= need) {
      // Walk back while each change still closes a window holding `need` changes.
      let k = changes.length - 1;
      let start = windowStart(changes, k, opts.flapWindowMs);
      while (k > 0) {
        const s = windowStart(changes, k - 1, opts.flapWindowMs);
        if (k - 1 - s + 1 < need) break;
        k--;
        start = s;
      }
      const habit = usualRate === null ? "" : `, usually ${usualRate.toFixed(1)}`;
      issues.push({
        kind: "flapping",
        since: changes[start],
        detail: `${inWindow} state changes in the last ${fmt(opts.flapWindowMs)}${habit} (limit ${need})`,
      });
    }
  }

  // low battery: the trailing run of readings at or below the limit.
  if (f.battery !== null && f.battery <= opts.lowBatteryPct)
    issues.push({ kind: "low_battery", since: f.lowSince, detail: `battery at ${f.battery}%` });

  issues.sort((a, b) => SEVERITY.indexOf(a.kind) - SEVERITY.indexOf(b.kind));
  return {
    entity_id: entityId,
    name,
    status: issues[0]?.kind ?? "ok",
    since: issues[0]?.since ?? lastTs ?? opts.now,
    issues,
    state,
    lastSeen: lastTs ?? 0,
    usualIntervalMs: usual === null ? null : Math.round(usual),
    learning,
  };
}

function windowStart(changes: ArrayLike<number>, k: number, windowMs: number): number {
  let i = k;
  while (i > 0 && changes[k] - changes[i - 1] < windowMs) i--;
  return i;
}

/** A health change to notify (webhooks rule type "health"). */
export interface HealthChange {
  type: "health";
  entity_id: string;
  status: HealthStatus;
  since: number;
}

/**
 * Compares verdicts with the statuses last notified and returns what changed. An entity notified before
 * but absent from `verdicts` (the caller passes only unhealthy ones) has recovered: "ok" since `now`.
 * `known` is updated in place so the caller keeps one bounded map (one entry per entity with an issue).
 */
export function healthChanges(
  known: Map<string, HealthStatus>,
  verdicts: readonly Pick<EntityHealth, "entity_id" | "status" | "since">[],
  now: number,
): HealthChange[] {
  const out: HealthChange[] = [];
  const present = new Set<string>();
  for (const v of verdicts) {
    present.add(v.entity_id);
    const before = known.get(v.entity_id) ?? "ok";
    if (before === v.status) continue;
    out.push({ type: "health", entity_id: v.entity_id, status: v.status, since: v.since });
    if (v.status === "ok") known.delete(v.entity_id);
    else known.set(v.entity_id, v.status);
  }
  for (const id of [...known.keys()]) {
    if (present.has(id)) continue;
    out.push({ type: "health", entity_id: id, status: "ok", since: now });
    known.delete(id);
  }
  return out;
}

function fmt(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 2 * 3600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 2 * 86400_000) return `${Math.round(ms / 3600_000)} h`;
  return `${Math.round(ms / 86400_000)} d`;
}
