/**
 * Local calendar arithmetic for one time zone (the home's) without a per-event Intl call: the UTC offset
 * is looked up per UTC hour and cached. A change of offset inside an hour — Australia/Adelaide and
 * Australia/Lord_Howe change at :30 past a UTC hour — is found by bisection (to the second) when the
 * hour's first and last second disagree, so every instant gets its exact offset.
 *
 * @example
 * const clock = new LocalClock("Australia/Adelaide");
 * clock.hourOf(Date.UTC(2026, 0, 1, 0, 0)); // 10 (10:30 local, UTC+10:30 in summer)
 * clock.dayLengthMs(clock.local(Date.UTC(2026, 3, 5, 12)).day); // 25 h: DST ends that Sunday
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Offsets in use lie within ±14 h; local midnight is searched this far either side of UTC midnight. */
const MAX_OFFSET_MS = 15 * HOUR_MS;
/** Bound on cached UTC hours (~11 years); cleared when full. */
const CACHED_HOURS_MAX = 100_000;
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface LocalTime {
  /** Local days since 1970-01-01 (local midnight boundaries). */
  day: number;
  /** Minute of the local day, 0..1439. */
  minute: number;
}

/** Offsets within one UTC hour: `start` until `changeAt` (if the offset changes in that hour), then `after`. */
interface HourOffsets {
  start: number;
  changeAt: number;
  after: number;
}

export class LocalClock {
  private readonly hours = new Map<number, HourOffsets>();
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    // Throws RangeError for an unknown zone; the caller turns that into a config error.
    this.format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  }

  /** Offset of local time from UTC in ms at instant `ts`. */
  offsetMs(ts: number): number {
    const hour = Math.floor(ts / HOUR_MS);
    let h = this.hours.get(hour);
    if (h === undefined) {
      h = this.hourOffsets(hour * HOUR_MS);
      if (this.hours.size >= CACHED_HOURS_MAX) this.hours.clear();
      this.hours.set(hour, h);
    }
    return ts >= h.changeAt ? h.after : h.start;
  }

  local(ts: number): LocalTime {
    const t = ts + this.offsetMs(ts);
    const day = Math.floor(t / DAY_MS);
    return { day, minute: Math.floor((t - day * DAY_MS) / 60_000) };
  }

  /** Local hour of the day, 0..23. */
  hourOf(ts: number): number {
    const t = ts + this.offsetMs(ts);
    return Math.floor((t - Math.floor(t / DAY_MS) * DAY_MS) / HOUR_MS);
  }

  /** Local day number (days since 1970-01-01 in this zone). */
  dayOf(ts: number): number {
    return Math.floor((ts + this.offsetMs(ts)) / DAY_MS);
  }

  /**
   * The first instant of local day `day` (local midnight, or the first instant after it where a DST change
   * skips midnight), to the second.
   */
  startOfDay(day: number): number {
    let lo = day * DAY_MS - MAX_OFFSET_MS; // still the day before in every zone
    let hi = day * DAY_MS + MAX_OFFSET_MS; // already `day` in every zone
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (this.dayOf(mid) >= day) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  /** Length of local day `day` in ms: 24 h, or 23 h / 25 h (23.5 / 24.5 h in Lord Howe) on a DST change. */
  dayLengthMs(day: number): number {
    return this.startOfDay(day + 1) - this.startOfDay(day);
  }

  /**
   * The instant local `day` shows `minute`. Around a DST change, where a minute repeats or is skipped, it
   * is one of the instants within the change's size of it.
   */
  instantOf(day: number, minute: number): number {
    const wall = day * DAY_MS + minute * 60_000;
    const first = wall - this.offsetMs(wall);
    return wall - this.offsetMs(first);
  }

  private hourOffsets(start: number): HourOffsets {
    const atStart = this.uncachedOffset(start);
    const end = start + HOUR_MS - 1000;
    const atEnd = this.uncachedOffset(end);
    if (atStart === atEnd) return { start: atStart, changeAt: Number.POSITIVE_INFINITY, after: atStart };
    // One change in the hour (zones never change twice within an hour): find its second.
    let lo = start;
    let hi = end;
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
      if (this.uncachedOffset(mid) === atStart) lo = mid;
      else hi = mid;
    }
    return { start: atStart, changeAt: hi, after: atEnd };
  }

  private uncachedOffset(ts: number): number {
    const p: Record<string, number> = {};
    for (const part of this.format.formatToParts(ts))
      if (part.type !== "literal") p[part.type] = Number(part.value);
    const second = Math.floor(ts / 1000) * 1000;
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - second;
  }
}

/** Day of the week of a local day number (1970-01-01 was a Thursday). */
export function weekdayOf(day: number): Weekday {
  return WEEKDAYS[(((day + 4) % 7) + 7) % 7];
}

export function isWeekend(day: number): boolean {
  const w = (((day + 4) % 7) + 7) % 7;
  return w === 0 || w === 6;
}

/** YYYY-MM-DD of a local day number. */
export function dateOf(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** "07:05:00" for minute 425. */
export function clockTime(minute: number): string {
  const m = ((minute % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}:00`;
}

/** Local days whose midnight-to-midnight span lies within [from, to), with their weekday class. */
export function daysBetween(clock: LocalClock, from: number, to: number): number[] {
  const first = clock.local(from);
  const last = clock.local(to);
  const out: number[] = [];
  // A partial first or last day still offers opportunities; both are included.
  for (let d = first.day; d <= last.day; d++) out.push(d);
  return out;
}

/**
 * The home's time zone: the configured one when set, else Home Assistant's `time_zone` (get_config, as the
 * metadata actor records it), else the system's, else UTC. A zone Intl does not know is skipped, except a
 * configured one, which is an error with the fix (a typo must not silently fall back).
 */
export function homeTimeZone(
  configured: string,
  haTimeZone: unknown,
  setting = "the configured zone",
): string {
  if (configured) {
    if (!isTimeZone(configured))
      throw new Error(
        `${setting}: unknown time zone "${configured}". Fix: use an IANA name like Europe/Berlin, or leave it empty for Home Assistant's time zone.`,
      );
    return configured;
  }
  if (typeof haTimeZone === "string" && isTimeZone(haTimeZone)) return haTimeZone;
  const system = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return system && isTimeZone(system) ? system : "UTC";
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Clocks by zone, so their offset caches outlive one run; a home has one zone, a few are kept. */
const clocks = new Map<string, LocalClock>();
const CLOCKS_MAX = 8;

/** The (cached) clock of a zone Intl knows; throws RangeError for one it does not. */
export function localClock(zone: string): LocalClock {
  let clock = clocks.get(zone);
  if (!clock) {
    clock = new LocalClock(zone);
    if (clocks.size >= CLOCKS_MAX) clocks.clear();
    clocks.set(zone, clock);
  }
  return clock;
}
