import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config/load.ts";
import type { InsightEvent } from "../../runtime/store/insights/types.ts";
import {
  type InsightsReader,
  openInsightsReader,
  type WindowRow,
} from "../../runtime/store/insights-reader.ts";
import { openStoreWriter } from "../../runtime/store/writer.ts";
import { PLANTED, syntheticHome } from "../../test/support/synthetic-home/insights.ts";
import { seedStore, toStateChange } from "../../test/support/synthetic-home/insights-store.ts";
import { energyReport } from "./analyses.ts";
import type { EnergyReport } from "./energy.ts";
import { EnergyFold } from "./energy-fold.ts";
import { FoldedHistory } from "./history.ts";
import { metaFromNames } from "./inputs.ts";

const NOW = Date.now() - 1000;
const DAY = 86400_000;
const home = syntheticHome({ seed: 9, days: 3, now: NOW, extraSensors: 3 });
const settings = loadConfig({ env: {} }).insights;
const meta = metaFromNames(home.names);
const foldSettings = { ...settings, energyTransitionsKept: 1000 };
let dir: string;
let reader: InsightsReader;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "insights-ef-"));
  seedStore(dir, home.events);
  reader = openInsightsReader(dir, settings);
});
afterAll(() => {
  reader.close();
  rmSync(dir, { recursive: true, force: true });
});

const within = (got: number | null, want: number | null, rel: number) => {
  if (want === null) return expect(got).toBeNull();
  expect(Math.abs((got as number) - want)).toBeLessThanOrEqual(rel * Math.abs(want) + 0.01);
};

/** The fold's report against the full read's: the same per-event steps; levels within their bins' 1%. */
function expectClose(got: EnergyReport, want: EnergyReport) {
  const exact = (r: EnergyReport) =>
    r.devices
      .map(({ standbyW, kWh, share, ...d }) => d)
      .sort((a, b) => a.entity_id.localeCompare(b.entity_id));
  expect(exact(got)).toEqual(exact(want));
  expect(got.homeSensor).toBe(want.homeSensor);
  within(got.totalKWh, want.totalKWh, 0.001);
  within(got.standbyW, want.standbyW, 0.0101);
  const byId = new Map(got.devices.map((d) => [d.entity_id, d]));
  for (const w of want.devices) {
    const g = byId.get(w.entity_id);
    within(g?.kWh ?? null, w.kWh, 0.001);
    // Off readings as they arrive: a spell's reading in force at its settle is not among them (a full read adds it).
    within(g?.standbyW ?? null, w.standbyW, 0.05);
  }
}

/** A fresh store the test fills as it goes, with an energy fold kept current through it. */
async function withFilledStore(
  run: (
    writer: ReturnType<typeof openStoreWriter>,
    reader: InsightsReader,
    history: FoldedHistory<EnergyFold>,
  ) => Promise<void>,
): Promise<void> {
  const d = mkdtempSync(join(tmpdir(), "insights-ef-runs-"));
  const writer = openStoreWriter(d, { dictionaryCache: 100_000 });
  const reader = openInsightsReader(d, settings);
  try {
    const fold = new EnergyFold(foldSettings);
    fold.setMeta(meta);
    await run(
      writer,
      reader,
      new FoldedHistory(reader, fold, settings.historyDays, 5000, () => Promise.resolve()),
    );
  } finally {
    reader.close();
    writer.close();
    rmSync(d, { recursive: true, force: true });
  }
}

