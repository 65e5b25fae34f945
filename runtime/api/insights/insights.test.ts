import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";
import { energyReport, healthReport } from "../../../actors/insights/analyses.ts";
import { metaFromNames } from "../../../actors/insights/inputs.ts";
import { FakeSupervisor, testConfig } from "../../../test/support/api.ts";
import { PLANTED, syntheticHome } from "../../../test/support/synthetic-home/insights.ts";
import { seedStore } from "../../../test/support/synthetic-home/insights-store.ts";
import { type InsightsReader, openInsightsReader } from "../../store/insights-reader.ts";
import type { MetadataReader } from "../deps.ts";
import { errors } from "../errors.ts";
import { insightsPlugin } from "./index.ts";

const NOW = Date.now() - 1000;
const home = syntheticHome({ seed: 8, days: 2, now: NOW });
const config = testConfig();
const supervisor = new FakeSupervisor();
let dir: string;
let reader: InsightsReader;
let app: { handle(r: Request): Promise<Response> };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "insights-api-"));
  seedStore(dir, home.events);
  reader = openInsightsReader(dir, config.insights, () => home.names);
  // Stands in for the insights actor: the same analyses over the same store.
  supervisor.call = async (actor, body) => {
    expect(actor).toBe("insights");
    const type = (body as { type: string }).type;
    if (type === "health") return healthReport(reader, config.insights, NOW, metaFromNames(home.names));
    if (type === "energy") return energyReport(reader, config.insights, NOW, metaFromNames(home.names));
    const window = (body as { window: "7d" | "30d" }).window;
    return {
      computedAt: NOW,
      ...reader.stats({ from: NOW - 7 * 86400_000, to: NOW, bucketMs: 3600_000, top: 5 }),
      window,
    };
  };
  app = new Elysia().use(errors).use(insightsPlugin({ config, supervisor, insights: reader }, () => NOW));
});
afterAll(() => {
  reader.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.handle(new Request(`http://localhost${path}`));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("GET /api/v1/insights/search", () => {
  test("pages through matches newest first with cursors", async () => {
    const expected = home.events.filter((e) => e.entity_id === "switch.kettle").length;
    let cursor = "";
    let seen = 0;
    for (let i = 0; i < 100; i++) {
      const r = await get(`/api/v1/insights/search?q=kettle&limit=10${cursor ? `&cursor=${cursor}` : ""}`);
      expect(r.status).toBe(200);
      seen += (r.body.items as unknown[]).length;
      if (!r.body.nextCursor) break;
      cursor = r.body.nextCursor as string;
    }
    expect(seen).toBe(expected);
  });

  test("400s name the bad field", async () => {
    for (const [path, field] of [
      ["/api/v1/insights/search", "query.q"],
      ["/api/v1/insights/search?q=", "query.q"],
      ["/api/v1/insights/search?q=a&limit=0", "query.limit"],
      ["/api/v1/insights/search?q=a&from=10&to=5", "query.from"],
      ["/api/v1/insights/search?q=a&cursor=abc", "query.cursor"],
      ["/api/v1/insights/search?q=a&domain=Light!", "query.domain"],
      ["/api/v1/insights/search?q=a&to=yesterday", "query.to"],
      // More than insights.searchTermsMax (8) terms: each would be matched against the state dictionary.
      ["/api/v1/insights/search?q=a%20b%20c%20d%20e%20f%20g%20h%20i", "query.q"],
    ]) {
      const r = await get(path);
      expect([path, r.status, r.body.field]).toEqual([path, 400, field]);
    }
  });
});

describe("GET /api/v1/insights/stats", () => {
  test("answers 1h and 24h from the store and 7d from the actor", async () => {
    const day = await get("/api/v1/insights/stats?window=24h");
    expect(day.status).toBe(200);
    expect(day.body).toMatchObject({ window: "24h", bucketMs: 3600_000 });
    expect((day.body.series as unknown[]).length).toBe(25);
    const week = await get("/api/v1/insights/stats?window=7d");
    expect(week.body.window).toBe("7d");
    expect(week.body.total).toBeGreaterThan(day.body.total as number);
  });
  test("counts hours of the day in Home Assistant's time_zone, as metadata recorded it", async () => {
    const metadata = {
      haConfig: () => ({ time_zone: "Asia/Kolkata" }),
      entities: () => ({ items: [], nextCursor: null, total: 0 }),
    } as unknown as MetadataReader;
    const inKolkata = new Elysia()
      .use(errors)
      .use(insightsPlugin({ config, supervisor, insights: reader, metadata }, () => NOW));
    const res = await inKolkata.handle(new Request("http://localhost/api/v1/insights/stats?window=24h"));
    const body = (await res.json()) as { timeZone: string; hourOfDay: number[] };
    expect(body.timeZone).toBe("Asia/Kolkata");
    // The same events as in UTC, shifted by 5:30 (hourly rows count at their start): the totals agree and
    // the busiest hour moves.
    const utc = (await get("/api/v1/insights/stats?window=24h")).body as { hourOfDay: number[] };
    expect(body.hourOfDay.reduce((a, b) => a + b, 0)).toBe(utc.hourOfDay.reduce((a, b) => a + b, 0));
    expect(body.hourOfDay).not.toEqual(utc.hourOfDay);
  });
  test("the window defaults to 24h", async () => {
    expect((await get("/api/v1/insights/stats")).body.window).toBe("24h");
  });
  test("an unknown window is a 400 naming query.window", async () => {
    const r = await get("/api/v1/insights/stats?window=2h");
    expect([r.status, r.body.field, r.body.expected]).toEqual([
      400,
      "query.window",
      "one of 24h, 1h, 7d, 30d",
    ]);
  });
});

describe("GET /api/v1/insights/trace", () => {
  const fan = PLANTED.chain[4];
  test("by entity and time, then by the event id it reports", async () => {
    const event = home.events.find((e) => e.entity_id === fan)!;
    const r = await get(`/api/v1/insights/trace?entity_id=${fan}&ts=${event.ts}`);
    expect(r.status).toBe(200);
    expect((r.body.causes as { kind: string }[]).map((s) => s.kind)).toEqual([
      "state_change",
      "automation",
      "automation",
    ]);
    const again = await get(`/api/v1/insights/trace/${r.body.id}`);
    expect(again.body.target).toEqual(r.body.target);
  });
  test("bad or unknown references", async () => {
    expect((await get("/api/v1/insights/trace/12x")).body.field).toBe("params.event_id");
    expect((await get("/api/v1/insights/trace/1")).status).toBe(404);
    expect((await get("/api/v1/insights/trace/9999999999999999999")).body.field).toBe("params.event_id");
    expect((await get("/api/v1/insights/search?q=a&cursor=9999999999999999999")).body.field).toBe(
      "query.cursor",
    );
    expect((await get(`/api/v1/insights/trace?entity_id=${fan}`)).body.field).toBe("query.ts");
    expect((await get("/api/v1/insights/trace?entity_id=Fan&ts=1")).body.field).toBe("query.entity_id");
  });
});

describe("GET /api/v1/insights/health and /energy", () => {
  test("health lists the planted faults, filters by status and pages", async () => {
    const all = await get("/api/v1/insights/health");
    expect((all.body.items as { entity_id: string }[]).map((v) => v.entity_id)).toEqual([
      PLANTED.unavailable,
      PLANTED.staleSensor,
      PLANTED.flapping,
      PLANTED.lowBattery,
    ]);
    const stale = await get("/api/v1/insights/health?status=stale");
    expect(stale.body).toMatchObject({ total: 1, nextCursor: null });
    const page = await get("/api/v1/insights/health?limit=3");
    expect(page.body.nextCursor).toBe("3");
    const rest = await get("/api/v1/insights/health?limit=3&cursor=3");
    expect((rest.body.items as unknown[]).length).toBe(1);
    expect((await get("/api/v1/insights/health?status=sick")).body.field).toBe("query.status");
  });
  test("energy ranks the measured devices and bounds the list", async () => {
    const r = await get("/api/v1/insights/energy?limit=2");
    const devices = r.body.devices as { entity_id: string; measurable: boolean }[];
    expect(devices.map((d) => d.entity_id).sort()).toEqual(["climate.bedroom", "switch.kettle"]);
    expect(r.body.totalDevices as number).toBeGreaterThan(2);
  });
  test("a missing insights actor is a 503, not a 500", async () => {
    const down = new FakeSupervisor();
    const other = new Elysia()
      .use(errors)
      .use(insightsPlugin({ config, supervisor: down, insights: reader }, () => NOW));
    const res = await other.handle(new Request("http://localhost/api/v1/insights/health"));
    expect(res.status).toBe(503);
  });
});
