/**
 * Rollup buckets as Home Assistant's long-term statistics compute them, kept apart from the SQL that feeds
 * them (./maintenance.ts) so a reference can check them.
 *
 * - A value is worth the time it held: each sample holds from its own time until the entity's next
 *   sample. That interval is credited to every hour and day it covers (`tw` = Σ value × seconds, `tws` =
 *   seconds with a numeric value), so a bucket's mean is `tw / tws`, time-weighted as HA's `mean`. `min` and
 *   `max` are of the values held in the bucket, including the one carried in from before it (as HA's are).
 * - Text states are worth their time too: `ts` seconds in any text state, `on_s` seconds in an "on"-like
 *   state (`ON_STATES`), so an on/off entity's bucket says what share of it the entity was on.
 * - A meter (`state_class: total_increasing` or `total`) grows by `growth` in a bucket: each sample adds its
 *   difference from the one before, as HA's statistics `sum`. A `total_increasing` value that falls below
 *   90% of the one before is a meter reset (HA's `reset_detected`): the new value is the growth since the
 *   reset. A `total` whose `last_reset` attribute changed starts a new cycle: that sample adds nothing.
 * - The sample counts stay as they were (`n`, `sum` of samples, `tn`, last text state), for charts that
 *   want them and for buckets rolled up before time-weighting (their `tws` is 0: the mean is `sum / n`).
 * A held value is credited when the entity's next sample arrives, so the newest interval of each entity
 * waits in `rollup_carry` until then.
 */

export const HOUR_US = 3_600_000_000;
export const DAY_US = 86_400_000_000;
/** The longest interval one held value is credited for: a year, so a long-silent entity costs bounded work. */
export const MAX_HOLD_US = 366 * DAY_US;

/** States counted as "on" for `on_s` (Home Assistant's on-like states of binary domains). */
export const ON_STATES: ReadonlySet<string> = new Set([
  "on",
  "open",
  "home",
  "playing",
  "unlocked",
  "detected",
]);

/** A sample as the rollup sees it: time in µs since the epoch, numeric value or text state id, attrs id. */
export interface Sample {
  us: number;
  v: number | null;
  s: number | null;
  a: number;
}

/** How a numeric entity accumulates: HA's `state_class` of a meter and its `last_reset`, else null. */
export type Meter = { kind: "total" | "total_increasing"; lastReset: string | null } | null;

export interface Bucket {
  e: number;
  /** Bucket start, unix seconds. */
  t: number;
  n: number;
  sum: number;
  min: number;
  max: number;
  tn: number;
  lastS: number | null;
  lastUs: number;
  tw: number;
  tws: number;
  growth: number;
  onS: number;
  ts: number;
}

/** What a fold needs to know of dictionary ids. */
export interface FoldLookups {
  isOn(s: number): boolean;
  meter(a: number): Meter;
}

/** The growth a meter sample adds after `prev` (HA's statistics `sum` step), 0 for a non-meter. */
export function meterGrowth(meter: Meter, prevMeter: Meter, v: number | null, prev: number | null): number {
  if (meter === null || v === null || prev === null) return 0;
  if (meter.kind === "total_increasing") return v < 0.9 * prev ? v : v - prev;
  if (prevMeter !== null && meter.lastReset !== prevMeter.lastReset) return 0; // a new cycle starts here
  return v - prev;
}

/** Hourly and daily buckets being folded for one step (or one recompute). */
export class TierFold {
  readonly hours = new Map<number, Bucket>();
  readonly days = new Map<number, Bucket>();

  constructor(
    private readonly lookups: FoldLookups,
    private readonly withDays = true,
  ) {}

