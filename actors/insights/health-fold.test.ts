import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { loadConfig } from "../../runtime/config/load.ts";
import type { WindowRow } from "../../runtime/store/insights-reader.ts";
import { openInsightsReader } from "../../runtime/store/insights-reader.ts";
import { openStoreWriter } from "../../runtime/store/writer.ts";
import { chunksOf, eventsOf, scenario } from "../../test/support/synthetic-home/fold-streams.ts";
import { PLANTED, syntheticHome } from "../../test/support/synthetic-home/insights.ts";
import { seedStore, toStateChange } from "../../test/support/synthetic-home/insights-store.ts";
import { type HealthReport, healthOfSummary, healthReport } from "./analyses.ts";
import { factsOfSeries, type HealthFacts, judgeFacts, MEASURING } from "./health.ts";
import { EntityHealthFold, HealthFold } from "./health-fold.ts";
import { FoldedHistory } from "./history.ts";
import { healthSeries, metaFromNames } from "./inputs.ts";

const HOUR = 3600_000;
const DAY = 86400_000;
const settings = {
  ...loadConfig({ env: {} }).insights,
  historyDays: 1,
  minIntervals: 4,
  flapWindowMs: 3600_000,
  flapChanges: 3,
};
const limits = { historyDays: 7, lowBatteryPct: 20, changesKept: 100 };

/** A row as the store's reader hands it out; `state` is a dictionary id, -1 for a number. */
function row(ts: number, text: string, attributes: Record<string, unknown> = {}): WindowRow {
  const value = Number(text);
  const numeric = text !== "" && Number.isFinite(value);
  return {
    ts,
    value: numeric ? value : Number.NaN,
    state: numeric ? -1 : text.length,
    attributes,
    stateText: () => text,
  };
}

const judge = (id: string, facts: HealthFacts, now: number) =>
  judgeFacts(id, null, facts, {
    now,
    staleFactor: 4,
    minStaleMs: 15 * 60_000,
    minIntervals: 10,
    regularityMax: 4,
    lowBatteryPct: 20,
    flapWindowMs: HOUR,
    flapChanges: 10,
    flapFactor: 5,
  });

describe("EntityHealthFold", () => {
  test("learns a jittery reporter's usual interval within 1% and calls it stale when it falls silent", () => {
    const fold = new EntityHealthFold("sensor.temp", limits);
    const exact: number[] = [];
    let t = Date.UTC(2026, 11, 1);
    for (let k = 0; k < 5000; k++) {
      t += 30_000 + ((k * 7919) % 2000);
      expect(fold.push(row(t, String(20 + (k % 5))))).toBe(true);
      exact.push(t);
    }
    const now = t + 3 * HOUR;
    const verdict = judge("sensor.temp", fold.facts(now - 7 * DAY), now);
    const gaps = exact
      .slice(1)
      .map((x, i) => x - exact[i])
      .sort((a, b) => a - b);
    const p90 = gaps[Math.floor(0.9 * (gaps.length - 1))];
    expect(verdict.learning).toBe("regular");
    expect(Math.abs((verdict.usualIntervalMs as number) - p90) / p90).toBeLessThan(0.01);
    expect(verdict.status).toBe("stale");
    expect(verdict.since).toBe(t);
  });

  test("holds the same bytes after a thousand rows as after a million: bounded by the window's slots, not rows", () => {
    const fold = new EntityHealthFold("sensor.power", limits);
    let small = 0;
    const start = Date.UTC(2026, 11, 1);
    const step = (7 * DAY) / 1_000_000;
    let t = start;
    for (let k = 0; k < 1_000_000; k++) {
      t = start + (k + 1) * step;
      fold.push(row(t, String(k % 50)));
      if (k === 999) small = fold.bytes;
    }
    // Seven more days' histograms of the same few bins: a few hundred bytes, not 8 MB of rows.
    expect(fold.bytes).toBeLessThan(small + 8 * 40 * 4);
    expect(fold.facts(t - 7 * DAY).rows).toBe(1_000_000);
  });

  test("keeps the newest changesKept state changes: a long flapping spell starts at the oldest kept", () => {
    const fold = new EntityHealthFold("binary_sensor.door", limits);
    const start = Date.UTC(2026, 11, 1);
    for (let k = 0; k < 2000; k++) fold.push(row(start + k * 1000, k % 2 ? "on" : "off"));
    const now = start + 2000 * 1000;
    const facts = fold.facts(now - 7 * DAY);
    expect(facts.changes).toBe(1999);
    expect(facts.recentChanges.length).toBe(limits.changesKept);
    const verdict = judge("binary_sensor.door", facts, now);
    expect(verdict.status).toBe("flapping");
    expect(verdict.since).toBe(start + (2000 - limits.changesKept) * 1000);
  });

  test("refuses a row at or behind its newest (the caller folds the entity again), and tracks runs exactly", () => {
    const fold = new EntityHealthFold("sensor.battery", limits);
    const t = Date.UTC(2026, 11, 1);
    const battery = { device_class: "battery" };
    fold.push(row(t, "50", battery));
    fold.push(row(t + 1000, "15", battery));
    fold.push(row(t + 2000, "12", battery));
    expect(fold.push(row(t + 2000, "11", battery))).toBe(false);
    fold.push(row(t + 3000, "unavailable"));
    fold.push(row(t + 4000, "unavailable"));
    let facts = fold.facts(t - DAY);
    expect([facts.state, facts.stateSince, facts.battery]).toEqual(["unavailable", t + 3000, null]);
    fold.push(row(t + 5000, "10", battery));
    facts = fold.facts(t - DAY);
    expect([facts.battery, facts.lowSince, facts.stateSince]).toEqual([10, t + 5000, t + 5000]);
  });
});

