import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PLANTED, syntheticHome } from "../../test/support/synthetic-home/insights.ts";
import { toStateChange } from "../../test/support/synthetic-home/insights-store.ts";
import type { InsightEvent } from "./insights/types.ts";
import { type InsightsReader, openInsightsReader, SearchTermsError } from "./insights-reader.ts";
import { markCaughtUp } from "./tail.ts";
import { openStoreWriter, type StoreWriter } from "./writer.ts";

const NOW = Date.now() - 60_000;
const home = syntheticHome({ seed: 21, days: 2, now: NOW });
home.names.set(PLANTED.staleSensor, "Loft thermometer");

function write(writer: StoreWriter, events: InsightEvent[]): void {
  for (let i = 0; i < events.length; i += 5000) {
    const r = writer.writeEvents(events.slice(i, i + 5000).map(toStateChange));
    expect(r.rejected).toEqual([]);
  }
}

let dir: string;
let reader: InsightsReader;
const limits = {
  searchScanRows: 1_000_000,
  searchTermsMax: 8,
  searchStatesMax: 1_000_000,
  traceMaxDepth: 8,
  traceMaxEvents: 500,
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "insights-q-"));
  const writer = openStoreWriter(dir, { dictionaryCache: 10_000 });
  write(writer, home.events);
  writer.close();
  reader = openInsightsReader(dir, limits, () => home.names);
});
afterAll(() => {
  reader.close();
  rmSync(dir, { recursive: true, force: true });
});

const within = (from: number, to: number) => home.events.filter((e) => e.ts >= from && e.ts < to);

describe("InsightsReader.search", () => {
  const all = { from: home.from, to: NOW + 1 };

  test("finds every event matching all terms by id and state, newest first", () => {
    const expected = home.events.filter((e) => e.entity_id === PLANTED.flapping && e.state === "on");
    const page = reader.search({ q: "hall_window on", ...all, limit: 1000 });
    expect(page.items.map((h) => [h.entity_id, h.state, h.ts])).toEqual(
      expected.reverse().map((e) => [e.entity_id, e.state, e.ts]),
    );
    expect(page.items[0].name).toBe("Hall window");
    expect(page.nextCursor).toBeNull();
  });

  test("matches friendly names and state text alone", () => {
    const loft = reader.search({ q: "loft", ...all, limit: 5 });
    expect(new Set(loft.items.map((h) => h.entity_id))).toEqual(new Set([PLANTED.staleSensor]));
    const unavailable = reader.search({ q: "unavailable", ...all, limit: 50 });
    expect(unavailable.items.map((h) => h.entity_id)).toEqual([PLANTED.unavailable, PLANTED.unavailable]);
    expect(reader.search({ q: "no_such_thing", ...all, limit: 5 })).toMatchObject({
      items: [],
      nextCursor: null,
    });
  });

  test("pages with cursors, and a small scan bound still reaches every match exactly once", () => {
    const small = openInsightsReader(dir, { ...limits, searchScanRows: 2000 }, () => home.names);
    const expected = home.events.filter((e) => e.entity_id === "switch.kettle").map((e) => e.ts);
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = small.search({ q: "kettle", ...all, limit: 7, cursor });
      seen.push(...page.items.map((h) => h.ts));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor && pages < 10_000);
    small.close();
    expect(seen).toEqual([...expected].reverse());
    expect(pages).toBeGreaterThan(expected.length / 7);
  });

  test("a query with more than searchTermsMax terms is refused before any state is matched", () => {
    expect(() => reader.search({ q: "a b c d e f g h i", ...all, limit: 5 })).toThrow(SearchTermsError);
    expect(reader.search({ q: "a b c d e f g h", ...all, limit: 5 }).items).toBeArray();
  });

  test("only the newest searchStatesMax states are matched, and the page says so", () => {
    const full = reader.search({ q: "unavailable", ...all, limit: 50 });
    expect(full.statesTruncated).toBe(false);
    const few = openInsightsReader(dir, { ...limits, searchStatesMax: 1 }, () => home.names);
    const cut = few.search({ q: "unavailable", ...all, limit: 50 });
    // Every entity id holds a dot: no state is looked at, so nothing is skipped.
    const byId = few.search({ q: ".", ...all, limit: 5 });
    few.close();
    expect(cut.statesTruncated).toBe(true);
    expect(cut.items.length).toBeLessThan(full.items.length);
    expect(byId.statesTruncated).toBe(false);
  });

  test("restricts to a domain", () => {
    const page = reader.search({ q: "hall", ...all, limit: 1000, domain: "automation" });
    expect(new Set(page.items.map((h) => h.entity_id))).toEqual(
      new Set(["automation.hall_light", "automation.hall_fan"]),
    );
  });
});