describe("EnergyFold", () => {
  test("a switch toggled 5,000 times keeps energyTransitionsKept events, yet its on-hours count every spell", () => {
    const fold = new EnergyFold({ ...foldSettings, energyTransitionsKept: 100 });
    const start = Math.floor(NOW / DAY) * DAY - 3 * DAY;
    const row = (ts: number, text: string, unit?: string): WindowRow => ({
      ts,
      value: Number(text),
      state: -1,
      attributes: unit ? { unit_of_measurement: unit } : {},
      stateText: () => text,
    });
    // On for 40 s of every minute, for 5,000 minutes; a meter that reads 1,000 W more while it is on.
    for (let k = 0; k < 5000; k++) {
      const t = start + k * 60_000;
      fold.push(1, "switch.pump", row(t, "on"));
      for (let j = 1; j < 6; j++)
        fold.push(2, "sensor.home_power", row(t + j * 10_000, j < 4 ? "1100" : "100", "W"));
      fold.push(1, "switch.pump", row(t + 40_000, "off"));
    }
    const now = start + 5000 * 60_000;
    const report = fold.report(now);
    const pump = report.devices.find((d) => d.entity_id === "switch.pump");
    expect(pump?.onHours).toBe(Math.round(((5000 * 40_000) / 3600_000) * 100) / 100);
    // Steps are measured on the newest events only...
    expect((pump?.samples ?? 0) + (pump?.noData ?? 0) + (pump?.overlapped ?? 0)).toBeLessThanOrEqual(100);
    expect(pump?.samples).toBeGreaterThan(50);
    // ...and the summary stays small: 100 events, a few windows of the meter, hourly and daily partials.
    expect(fold.usage().bytes).toBeLessThan(64 * 1024);
  });

  test("folded from a stored synthetic home, it measures every device as a full read of the window does", async () => {
    const fold = new EnergyFold(foldSettings);
    fold.setMeta(meta);
    const history = new FoldedHistory(reader, fold, settings.historyDays, 5000, () => Promise.resolve());
    const got = await history.at(NOW, (f) => f.report(NOW));
    const want = energyReport(reader, settings, NOW, meta);
    expect(want.devices.filter((d) => d.measurable).length).toBeGreaterThan(3);
    expectClose(got, want);
    const byId = new Map(got.devices.map((d) => [d.entity_id, d]));
    for (const [entity, watts] of Object.entries(PLANTED.steps))
      expect(Math.abs((byId.get(entity)?.stepW ?? 0) - watts)).toBeLessThan(watts * 0.03 + 5);
    expect(byId.get(PLANTED.tv.entity)?.sensor).toBe(PLANTED.tv.sensor);
    // Three days of a meter every 10 s and a plug every 15 s: the tails hold minutes of them, not days.
    expect(fold.usage().bytes).toBeLessThan(2 * 1024 * 1024);
  });

  test("fed in runs as the store fills, it answers each run as a full read of the rows so far", async () => {
    await withFilledStore(async (writer, r, history) => {
      const sorted = [...home.events].sort((a, b) => a.ts - b.ts);
      const start = sorted[0].ts;
      let at = 0;
      // A run every 6 hours of the home's time, on the rows stored up to then.
      for (let now = start + DAY / 4; at < sorted.length; now += DAY / 4) {
        const chunk: InsightEvent[] = [];
        while (at < sorted.length && sorted[at].ts <= now) chunk.push(sorted[at++]);
        expect(writer.writeEvents(chunk.map(toStateChange)).rejected).toEqual([]);
        const got = await history.at(now, (f) => f.report(now));
        expectClose(got, energyReport(r, settings, now, meta));
      }
    });
  }, 60_000);

  test("rows stored a few minutes late (a reconnect's backfill) are measured as if they had come in time", async () => {
    await withFilledStore(async (writer, r, history) => {
      const sorted = [...home.events].sort((a, b) => a.ts - b.ts);
      const start = sorted[0].ts;
      const end = start + DAY;
      let at = 0;
      let held: InsightEvent[] = [];
      let refolds = 0;
      // A run every 5 minutes; the rows of 2 minutes before each run's last minute are stored only at the next.
      for (let now = start + 300_000, k = 0; now <= end; now += 300_000, k++) {
        const chunk: InsightEvent[] = [];
        while (at < sorted.length && sorted[at].ts <= now) chunk.push(sorted[at++]);
        const gap = (e: InsightEvent) => e.ts > now - 180_000 && e.ts <= now - 60_000;
        const stored = [...held, ...chunk.filter((e) => !gap(e))];
        held = chunk.filter(gap);
        expect(writer.writeEvents(stored.map(toStateChange)).rejected).toEqual([]);
        const got = await history.at(now, (f) => f.report(now));
        // Compared once the gap's rows are in (the next run): before, a read of the store lacks them too.
        if (k % 24 === 23) expectClose(got, energyReport(r, settings, now, meta));
        refolds = history.stats.entityRebuilds;
      }
      expect(refolds).toBeGreaterThan(10);
    });
  }, 60_000);
});
