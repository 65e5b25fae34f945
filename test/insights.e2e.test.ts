/**
 * Insights end to end: a data dir seeded with the synthetic home (planted faults, a three-step automation
 * chain), then a real HomeIQ (`runtime/app/main.ts`, simulator on, known token) whose insights actor judges it,
 * the API serving it, and the dashboard's Insights view in headless Chromium showing it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { waitFor } from "../runtime/kernel/clock.ts";
import { launchChromium } from "./support/chromium.ts";
import { type Child, spawnChild } from "./support/proc.ts";
import { PLANTED, syntheticHome } from "./support/synthetic-home/insights.ts";
import { seedStore } from "./support/synthetic-home/insights-store.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const TOKEN = "insights-e2e-token-0123456789";

let dataDir = "";
let homeiq: Child | undefined;
let browser: Browser | undefined;
let base = "";
const home = syntheticHome({ seed: 12, days: 2, now: Date.now() - 5000 });

async function apiGet<T>(path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  const build = Bun.spawn(
    ["bun", join(ROOT, "node_modules/vite/bin/vite.js"), "build", "web", "--logLevel", "warn"],
    {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NODE_ENV: "production" },
    },
  );
  if ((await build.exited) !== 0) throw new Error(await new Response(build.stderr).text());
  dataDir = mkdtempSync(join(tmpdir(), "homeiq-insights-"));
  seedStore(dataDir, home.events);
  homeiq = spawnChild(["bun", "run", join(ROOT, "runtime/app/main.ts")], {
    ...process.env,
    HOMEIQ_DATA_DIR: dataDir,
    // Port 0: HomeIQ binds a free port itself and prints its URL.
    HOMEIQ_PORT: "0",
    HOMEIQ_HOST: "127.0.0.1",
    HOMEIQ_API_TOKEN: TOKEN,
    HOMEIQ_LOG_LEVEL: "warn",
    HOMEIQ_SIM_ENTITIES: "60",
    HOMEIQ_SIM_RATE: "20",
    HOMEIQ_ENRICHERS_WEATHER: "false",
    HOMEIQ_ENRICHERS_AIR_QUALITY: "false",
    HOMEIQ_ENRICHERS_CARBON: "false",
    HOMEIQ_ENRICHERS_PRICES: "false",
  });
  const line = await homeiq.waitForLine(/dashboard.*https?:\/\//i, 60_000);
  base = /https?:\/\/[^\s"',]+/.exec(line)?.[0]?.replace(/\/$/, "") ?? "";
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await homeiq?.stop("SIGTERM", 15_000);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

describe("insights against a real HomeIQ", () => {
  test("the API reports the planted faults and traces the planted chain", async () => {
    const health = await waitFor(
      async () => {
        const h = await apiGet<{ items: { entity_id: string; status: string }[] }>("/api/v1/insights/health");
        return h.items.length >= 4 ? h : null;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "the insights actor's first health verdicts" },
    );
    const planted = health.items.filter(
      (v) => v.entity_id.includes(".") && home.events.some((e) => e.entity_id === v.entity_id),
    );
    expect(planted.map((v) => [v.entity_id, v.status])).toEqual([
      [PLANTED.unavailable, "unavailable"],
      [PLANTED.staleSensor, "stale"],
      [PLANTED.flapping, "flapping"],
      [PLANTED.lowBattery, "low_battery"],
    ]);
    const fan = home.events.find((e) => e.entity_id === PLANTED.chain[4])!;
    const trace = await apiGet<{ causes: { kind: string; automation: string | null }[] }>(
      `/api/v1/insights/trace?entity_id=${fan.entity_id}&ts=${Math.ceil(fan.ts)}`,
    );
    expect(trace.causes.map((s) => s.automation)).toEqual([null, PLANTED.chain[1], PLANTED.chain[3]]);
  }, 90_000);

  test("the Insights view shows health, and a search result traces to its cause", async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 1000 } });
    await context.addInitScript((token) => localStorage.setItem("homeiq.apiToken", token), TOKEN);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/#/insights`);
    const porch = page.locator(`hiq-insights tr[data-status="unavailable"]`, {
      hasText: PLANTED.unavailable,
    });
    await porch.waitFor({ timeout: 30_000 });
    await page.locator("hiq-insights input[type=search]").fill("hall_fan on");
    await page.locator("hiq-insights form button").click();
    const hit = page.locator("hiq-insights .hits button", { hasText: PLANTED.chain[4] }).first();
    await hit.click();
    const trace = page.locator("hiq-insights .trace");
    await trace.waitFor({ timeout: 15_000 });
    expect(await trace.textContent()).toContain(PLANTED.chain[0]);
    expect(await page.locator("hiq-insights .trace li").count()).toBe(3);
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);
});
