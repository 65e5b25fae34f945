import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { countRows, foldStats, matchesEvent, parseQuery } from "./stats.ts";
import { PLANTED, syntheticHome } from "./synthetic-home.ts";
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
