/**
 * The dashboard under Home Assistant ingress, in real Chromium: `vite build web`, HomeIQ on its simulator
 * with an ingress listener that trusts 127.0.0.2 (standing in for the Supervisor's 172.30.32.2), and an
 * ingress stand-in (test/support/ingress-proxy.ts) in front of it that connects from 127.0.0.2, strips the
 * `/api/hassio_ingress/<token>` prefix and adds X-Ingress-Path. The browser opens HA's panel page, which
 * frames the add-on, exactly as HA's sidebar does. Direct requests in this file come from 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Frame, Page } from "playwright-core";
import { waitFor } from "../runtime/kernel/clock.ts";
import { launchChromium } from "./support/chromium.ts";
import { type IngressProxy, startIngressProxy } from "./support/ingress-proxy.ts";
import { type Child, spawnChild } from "./support/proc.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const TOKEN = "ingress-e2e-token-0123456789";
const SUPERVISOR = "127.0.0.2";

let dataDir = "";
let homeiq: Child | undefined;
let browser: Browser | undefined;
let proxy: IngressProxy | undefined;
let direct = "";
let ingressPort = 0;
const pageErrors: string[] = [];

async function run(cmd: string[], env: Record<string, string> = {}): Promise<void> {
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const code = await proc.exited;
  if (code !== 0)
    throw new Error(`${cmd.join(" ")} failed (${code}):\n${await new Response(proc.stderr).text()}`);
}

/** A GET from a chosen local address, answered status and body. */
function getFrom(
  url: string,
  from: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress: from, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** A page that records every request it (and its frames) makes. */
async function newPage(): Promise<{ page: Page; requests: string[] }> {
  if (!browser) throw new Error("browser not started");
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("console", (m) => {
    // Chromium asks the origin's /favicon.ico by itself for a page with no icon of its own (the
    // OpenAPI JSON below); that is the browser's request, not one the dashboard makes.
    if (m.type() === "error" && !m.location().url.endsWith("/favicon.ico"))
      pageErrors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
  return { page, requests };
}

function dashboardFrame(page: Page): Frame {
  const frame = page.frames().find((f) => f.url().includes("/api/hassio_ingress/"));
  if (!frame) throw new Error(`no ingress frame among ${page.frames().map((f) => f.url())}`);
  return frame;
}

const receivedOn = async (frame: Frame) =>
  Number((await frame.locator('hiq-stat[data-metric="received"]').getAttribute("value")) ?? "NaN");

/** Requests outside the ingress prefix, bar the HA panel page itself and inline data: URLs. */
function outsidePrefix(requests: string[]): string[] {
  if (!proxy) return requests;
  const { origin, prefix } = proxy;
  return requests.filter(
    (u) => !u.startsWith("data:") && u !== `${origin}/ha-panel` && !u.startsWith(`${origin}${prefix}`),
  );
}

beforeAll(async () => {
  // bun test sets NODE_ENV=test, which would make Vite bundle Lit's development build.
  await run(["bun", join(ROOT, "node_modules/vite/bin/vite.js"), "build", "web", "--logLevel", "warn"], {
    NODE_ENV: "production",
  });
  dataDir = mkdtempSync(join(tmpdir(), "homeiq-ingress-"));
  homeiq = spawnChild(["bun", "run", join(ROOT, "runtime/app/main.ts")], {
    ...process.env,
    HOMEIQ_DATA_DIR: dataDir,
    HOMEIQ_PORT: "0",
    HOMEIQ_HOST: "127.0.0.1",
    HOMEIQ_API_TOKEN: TOKEN,
    HOMEIQ_API_INGRESS_FROM: SUPERVISOR,
    HOMEIQ_API_INGRESS_PORT: "0",
    HOMEIQ_LOG_LEVEL: "info",
    HOMEIQ_SIM_ENTITIES: "120",
    HOMEIQ_SIM_RATE: "100",
    HOMEIQ_ENRICHERS_WEATHER: "false",
    HOMEIQ_ENRICHERS_AIR_QUALITY: "false",
    HOMEIQ_ENRICHERS_CARBON: "false",
    HOMEIQ_ENRICHERS_PRICES: "false",
  });
  const line = await homeiq.waitForLine(/dashboard.*https?:\/\//i, 60_000);
  direct = /https?:\/\/[^\s"',]+/.exec(line)?.[0]?.replace(/\/$/, "") ?? "";
  const ingressLine = await homeiq.waitForLine(/HomeIQ ingress: https?:\/\//, 10_000);
  ingressPort = Number(/:(\d+)\/?\s/.exec(ingressLine)?.[1]);
  expect(ingressPort).toBeGreaterThan(0);
  proxy = startIngressProxy({ target: { host: "127.0.0.1", port: ingressPort }, from: SUPERVISOR });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  proxy?.stop();
  await homeiq?.stop("SIGTERM", 15_000);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

describe("dashboard under Home Assistant ingress", () => {
  test("in HA's panel frame: views load, live events flow over SSE, nothing leaves the prefix, no token stored", async () => {
    const { page, requests } = await newPage();
    await page.goto(`${proxy?.origin}/ha-panel`);
    await page.locator("iframe").waitFor();
    await waitFor(async () => page.frames().some((f) => f.url().includes("/api/hassio_ingress/")), {
      timeoutMs: 10_000,
      what: "the ingress frame",
    });
    const frame = dashboardFrame(page);
    // No token form: HA authenticated the user, the dashboard goes straight to the data.
    await waitFor(async () => (await receivedOn(frame)) > 0, { timeoutMs: 20_000, what: "overview figures" });
    expect(await frame.locator("hiq-token-form").count()).toBe(0);
    expect(await frame.getByRole("button", { name: "Sign out" }).count()).toBe(0);

    // Live events through the proxy (the SSE stream is proxied and streamed, never buffered whole).
    await frame.getByRole("link", { name: "Live events" }).click();
    const live = frame.locator("hiq-live-events");
    await waitFor(async () => Number(await live.getAttribute("data-received")) > 0, {
      timeoutMs: 20_000,
      what: "live events",
    });
    const before = Number(await live.getAttribute("data-received"));
    await waitFor(async () => Number(await live.getAttribute("data-received")) > before, {
      timeoutMs: 20_000,
      what: "more live events",
    });

    // Every other view loads its data.
    await frame.getByRole("link", { name: "Devices & entities" }).click();
    const entity = frame.locator('hiq-entities a[href^="#/entity/"]').first();
    await entity.waitFor({ timeout: 15_000 });
    await entity.click();
    await frame.locator("hiq-history-chart").waitFor({ timeout: 15_000 });
    await frame.getByRole("link", { name: "Webhooks" }).click();
    await frame.getByText("No webhooks yet").waitFor({ timeout: 15_000 });
    await frame.getByRole("link", { name: "Enrichment" }).click();
    await frame
      .locator('hiq-enrichment [data-source="weather"]', { hasText: "HOMEIQ_ENRICHERS_WEATHER" })
      .waitFor({ timeout: 15_000 });
    await frame.getByRole("link", { name: "Insights" }).click();
    await frame
      .locator("hiq-insights")
      .getByText(/events/)
      .first()
      .waitFor({ timeout: 30_000 });
    await frame.getByRole("link", { name: "Suggestions" }).click();
    await frame.getByRole("button", { name: "Mine history now" }).waitFor({ timeout: 15_000 });

    // The browser asked HA's origin for nothing but the panel and the add-on's prefix.
    expect(requests.filter((u) => u.includes("/api/v1/")).length).toBeGreaterThan(5);
    expect(outsidePrefix(requests)).toEqual([]);
    expect(proxy?.escaped).toEqual([]);
    // HA's origin storage (shared with HA's frontend and every add-on panel) holds nothing of HomeIQ's.
    const storage = await frame.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    expect(storage).not.toContain(TOKEN);
    expect(storage).not.toContain("homeiq");
    await page.context().close();
  }, 150_000);

  test("opened without the trailing slash, the server's <base> keeps every URL under the prefix", async () => {
    const { page, requests } = await newPage();
    await page.goto(`${proxy?.origin}${proxy?.prefix}`);
    await waitFor(
      async () =>
        Number((await page.locator('hiq-stat[data-metric="received"]').getAttribute("value")) ?? 0) > 0,
      {
        timeoutMs: 20_000,
        what: "overview figures",
      },
    );
    expect(outsidePrefix(requests)).toEqual([]);
    expect(proxy?.escaped).toEqual([]);
    // The OpenAPI redirect stays under the prefix too.
    const docs = await page.goto(`${proxy?.origin}${proxy?.prefix}/openapi`);
    expect(docs?.url()).toBe(`${proxy?.origin}${proxy?.prefix}/openapi/json`);
    expect(docs?.status()).toBe(200);
    await page.context().close();
  }, 60_000);

  test("direct access is unchanged: no token is a 401 from anyone, and the ingress port answers only the Supervisor", async () => {
    const headers = { "x-ingress-path": proxy?.prefix ?? "", "x-forwarded-for": SUPERVISOR };
    expect((await getFrom(`${direct}/api/v1/devices`, "127.0.0.1")).status).toBe(401);
    // X-Ingress-Path (and X-Forwarded-For) from a peer that is not the Supervisor grant nothing.
    expect((await getFrom(`${direct}/api/v1/devices`, "127.0.0.1", headers)).status).toBe(401);
    // Even the Supervisor's address needs the token on the main port.
    expect((await getFrom(`${direct}/api/v1/devices`, SUPERVISOR, headers)).status).toBe(401);
    expect(
      (await getFrom(`http://127.0.0.1:${ingressPort}/api/v1/devices`, "127.0.0.1", headers)).status,
    ).toBe(403);
    const ok = await getFrom(`${direct}/api/v1/devices`, "127.0.0.1", { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
  }, 30_000);

  test("no console errors on any page", () => {
    expect(pageErrors).toEqual([]);
  });
});
