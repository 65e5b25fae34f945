/**
 * Local calendar arithmetic for one time zone without a per-event Intl call: the UTC offset is looked up
 * once per UTC hour (DST changes fall on hour boundaries in practically every zone) and cached.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface LocalTime {
  /** Local days since 1970-01-01 (local midnight boundaries). */
  day: number;
  /** Minute of the local day, 0..1439. */
  minute: number;
}

export class LocalClock {
  private readonly offsets = new Map<number, number>();
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
    });
  }

  /** Offset of local time from UTC in ms at instant `ts`. */
  offsetMs(ts: number): number {
    const hour = Math.floor(ts / HOUR_MS);
    let offset = this.offsets.get(hour);
    if (offset === undefined) {
      const parts: Record<string, number> = {};
      for (const p of this.format.formatToParts(hour * HOUR_MS)) {
        if (p.type !== "literal") parts[p.type] = Number(p.value);
      }
      const asUtc = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute);
      offset = asUtc - hour * HOUR_MS;
      if (this.offsets.size > 100_000) this.offsets.clear();
      this.offsets.set(hour, offset);
    }
    return offset;
  }

  local(ts: number): LocalTime {
    const t = ts + this.offsetMs(ts);
    const day = Math.floor(t / DAY_MS);
    return { day, minute: Math.floor((t - day * DAY_MS) / 60_000) };
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
