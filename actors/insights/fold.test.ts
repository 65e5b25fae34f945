import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { loadConfig } from "../../runtime/config/load.ts";
import { openInsightsReader } from "../../runtime/store/insights-reader.ts";
import { openStoreWriter } from "../../runtime/store/writer.ts";
import { chunksOf, eventsOf, scenario } from "../../test/support/synthetic-home/fold-streams.ts";
import { toStateChange } from "../../test/support/synthetic-home/insights-store.ts";
import { energyOfFold, energyReport, healthOfFold, healthReport } from "./analyses.ts";
import { HistoryFold } from "./fold.ts";
import { FoldedHistory } from "./history.ts";

const DAY = 86400_000;
const settings = {
  ...loadConfig({ env: {} }).insights,
  historyDays: 1,
  minIntervals: 4,
  flapWindowMs: 3600_000,
  flapChanges: 3,
  energyMinEvents: 2,
};
describe("FoldedHistory", () => {
  test("property: folded in random chunks (rows late, window moving), health and energy equal a full read", async () => {
    const start = Date.now() - 20 * DAY;
    let compared = 0;
    const statuses = new Set<string>();
    let measured = 0;
    let refolded = 0;
    let trimmed = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async ({ episodes, cuts, late, behind }) => {
        const events = eventsOf(episodes, start);
        const chunks = chunksOf(events, cuts, late);
        const dir = mkdtempSync(join(tmpdir(), "insights-fold-"));
        const writer = openStoreWriter(dir, { dictionaryCache: 1000 });
        const reader = openInsightsReader(dir, settings);
        try {
          const history = new FoldedHistory(
            reader,
            new HistoryFold(settings.lowBatteryPct),
            settings.historyDays,
            100,
            () => Promise.resolve(),
          );
          const text = (state: number, value: number) => reader.stateTextOf(state, value);
          let now = start;
          let newest = start;
          for (const [k, chunk] of chunks.entries()) {
            const r = writer.writeEvents(chunk.map(toStateChange));
            expect(r.rejected).toEqual([]);
            for (const e of chunk) newest = Math.max(newest, e.ts);
            // `now` moves forward, sometimes short of the newest row (rows ahead of now wait).
            now = Math.max(now, newest - behind[k % behind.length]);
            const health = await history.at(now, (f) => healthOfFold(f, settings, now, new Map(), text));
            const energy = await history.at(now, (f) => energyOfFold(f, settings, now, new Map()));
            expect(health).toEqual(healthReport(reader, settings, now));
            expect(energy).toEqual(energyReport(reader, settings, now));
            for (const v of health.unhealthy) statuses.add(v.status);
            measured += energy.devices.filter((d) => d.samples > 0).length;
            compared++;
            if (health.entities < new Set(events.filter((e) => e.ts <= now).map((e) => e.entity_id)).size)
              trimmed++;
          }
          refolded += history.stats.entityRebuilds;
        } finally {
          reader.close();
          writer.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40, seed: 20261207 },
    );
    expect(compared).toBeGreaterThan(80);
    // The streams drawn reach every health rule and measure steps, so each was compared on both paths.
    expect([...statuses].sort()).toEqual(["flapping", "low_battery", "stale", "unavailable", "unknown"]);
    expect(measured).toBeGreaterThan(0);
    // ...and rows stored late were folded again, and entities left the window.
    expect(refolded).toBeGreaterThan(0);
    expect(trimmed).toBeGreaterThan(0);
  }, 120_000);
});