describe("InsightsReader.stats", () => {
  test("raw path: counts each event in a 24 h window once", () => {
    const from = NOW - 24 * 3600_000;
    const s = reader.stats({ from, to: NOW + 1, bucketMs: 900_000, top: 3 });
    expect(s.total).toBe(within(from, NOW + 1).length);
    expect(s.busiest[0].entity_id).toBe(PLANTED.homePower);
  });

  test("rollup path: hourly rows plus rows the rollup has not reached add up exactly", () => {
    // Stand in for the store's rollup (runtime/store maintenance) on a copy: hourly counts + its cursor.
    const copy = mkdtempSync(join(tmpdir(), "insights-r-"));
    const writer = openStoreWriter(copy, { dictionaryCache: 10_000 });
    const cut = home.events.length - 500;
    write(writer, home.events.slice(0, cut));
    const db = new Database(join(copy, "events.db"));
    const base = (db.query("SELECT value FROM meta WHERE key = 'base_us'").get() as { value: number }).value;
    db.run(
      `INSERT INTO hourly (e, t, n, tn) SELECT e, (((id >> 16) + ${base}) / 3600000000) * 3600,
       sum(s IS NULL), sum(s IS NOT NULL) FROM events GROUP BY 1, 2`,
    );
    markCaughtUp(db, "rollup");
    db.close();
    write(writer, home.events.slice(cut));
    writer.close();
    const r = openInsightsReader(copy, limits);
    const s = r.stats({ from: home.from, to: NOW + 1, bucketMs: 3600_000, top: 5 });
    r.close();
    rmSync(copy, { recursive: true, force: true });
    expect(s.total).toBe(home.events.length);
    expect(s.series.reduce((a, p) => a + p.count, 0)).toBe(home.events.length);
  });

  test("rows stored late behind the rollup's position are counted once, in their own hour", () => {
    const copy = mkdtempSync(join(tmpdir(), "insights-l-"));
    try {
      const writer = openStoreWriter(copy, { dictionaryCache: 10_000 });
      const event = (i: number, ts: number): InsightEvent => ({
        entity_id: `sensor.s${i % 3}`,
        state: String(i),
        value: i,
        ts,
        context_id: null,
        context_parent_id: null,
        context_user_id: null,
        attributes: {},
      });
      const start = Math.floor(NOW / 3600_000) * 3600_000 - 10 * 3600_000;
      // Every 10 s for 6 hours, rolled up; then a gap's backfill (hours 2-3, at odd seconds) and 2 newer hours.
      write(
        writer,
        Array.from({ length: 2160 }, (_, i) => event(i, start + i * 10_000)),
      );
      const db = new Database(join(copy, "events.db"));
      const base = (db.query("SELECT value FROM meta WHERE key = 'base_us'").get() as { value: number })
        .value;
      db.run(
        `INSERT INTO hourly (e, t, n, tn) SELECT e, (((id >> 16) + ${base}) / 3600000000) * 3600,
         sum(s IS NULL), sum(s IS NOT NULL) FROM events GROUP BY 1, 2`,
      );
      markCaughtUp(db, "rollup");
      db.close();
      const late = Array.from({ length: 720 }, (_, i) => event(i, start + 2 * 3600_000 + i * 10_000 + 1001));
      const newer = Array.from({ length: 720 }, (_, i) => event(i, start + 6 * 3600_000 + i * 10_000));
      write(writer, [...late, ...newer]);
      writer.close();
      const r = openInsightsReader(copy, limits);
      const s = r.stats({ from: start, to: NOW + 1, bucketMs: 3600_000, top: 3 });
      r.close();
      expect(s.total).toBe(2160 + 720 + 720);
      const byHour = new Map(s.series.map((p) => [Math.round((p.ts - start) / 3600_000), p.count]));
      expect([0, 1, 2, 3, 4, 5, 6, 7].map((h) => byHour.get(h))).toEqual([
        360, 360, 720, 720, 360, 360, 360, 360,
      ]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  test("rollup far behind (over 100,000 rows): hour buckets counted from the streamed raw rows", () => {
    const copy = mkdtempSync(join(tmpdir(), "insights-b-"));
    try {
      const writer = openStoreWriter(copy, { dictionaryCache: 10_000 });
      const n = 120_000;
      const start = NOW - n * 1000;
      const events: InsightEvent[] = Array.from({ length: n }, (_, i) => ({
        entity_id: `sensor.s${i % 7}`,
        state: String(i % 100),
        value: i % 100,
        ts: start + i * 1000,
        context_id: null,
        context_parent_id: null,
        context_user_id: null,
        attributes: {},
      }));
      write(writer, events);
      writer.close();
      const r = openInsightsReader(copy, limits);
      const s = r.stats({ from: start - 3600_000, to: NOW + 1, bucketMs: 3600_000, top: 7 });
      r.close();
      expect(s.total).toBe(n);
      expect(s.series.reduce((a, p) => a + p.count, 0)).toBe(n);
      expect(s.busiest.map((b) => b.count).reduce((a, b) => a + b, 0)).toBe(n);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe("InsightsReader.trace", () => {
  const [motion, auto1, , auto2, fan] = PLANTED.chain;
  test("by entity and time: the planted chain, causes and origin", () => {
    const fanEvent = home.events.find((e) => e.entity_id === fan)!;
    const t = reader.trace({ entityId: fan, ts: fanEvent.ts + 5 })!;
    expect(t.target).toMatchObject({ entity_id: fan, ts: fanEvent.ts });
    expect(t.causes.map((s) => [s.kind, s.automation])).toEqual([
      ["state_change", null],
      ["automation", auto1],
      ["automation", auto2],
    ]);
    expect(t.origin).toMatchObject({ kind: "state_change", entity_id: motion });
  });

  test("by id from a search hit: the motion's effects", () => {
    const motionOn = home.events.find(
      (e) => e.entity_id === motion && e.context_id === home.chainContexts[0],
    )!;
    const hit = reader
      .search({ q: `${motion} on`, from: motionOn.ts, to: motionOn.ts + 1, limit: 1 })
      .items.find((h) => h.ts === motionOn.ts)!;
    const t = reader.trace({ id: hit.id })!;
    expect(t.id).toBe(hit.id);
    // Compared by their events: the context ids' text is the store codec's to round-trip.
    expect(t.effects.map((s) => [s.events.map((e) => e.entity_id), s.depth])).toEqual([
      [[auto1, PLANTED.chain[2]], 1],
      [[auto2, fan], 2],
    ]);
  });

  test("unknown entity or nothing before the time answers null", () => {
    expect(reader.trace({ entityId: "light.nowhere", ts: NOW })).toBeNull();
    expect(reader.trace({ entityId: fan, ts: home.from - 1000 })).toBeNull();
  });
});

describe("InsightsReader.eachEntityColumns", () => {
  test("hands over every row once as columns, ascending, states and attributes as stored", () => {
    const byEntity = new Map<string, InsightEvent[]>();
    for (const e of home.events) byEntity.set(e.entity_id, [...(byEntity.get(e.entity_id) ?? []), e]);
    let total = 0;
    const seen = new Set<string>();
    reader.eachEntityColumns(home.from, NOW + 1, (c) => {
      expect(seen.has(c.entity_id)).toBe(false);
      seen.add(c.entity_id);
      const events = (byEntity.get(c.entity_id) ?? []).sort((a, b) => a.ts - b.ts);
      expect(c.length).toBe(events.length);
      total += c.length;
      for (let i = 0; i < c.length; i++) {
        expect(c.ts[i]).toBe(events[i].ts);
        expect(c.stateText(i)).toBe(events[i].state);
        expect(Number.isNaN(c.value[i]) ? null : c.value[i]).toBe(events[i].value);
        expect(c.attributes(i)).toEqual(events[i].attributes ?? {});
        if (i) expect(c.sameState(i, i - 1)).toBe(events[i].state === events[i - 1].state);
      }
    });
    expect(total).toBe(home.events.length);
    expect(seen.size).toBe(byEntity.size);
  });

  test("keep judges each entity by its latest attributes before its rows are read", () => {
    const latestUnit = new Map<string, unknown>();
    for (const e of home.events) latestUnit.set(e.entity_id, e.attributes?.unit_of_measurement);
    const handed: string[] = [];
    reader.eachEntityColumns(
      home.from,
      NOW + 1,
      (c) => handed.push(c.entity_id),
      undefined,
      (_id, last) => last.unit_of_measurement === "W",
    );
    const powered = [...latestUnit].filter(([, unit]) => unit === "W").map(([id]) => id);
    expect(powered).toContain(PLANTED.homePower);
    expect(handed.sort()).toEqual(powered.sort());
  });

  test("only the span asked for, and no entity without rows in it", () => {
    const from = NOW - 3600_000;
    const expected = new Map<string, number>();
    for (const e of within(from, NOW)) expected.set(e.entity_id, (expected.get(e.entity_id) ?? 0) + 1);
    const got = new Map<string, number>();
    reader.eachEntityColumns(from, NOW, (c) => {
      got.set(c.entity_id, c.length);
      expect(c.ts[0]).toBeGreaterThanOrEqual(from);
      expect(c.ts[c.length - 1]).toBeLessThan(NOW);
    });
    expect(got).toEqual(expected);
  });
});
