import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config/load.ts";
import { energyReport, healthReport } from "./analyses.ts";
import { metaFromNames } from "./inputs.ts";
import { type InsightsReader, openInsightsReader } from "./queries.ts";
import { seedStore } from "./seed-store.ts";
import { PLANTED, syntheticHome } from "./synthetic-home.ts";

const NOW = Date.now() - 1000;
const home = syntheticHome({ seed: 9, days: 3, now: NOW, extraSensors: 3 });
const settings = loadConfig({ env: {} }).insights;
let dir: string;
let reader: InsightsReader;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "insights-a-"));
  seedStore(dir, home.events);
  reader = openInsightsReader(dir, settings);
});
afterAll(() => {
  reader.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("healthReport over a stored synthetic home (default settings)", () => {
  test("lists exactly the planted faults, worst first, and counts the rest as ok", () => {
    const r = healthReport(reader, settings, NOW, metaFromNames(home.names));
    expect(r.unhealthy.map((v) => [v.status, v.entity_id])).toEqual([
      ["unavailable", PLANTED.unavailable],
      ["stale", PLANTED.staleSensor],
      ["flapping", PLANTED.flapping],
      ["low_battery", PLANTED.lowBattery],
    ]);
    expect(r.unhealthy[2].name).toBe("Hall window");
    expect(r.counts.ok).toBe(r.entities - 4);
  });
});

describe("energyReport over a stored synthetic home (default settings)", () => {
  test("finds the planted steps and calls the silent relay not measurable", () => {
    const r = energyReport(reader, settings, NOW);
    expect(r.homeSensor).toBe(PLANTED.homePower);
    const byId = new Map(r.devices.map((d) => [d.entity_id, d]));
    for (const [entity, watts] of Object.entries(PLANTED.steps))
      expect(Math.abs((byId.get(entity)?.stepW ?? 0) - watts)).toBeLessThan(watts * 0.03 + 5);
    expect(byId.get(PLANTED.silentSwitch)).toMatchObject({ measurable: false, confidence: "none" });
    expect(byId.get(PLANTED.tv.entity)?.sensor).toBe(PLANTED.tv.sensor);
  });
});
