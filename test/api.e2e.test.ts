/**
 * The API as `npm start` wires it: `bun run runtime/app/main.ts` on the built-in simulator with no token
 * configured, so the token is generated and saved with mode 0600 (its path printed, never the token); the Eden client reads the
 * real readers, and the live stream carries the simulated home's state changes (batcher -> hub -> SSE).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "../runtime/api/client.ts";
import { SseReader } from "../runtime/api/sse.ts";
import { waitFor } from "../runtime/kernel/clock.ts";
import { type Child, spawnChild } from "./support/proc.ts";

const ROOT = new URL("..", import.meta.url).pathname;
let dataDir = "";
let homeiq: Child | undefined;
let base = "";
let line = "";

function env(): Record<string, string | undefined> {
  const { HOMEIQ_API_TOKEN: _unset, ...rest } = process.env;
  return {
    ...rest,
    HOMEIQ_DATA_DIR: dataDir,
    // Port 0: the server binds a free port itself and prints its URL (a port probed free beforehand can be
    // taken by another process before HomeIQ binds it).
    HOMEIQ_PORT: "0",
    HOMEIQ_HOST: "127.0.0.1",
    HOMEIQ_LOG_LEVEL: "warn",
    HOMEIQ_SIM_ENTITIES: "60",
    HOMEIQ_SIM_RATE: "50",
    HOMEIQ_ENRICHERS_WEATHER: "false",
    HOMEIQ_ENRICHERS_AIR_QUALITY: "false",
    HOMEIQ_ENRICHERS_CARBON: "false",
    HOMEIQ_ENRICHERS_PRICES: "false",
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "homeiq-api-e2e-"));
  homeiq = spawnChild(["bun", "run", join(ROOT, "runtime/app/main.ts")], env());
  line = await homeiq.waitForLine(/^HomeIQ dashboard: /, 90_000);
  base = /http:\/\/\S+?(?=\/\s)/.exec(line)?.[0] ?? "";
}, 120_000);

afterAll(async () => {
  await homeiq?.stop("SIGTERM", 15_000);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

describe("API started by runtime/app/main.ts", () => {
  test("prints the dashboard URL and where the new token is, never the token; the token file is 0600", () => {
    const token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
    expect(statSync(join(dataDir, "api-token")).mode & 0o777).toBe(0o600);
    expect(line).toBe(`HomeIQ dashboard: ${base}/  (API token: new, in ${join(dataDir, "api-token")})`);
    expect(homeiq!.lines.filter((l) => l.includes(token))).toEqual([]);
  });

  test("the Eden client reads metadata, stored events and real-time metrics from the running home", async () => {
    const token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
    const api = createClient(base, token);
    const entities = await waitFor(
      async () => {
        const r = await api.api.v1.entities.get({ query: { limit: 10 } });
        return (r.data?.total ?? 0) > 0 ? r.data : null;
      },
      { timeoutMs: 30_000, what: "the registry to reach metadata.db" },
    );
    expect(entities.items.length).toBeGreaterThan(0);
    const events = await waitFor(
      async () => {
        const r = await api.api.v1.events.get({ query: { limit: 5 } });
        return r.data && r.data.items.length === 5 ? r.data : null;
      },
      { timeoutMs: 30_000, what: "stored events" },
    );
    expect(events.nextCursor).not.toBeNull();
    // Actors ship their metrics every metricsIntervalMs, so the totals catch up shortly after the rows.
    const metrics = await waitFor(
      async () => {
        const r = await api.api.v1["real-time-metrics"].get();
        return (r.data?.totals.events_stored_total ?? 0) > 0 ? r.data : null;
      },
      { timeoutMs: 30_000, what: "events_stored_total in real-time metrics" },
    );
    expect(metrics.ha.connected).toBe(true);
    // Each actor's thread reports its own CPU time with the same snapshot (per-thread time is Linux's).
    const batcher = metrics.actors.find((a) => a.name === "batcher");
    if (process.platform === "linux") expect(batcher?.cpuSeconds).toBeGreaterThan(0);
    expect(metrics.process.rssBytes).toBeGreaterThan(20 * 1024 * 1024);
  }, 90_000);

  test("the live stream carries the simulated home's state changes", async () => {
    const token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
    const abort = new AbortController();
    const r = await fetch(`${base}/api/v1/stream`, {
      headers: { authorization: `Bearer ${token}` },
      signal: abort.signal,
    });
    expect(r.status).toBe(200);
    const sse = new SseReader(r.body!);
    expect((await sse.next())?.event).toBe("ready");
    let m = await sse.next();
    while (m && m.event === "ping") m = await sse.next();
    expect(m?.event).toBe("state");
    expect(JSON.parse(m!.data).entity_id).toMatch(/^[a-z_]+\.[a-z0-9_]+$/);
    abort.abort();
  }, 60_000);
});
