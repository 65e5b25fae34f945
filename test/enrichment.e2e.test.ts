/**
 * HomeIQ as a process (runtime/app/main.ts on its simulated home) with the enrichers pointed at local fixture
 * APIs: HA's location reaches them, their readings land in the store; and with the "internet" down they
 * log each failing source once and keep running. Nothing here leaves 127.0.0.1.
 */

import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../runtime/kernel/clock.ts";
import { startFixtureServer } from "./support/enricher-apis.ts";
import { type Child, spawnChild } from "./support/proc.ts";

const ROOT = join(import.meta.dir, "..");
const SOURCES = ["weather", "air-quality", "carbon", "prices"];

async function startHomeIQ(
  dataDir: string,
  baseUrl: string,
  env: Record<string, string> = {},
): Promise<Child> {
  const child = spawnChild(["bun", "run", join(ROOT, "runtime/app/main.ts")], {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOMEIQ_DATA_DIR: dataDir,
    // Port 0: HomeIQ binds a free port itself (the test talks to it only through its database).
    HOMEIQ_PORT: "0",
    HOMEIQ_HOST: "127.0.0.1",
    HOMEIQ_API_TOKEN: "enrichment-e2e-token-0123456789",
    HOMEIQ_LOG_LEVEL: "info",
    HOMEIQ_SIM_ENTITIES: "20",
    HOMEIQ_SIM_RATE: "5",
    HOMEIQ_ENRICHERS_WEATHER_URL: baseUrl,
    HOMEIQ_ENRICHERS_AIR_QUALITY_URL: baseUrl,
    HOMEIQ_ENRICHERS_CARBON_URL: baseUrl,
    HOMEIQ_ENRICHERS_PRICES_URL: baseUrl,
    ...env,
  });
  await child.waitForLine(/HomeIQ running/, 120_000);
  return child;
}

/** Waits for a condition; on timeout the error carries HomeIQ's last log lines, to see why. */
async function waitOn<T>(
  child: Child,
  check: () => T,
  timeoutMs: number,
  what: string,
): Promise<NonNullable<Awaited<T>>> {
  try {
    return await waitFor(check, { timeoutMs, what });
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; HomeIQ's last lines:\n${child.lines.slice(-30).join("\n")}`,
    );
  }
}

const errorLines = (child: Child, source: string) =>
  child.lines.filter((l) => l.includes(`"actor":"enricher-${source}"`) && l.includes('"level":"error"'));

describe("enrichers in the running HomeIQ", () => {
  const fixture = startFixtureServer();
  const dirs: string[] = [];
  const children: Child[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), "homeiq-enrich-"));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const c of children) await c.stop("SIGTERM", 15_000);
    await fixture.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("HA's location reaches weather and air quality; every source's readings land in the store", async () => {
    const dataDir = tempDir();
    const homeiq = await startHomeIQ(dataDir, fixture.url);
    children.push(homeiq);
    // The simulated home's get_config says Amsterdam.
    const at = (path: string) => {
      const q = fixture.queries.get(path);
      return q ? `${q.get("latitude")},${q.get("longitude")}` : undefined;
    };
    await waitOn(
      homeiq,
      () => at("/v1/forecast") === "52.3731,4.8922",
      60_000,
      "a weather request at HA's location",
    );
    await waitOn(
      homeiq,
      () => at("/v1/air-quality") === "52.3731,4.8922",
      60_000,
      "an air-quality request there",
    );
    // A fresh connection per look, so no snapshot of an older state can linger between looks.
    const query = <R>(sql: string): R[] => {
      const db = new Database(join(dataDir, "events.db"));
      try {
        return db.query(sql).all() as R[];
      } finally {
        db.close();
      }
    };
    const perSource = () =>
      query<{ source: string; n: number }>(
        "SELECT s.source AS source, count(*) AS n FROM readings r JOIN series s ON s.k = r.k GROUP BY s.source",
      );
    await waitOn(
      homeiq,
      () => perSource().length === SOURCES.length,
      60_000,
      "readings of every source",
    ).catch((error) => {
      throw new Error(
        `${error.message}\nstored per source: ${JSON.stringify(perSource())}; requests: ${JSON.stringify([...fixture.hits])}`,
      );
    });
    expect(Object.fromEntries(perSource().map((r) => [r.source, r.n]))).toEqual({
      weather: 5,
      "air-quality": 7,
      carbon: 6,
      prices: 3,
    });
    expect(
      query(
        "SELECT r.ts_ms AS ts, r.value AS value FROM readings r JOIN series s ON s.k = r.k WHERE s.metric = 'temperature_c'",
      ),
    ).toEqual([{ ts: 1_764_000_000_000, value: 7.4 }]);
    // The batcher and the webhook dispatcher took every enrichment message (none failed their schema).
    expect(homeiq.lines.filter((l) => l.includes("rejected"))).toEqual([]);
    expect(await homeiq.stop("SIGTERM", 15_000)).toBe(0);
  }, 240_000);

  test("with the APIs unreachable, each source logs its failure once and HomeIQ keeps running", async () => {
    // Accepts connections and drops them at once: every request fails, and each attempt is counted.
    let attempts = 0;
    const dead = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(socket) {
          attempts++;
          socket.end();
        },
        data() {},
      },
    });
    try {
      const homeiq = await startHomeIQ(tempDir(), `http://127.0.0.1:${dead.port}`, {
        HOMEIQ_ENRICHERS_LATITUDE: "48.2",
        HOMEIQ_ENRICHERS_LONGITUDE: "16.37",
        HOMEIQ_ENRICHERS_RETRY_MIN_MS: "20",
        HOMEIQ_ENRICHERS_RETRY_MAX_MS: "100",
        HOMEIQ_ENRICHERS_BREAKER_THRESHOLD: "3",
        HOMEIQ_ENRICHERS_BREAKER_COOLDOWN_MS: "200",
      });
      children.push(homeiq);
      // Several breaker cycles for each of the four sources.
      await waitOn(homeiq, () => attempts >= 40, 60_000, "40 failed requests");
      expect(homeiq.proc.exitCode).toBeNull();
      for (const source of SOURCES) {
        const lines = errorLines(homeiq, source);
        expect(lines).toHaveLength(1);
        expect(JSON.parse(lines[0])).toMatchObject({ source, reason: "unreachable", consecutiveFailures: 1 });
      }
      expect(homeiq.lines.filter((l) => /crashed|restarting/.test(l))).toEqual([]);
      expect(await homeiq.stop("SIGTERM", 15_000)).toBe(0);
    } finally {
      dead.stop(true);
    }
  }, 240_000);
});