describe("HealthFold through FoldedHistory", () => {
  test("on a stored synthetic home, healthOfSummary names the planted faults as the full read does", async () => {
    const defaults = loadConfig({ env: {} }).insights;
    const now = Date.now() - 1000;
    const home = syntheticHome({ seed: 4, days: 2, now });
    const dir = mkdtempSync(join(tmpdir(), "insights-health-summary-"));
    try {
      seedStore(dir, home.events);
      const reader = openInsightsReader(dir, defaults);
      try {
        const fold = new HealthFold({
          historyDays: 7,
          lowBatteryPct: defaults.lowBatteryPct,
          changesKept: 1000,
        });
        const history = new FoldedHistory(reader, fold, 7, 5000, () => Promise.resolve());
        const meta = metaFromNames(home.names);
        const got = await history.at(now, (f) => healthOfSummary(f, defaults, now, meta));
        const want = healthReport(reader, defaults, now, meta);
        const verdicts = (r: HealthReport) =>
          r.unhealthy.map((v) => [v.entity_id, v.status, v.since, v.name]);
        expect(verdicts(got)).toEqual(verdicts(want));
        expect(
          verdicts(got)
            .map((v) => v[0])
            .sort(),
        ).toEqual([PLANTED.flapping, PLANTED.lowBattery, PLANTED.staleSensor, PLANTED.unavailable].sort());
        expect([got.entities, got.counts]).toEqual([want.entities, want.counts]);
      } finally {
        reader.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("property: folded in random chunks (rows late, window moving), its facts equal a full read's", async () => {
    const start = Date.now() - 20 * DAY;
    let exact = 0;
    let edge = 0;
    let refolded = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async ({ episodes, cuts, late, behind }) => {
        const events = eventsOf(episodes, start);
        const dir = mkdtempSync(join(tmpdir(), "insights-health-fold-"));
        const writer = openStoreWriter(dir, { dictionaryCache: 1000 });
        const reader = openInsightsReader(dir, settings);
        try {
          const fold = new HealthFold({ ...settings, changesKept: 1000 });
          const history = new FoldedHistory(reader, fold, settings.historyDays, 100, () => Promise.resolve());
          let now = start;
          let newest = start;
          for (const [k, chunk] of chunksOf(events, cuts, late).entries()) {
            expect(writer.writeEvents(chunk.map(toStateChange)).rejected).toEqual([]);
            for (const e of chunk) newest = Math.max(newest, e.ts);
            now = Math.max(now, newest - behind[k % behind.length]);
            const from = now - settings.historyDays * DAY;
            const got = await history.at(
              now,
              (f) => new Map([...f.each()].map((e) => [e.entityId, e.facts(from)])),
            );
            const want = new Map<string, HealthFacts>();
            reader.eachEntityColumns(from, now + 1, (c) =>
              want.set(c.entity_id, factsOfSeries(healthSeries(c), settings.lowBatteryPct)),
            );
            // Exactly the entities a read of the window judges.
            expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
            // Entities with rows before the window: its front edge is approximate there (whole hours, days).
            const older = new Set<string>();
            reader.eachEntityColumns(start - DAY, from, (c) => older.add(c.entity_id));
            for (const [id, w] of want) {
              const g = got.get(id) as HealthFacts;
              expect([g.lastTs, g.state, g.battery]).toEqual([w.lastTs, w.state, w.battery]);
              if (older.has(id)) {
                edge++;
                expect(g.rows).toBeGreaterThanOrEqual(w.rows);
                continue;
              }
              exact++;
              const { gapQuantile: gq, recentChanges: gr, ...gs } = g;
              const { gapQuantile: wq, recentChanges: wr, ...ws } = w;
              if (w.battery === null || w.battery > settings.lowBatteryPct) {
                gs.lowSince = ws.lowSince = 0;
              }
              expect(gs).toEqual(ws);
              // Change times are kept only where the flapping rule reads them.
              if (!MEASURING.has(id.slice(0, id.indexOf("."))))
                expect(Array.from(gr)).toEqual(Array.from(wr));
              for (const q of [0.5, 0.9])
                if (w.gaps) expect(Math.abs(gq(q) - wq(q))).toBeLessThanOrEqual(0.0101 * wq(q));
            }
          }
          refolded += history.stats.entityRebuilds;
        } finally {
          reader.close();
          writer.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40, seed: 20261208 },
    );
    // Both kinds were met, and rows stored late were folded again.
    expect(exact).toBeGreaterThan(100);
    expect(edge).toBeGreaterThan(0);
    expect(refolded).toBeGreaterThan(0);
  }, 120_000);
});