  /** One sample of entity `e`; `prev` is the entity's sample before it (for a meter's growth), if any. */
  sample(e: number, x: Sample, prev: Sample | null): void {
    const growth =
      x.v === null || prev === null
        ? 0
        : meterGrowth(this.lookups.meter(x.a), this.lookups.meter(prev.a), x.v, prev.v);
    this.sampleIn(this.bucket(this.hours, e, x.us, HOUR_US), x, growth);
    if (this.withDays) this.sampleIn(this.bucket(this.days, e, x.us, DAY_US), x, growth);
  }

  /** Credits what `held` was from `fromUs` to `toUs` (exclusive) to every bucket the interval covers. */
  hold(e: number, held: Sample, fromUs: number, toUs: number): void {
    if (held.v === null && held.s === null) return;
    const from = Math.max(fromUs, toUs - MAX_HOLD_US);
    if (toUs <= from) return;
    this.holdIn(this.hours, e, held, from, toUs, HOUR_US);
    if (this.withDays) this.holdIn(this.days, e, held, from, toUs, DAY_US);
  }

  private holdIn(map: Map<number, Bucket>, e: number, held: Sample, from: number, to: number, size: number) {
    const on = held.v === null && held.s !== null && this.lookups.isOn(held.s);
    for (let start = Math.floor(from / size) * size; start < to; start += size) {
      const secs = (Math.min(to, start + size) - Math.max(from, start)) / 1e6;
      const b = this.bucket(map, e, start, size);
      if (held.v !== null) {
        b.tw += held.v * secs;
        b.tws += secs;
        if (held.v < b.min) b.min = held.v;
        if (held.v > b.max) b.max = held.v;
      } else {
        b.ts += secs;
        if (on) b.onS += secs;
      }
    }
  }

  private sampleIn(b: Bucket, x: Sample, growth: number): void {
    b.growth += growth;
    if (x.v !== null) {
      b.n++;
      b.sum += x.v;
      if (x.v < b.min) b.min = x.v;
      if (x.v > b.max) b.max = x.v;
    } else {
      b.tn++;
      if (x.us >= b.lastUs) {
        b.lastUs = x.us;
        b.lastS = x.s;
      }
    }
  }

  private bucket(map: Map<number, Bucket>, e: number, us: number, size: number): Bucket {
    const index = Math.floor(us / size);
    // e < 2^16 and index < 2^21 (unix hours until year 2209): the key is exact in a double.
    const key = index * 65536 + e;
    let b = map.get(key);
    if (!b) {
      b = emptyBucket(e, (index * size) / 1e6);
      map.set(key, b);
    }
    return b;
  }
}

export function emptyBucket(e: number, t: number): Bucket {
  return {
    e,
    t,
    n: 0,
    sum: 0,
    min: Infinity,
    max: -Infinity,
    tn: 0,
    lastS: null,
    lastUs: -1,
    tw: 0,
    tws: 0,
    growth: 0,
    onS: 0,
    ts: 0,
  };
}

/** A bucket as the tier columns hold it (e, t, n, sum, min, max, tn, last_s, last_us, tw, tws, growth, on_s, ts). */
export function bucketRow(b: Bucket): (number | null)[] {
  const hasRange = b.min <= b.max;
  return [
    b.e,
    b.t,
    b.n,
    b.sum,
    hasRange ? b.min : null,
    hasRange ? b.max : null,
    b.tn,
    b.tn > 0 ? b.lastS : null,
    b.tn > 0 ? b.lastUs : null,
    b.tw,
    b.tws,
    b.growth,
    b.onS,
    b.ts,
  ];
}

/** Parses a meter's state_class and last_reset from attribute JSON (anything else: not a meter). */
export function meterOf(json: string): Meter {
  if (!json.includes("state_class")) return null;
  try {
    const attrs = JSON.parse(json) as { state_class?: unknown; last_reset?: unknown };
    if (attrs.state_class !== "total" && attrs.state_class !== "total_increasing") return null;
    return {
      kind: attrs.state_class,
      lastReset: typeof attrs.last_reset === "string" ? attrs.last_reset : null,
    };
  } catch {
    return null;
  }
}
