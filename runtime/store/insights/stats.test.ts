import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { PLANTED, syntheticHome } from "../../../test/support/synthetic-home/insights.ts";
import { LocalClock } from "../../kernel/local-time.ts";
import { countRows, foldStats, matchesEvent, parseQuery } from "./stats.ts";
import { domainOf, type InsightEvent } from "./types.ts";

const NOW = Date.UTC(2026, 10, 20, 12);
const home = syntheticHome({ seed: 5, days: 2, now: NOW });

describe("foldStats", () => {
  const from = NOW - 24 * 3600_000;
  const inWindow = home.events.filter((e) => e.ts >= from && e.ts < NOW);
  const stats = foldStats(countRows(home.events, 900_000), {
    from,
    to: NOW,
    bucketMs: 900_000,
    top: 3,
    names: home.names,
  });

  test("counts every event in the window once, per domain and in the series", () => {
    expect(stats.total).toBe(inWindow.length);
    const domains = new Map<string, number>();
    for (const e of inWindow)
      domains.set(domainOf(e.entity_id), (domains.get(domainOf(e.entity_id)) ?? 0) + 1);
    expect(new Map(stats.domains.map((d) => [d.domain, d.count]))).toEqual(domains);
    expect(stats.series).toHaveLength(96);
    expect(stats.series.reduce((s, p) => s + p.count, 0)).toBe(inWindow.length);
    expect(stats.hourOfDay.reduce((s, n) => s + n, 0)).toBe(inWindow.length);
  });

  test("names the busiest entity with its friendly name: the home meter, every 10 s", () => {
    expect(stats.busiest[0]).toEqual({ entity_id: PLANTED.homePower, name: "Home power", count: 8640 });
    expect(stats.busiest).toHaveLength(3);
  });

  test("series totals equal event counts for any events and bucket width (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ id: fc.constantFrom("a.x", "b.y", "c.z"), ts: fc.integer({ min: 0, max: 999_999 }) }),
        ),
        fc.constantFrom(1000, 60_000, 3600_000),
        (raw, bucketMs) => {
          const events = raw.map(
            (r) => ({ entity_id: r.id, state: "1", value: 1, ts: r.ts, context_id: null }) as InsightEvent,
          );
          const s = foldStats(countRows(events, bucketMs), { from: 0, to: 1_000_000, bucketMs, top: 10 });
          expect(s.total).toBe(events.length);
          expect(s.series.reduce((a, p) => a + p.count, 0)).toBe(events.length);
        },
      ),
    );
  });
});

describe("foldStats in the home's time zone", () => {
  const HOUR = 3_600_000;
  const rows = (times: number[]) => times.map((t) => ({ entity_id: "light.a", bucket: t, count: 1 }));

  test("hour of day is the local hour, also in half-hour zones (Kolkata, UTC+5:30)", () => {
    // 00:40 UTC is 06:10 in Kolkata; 18:29 UTC is 23:59; 18:30 UTC is 00:00 the next day.
    const day = Date.UTC(2026, 5, 1);
    const times = [day + 40 * 60_000, day + 18 * HOUR + 29 * 60_000, day + 18 * HOUR + 30 * 60_000];
    const kolkata = foldStats(rows(times), {
      from: day,
      to: day + 24 * HOUR,
      bucketMs: HOUR,
      top: 1,
      clock: new LocalClock("Asia/Kolkata"),
    });
    const hours = kolkata.hourOfDay.flatMap((n, h) => (n ? [[h, n]] : []));
    expect(hours).toEqual([
      [0, 1],
      [6, 1],
      [23, 1],
    ]);
    expect(kolkata.timeZone).toBe("Asia/Kolkata");
    const utc = foldStats(rows(times), { from: day, to: day + 24 * HOUR, bucketMs: HOUR, top: 1 });
    expect(utc.hourOfDay.flatMap((n, h) => (n ? [h] : []))).toEqual([0, 18]);
    expect(utc.timeZone).toBe("UTC");
  });

  test("day buckets are local days, 23 hours long on the spring DST change (Berlin)", () => {
    const clock = new LocalClock("Europe/Berlin");
    // Local midnights of 2026-03-28 (CET, UTC+1), 03-29 (clocks go forward) and 03-30 (CEST, UTC+2).
    const m28 = Date.UTC(2026, 2, 27, 23);
    const m29 = Date.UTC(2026, 2, 28, 23);
    const m30 = Date.UTC(2026, 2, 29, 22);
    const s = foldStats(rows([m28, m29 - 1, m29, m30 - 1, m30 + HOUR]), {
      from: m28 + 5 * HOUR,
      to: m30 + 2 * HOUR,
      bucketMs: 24 * HOUR,
      top: 1,
      clock,
    });
    expect(s.series.map((p) => [p.ts, p.count])).toEqual([
      [m28, 2],
      [m29, 2],
      [m30, 1],
    ]);
    expect(s.series[1].perMinute).toBe(2 / (23 * 60));
  });
});

describe("search terms", () => {
  test("parses words and quoted phrases, lower-cased", () => {
    expect(parseQuery(' Hall  "Living Room" on ')).toEqual(["hall", "living room", "on"]);
  });
  test("every term must match the entity id, the friendly name or the state", () => {
    const e = home.events.find((x) => x.entity_id === PLANTED.flapping && x.state === "on")!;
    expect(matchesEvent(["window", "on"], e, "Hall window")).toBe(true);
    expect(matchesEvent(["hall", "off"], e, "Hall window")).toBe(false);
    expect(matchesEvent(["kettle"], e, "Hall window")).toBe(false);
    const k = home.events.find((x) => x.entity_id === "switch.kettle")!;
    expect(matchesEvent(["kettle"], k, null)).toBe(true);
  });
});
