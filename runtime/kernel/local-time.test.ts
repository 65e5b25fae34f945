import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { dateOf, homeTimeZone, LocalClock, localClock } from "./local-time.ts";

const HOUR = 3_600_000;
/** Zones with DST, half- and quarter-hour offsets, 30-minute DST (Lord Howe), southern-hemisphere DST. */
const ZONES = [
  "UTC",
  "Europe/Amsterdam",
  "Europe/Berlin",
  "America/New_York",
  "America/Sao_Paulo",
  "America/St_Johns",
  "Australia/Adelaide",
  "Australia/Lord_Howe",
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "Pacific/Chatham",
  "Pacific/Kiritimati",
  "America/Santiago",
] as const;

const formats = new Map<string, Intl.DateTimeFormat>();

/** What Intl says the local date and hour are: the reference every property checks against. */
function intlLocal(zone: string, ts: number): { date: string; hour: number; minute: number } {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    formats.set(zone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(ts)) p[part.type] = part.value;
  return {
    date: `${p.year.padStart(4, "0")}-${p.month}-${p.day}`,
    hour: Number(p.hour),
    minute: Number(p.minute),
  };
}

const instants = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 0, 1) });

describe("LocalClock", () => {
  test("local hour, minute and day agree with Intl.DateTimeFormat for any instant and zone (property)", () => {
    fc.assert(
      fc.property(instants, fc.constantFrom(...ZONES), (ts, zone) => {
        const clock = localClock(zone);
        const want = intlLocal(zone, ts);
        const local = clock.local(ts);
        expect({ date: dateOf(clock.dayOf(ts)), hour: clock.hourOf(ts), minute: local.minute % 60 }).toEqual(
          want,
        );
        expect(local.day).toBe(clock.dayOf(ts));
      }),
      { numRuns: 2000 },
    );
  });

  test("agrees with Intl in the minutes around every DST change (property over changes)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2000, max: 2039 }),
        fc.constantFrom(...ZONES),
        fc.integer({ min: -90, max: 90 }),
        (year, zone, minutes) => {
          // The change instants of the year, found by comparing Intl's offsets hour by hour, then probed
          // minute by minute around each one with a fresh clock (an empty cache, as a run starts).
          const clock = new LocalClock(zone);
          const offset = (ts: number) => {
            const l = intlLocal(zone, ts);
            return (
              Date.UTC(+l.date.slice(0, 4), +l.date.slice(5, 7) - 1, +l.date.slice(8, 10), l.hour, l.minute) -
              Math.floor(ts / 60_000) * 60_000
            );
          };
          const start = Date.UTC(year, 0, 1);
          for (let t = start; t < start + 366 * 24 * HOUR; t += 6 * HOUR) {
            if (offset(t) === offset(t + 6 * HOUR)) continue;
            const probe = t + 3 * HOUR + minutes * 60_000;
            const want = intlLocal(zone, probe);
            expect({
              date: dateOf(clock.dayOf(probe)),
              hour: clock.hourOf(probe),
              minute: clock.local(probe).minute % 60,
            }).toEqual(want);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  test("Adelaide's DST end at 16:30 UTC, inside a UTC hour, is exact to the minute", () => {
    // 2026-04-05 03:00 ACDT (+10:30) becomes 02:00 ACST (+09:30) at 2026-04-04T16:30:00Z.
    const clock = new LocalClock("Australia/Adelaide");
    const change = Date.UTC(2026, 3, 4, 16, 30);
    expect(clock.offsetMs(change - 1000)).toBe(10.5 * HOUR);
    expect(clock.offsetMs(change)).toBe(9.5 * HOUR);
    expect(clock.hourOf(change + 10 * 60_000)).toBe(2); // 02:10 ACST, not 03:10
    expect(clock.dayLengthMs(clock.dayOf(change))).toBe(25 * HOUR);
  });

  test("a local day starts at local midnight and lasts 24 h, or 23 h / 25 h on a DST change (property)", () => {
    fc.assert(
      fc.property(instants, fc.constantFrom(...ZONES), (ts, zone) => {
        const clock = localClock(zone);
        const day = clock.dayOf(ts);
        const start = clock.startOfDay(day);
        expect(clock.dayOf(start)).toBe(day);
        expect(clock.dayOf(start - 1000)).toBe(day - 1);
        expect(start).toBeLessThanOrEqual(ts);
        const length = clock.dayLengthMs(day);
        // Clocks moved forward (the offset grew) make a shorter day.
        // (Offsets read just before each boundary: in Sao Paulo a change at midnight starts a day at 01:00.)
        const before = (t: number) => clock.offsetMs(t - 1000);
        expect(length).toBe(24 * HOUR - (before(clock.startOfDay(day + 1)) - before(start)));
        const allowed = zone === "Australia/Lord_Howe" ? [23.5, 24, 24.5] : [23, 24, 25];
        expect(allowed).toContain(length / HOUR);
      }),
      { numRuns: 1000 },
    );
  });

  test("DST days are 23 and 25 hours in Berlin and Adelaide; Kolkata's days are all 24", () => {
    const len = (zone: string, y: number, m: number, d: number) => {
      const clock = new LocalClock(zone);
      return (
        clock.dayLengthMs(
          clock.dayOf(Date.UTC(y, m - 1, d, 12) - clock.offsetMs(Date.UTC(y, m - 1, d, 12))),
        ) / HOUR
      );
    };
    expect(len("Europe/Berlin", 2026, 3, 29)).toBe(23);
    expect(len("Europe/Berlin", 2026, 10, 25)).toBe(25);
    expect(len("Europe/Berlin", 2026, 6, 1)).toBe(24);
    expect(len("Australia/Adelaide", 2026, 10, 4)).toBe(23);
    expect(len("Australia/Adelaide", 2026, 4, 5)).toBe(25);
    expect(len("Australia/Lord_Howe", 2026, 4, 5)).toBe(24.5);
    for (let d = 1; d <= 28; d++) expect(len("Asia/Kolkata", 2026, 3, d)).toBe(24);
    const kolkata = new LocalClock("Asia/Kolkata");
    expect(kolkata.startOfDay(kolkata.dayOf(Date.UTC(2026, 0, 1, 12)))).toBe(Date.UTC(2025, 11, 31, 18, 30));
  });

  test("instantOf turns a local day and minute back into the instant", () => {
    fc.assert(
      fc.property(instants, fc.constantFrom(...ZONES), (ts, zone) => {
        const clock = localClock(zone);
        const { day, minute } = clock.local(ts);
        const back = clock.instantOf(day, minute);
        // Equal to the minute, except in the hour a DST change repeats, where either reading is right.
        expect(clock.local(back)).toEqual({ day, minute });
      }),
      { numRuns: 1000 },
    );
  });
});

describe("homeTimeZone", () => {
  test("takes the configured zone, else Home Assistant's, else the system's", () => {
    const system = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    expect(homeTimeZone("Europe/Berlin", "Asia/Kolkata")).toBe("Europe/Berlin");
    expect(homeTimeZone("", "Asia/Kolkata")).toBe("Asia/Kolkata");
    expect(homeTimeZone("", "Nowhere/Land")).toBe(system);
    expect(homeTimeZone("", undefined)).toBe(system);
    expect(() => homeTimeZone("Nowhere/Land", "Asia/Kolkata", "HOMEIQ_X")).toThrow(
      'HOMEIQ_X: unknown time zone "Nowhere/Land"',
    );
  });
});
