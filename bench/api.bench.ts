/**
 * API latency under ingest. Targets (issue 6): with 1,000 events/s being written and many events stored,
 * p99 `/health` < 2 ms, `/api/v1/devices` (1,000 entities) < 5 ms, a 24-hour `/api/v1/events` page < 10 ms.
 *
 *   bun run bench/api.bench.ts                          (1,000,000 events seeded; ~1 minute)
 *   HOMEIQ_BENCH_QUICK=1 bun run bench/api.bench.ts     (200,000 events, 2 s per route)
 *   BENCH_API_EVENTS=10000000 bun run bench/api.bench.ts (the 10 million; seeding takes minutes)
 *   BENCH_API_DIR=/path bun run bench/api.bench.ts      (seed into /path once, keep it, reuse it next time)
 *   BENCH_API_CONNECTIONS=1 / BENCH_API_SECONDS=10      (load shape; default 4 connections, 5 s per route)
 *
 * The API runs in its own process (this file with --serve) with an ingest worker writing 1,000 events/s
 * through the store writer; autocannon (a well-kept HTTP load generator) drives it from this process.
 * Percentiles are computed from every response's own time (autocannon's histogram keeps whole ms only).
 * A mitata run of the same routes in-process (`app.handle`, no network) follows.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { bench, run, summary } from "mitata";
import { openMetadataReader } from "../actors/metadata/reader.ts";
import { createApp } from "../runtime/api/app.ts";
import { LiveFeed } from "../runtime/api/live.ts";
import { startApi } from "../runtime/api/server.ts";
import { loadConfig } from "../runtime/config/load.ts";
import { createLogger } from "../runtime/kernel/log.ts";
import { MetricsHub, Registry } from "../runtime/kernel/metrics.ts";
import { openStoreReader } from "../runtime/store/index.ts";
import { openStoreWriter } from "../runtime/store/writer.ts";
import { seedMetadata, TEST_TOKEN } from "../test/support/api.ts";
import { API_BENCH_ENTITIES, homeChange } from "../test/support/synthetic-home/api-home.ts";

const QUICK = Boolean(process.env.HOMEIQ_BENCH_QUICK);
const EVENTS = Number(process.env.BENCH_API_EVENTS ?? (QUICK ? 200_000 : 1_000_000));
const SECONDS = Number(process.env.BENCH_API_SECONDS ?? (QUICK ? 2 : 5));
const CONNECTIONS = Number(process.env.BENCH_API_CONNECTIONS ?? 4);
const INGEST_RATE = 1000;
const SPAN_US = 7 * 86_400_000_000;
const DEVICES = API_BENCH_ENTITIES / 4;

function config() {
  return loadConfig({
    env: {
      HOMEIQ_API_TOKEN: TEST_TOKEN,
      HOMEIQ_HOST: "127.0.0.1",
      HOMEIQ_PORT: "0",
      HOMEIQ_LOG_LEVEL: "warn",
      HOMEIQ_API_RATE_LIMIT_PER_MINUTE: "10000000",
    },
  });
}

function deps(dir: string) {
  const c = config();
  const registry = new Registry({ actor: "hub" });
  const supervisor = {
    status: () => [],
    notice: () => undefined,
    call: async () => undefined,
  };
  return {
    config: c,
    supervisor,
    metrics: new MetricsHub(),
    store: openStoreReader(dir),
    metadata: openMetadataReader(dir),
    live: new LiveFeed({ queueMax: c.api.sseQueueMax, registry }),
    log: createLogger({ actor: "api", level: "warn" }),
    token: TEST_TOKEN,
    registry,
  };
}

/** Child process: serve the API over `dir` while a worker ingests 1,000 events/s. */
async function serve(dir: string): Promise<void> {
  const api = startApi(deps(dir));
  const ingest = new Worker(new URL("./api-ingest.ts", import.meta.url).href);
  let written = 0;
  ingest.onmessage = (e: MessageEvent<number>) => {
    written = e.data;
  };
  ingest.postMessage({ dir, rate: INGEST_RATE });
  console.log(`READY ${api.url}`);
  process.on("SIGTERM", () => {
    console.log(`INGESTED ${written}`);
    process.exit(0);
  });
}

function seed(dir: string): number {
  seedMetadata(dir, DEVICES);
  const writer = openStoreWriter(dir, { dictionaryCache: 100_000 });
  const endUs = Date.now() * 1000 - 60_000_000;
  const stepUs = Math.max(1, Math.floor(SPAN_US / EVENTS));
  const startUs = endUs - stepUs * EVENTS;
  const batchSize = 20_000;
  for (let i = 0; i < EVENTS; i += batchSize) {
    const batch = [];
    for (let j = i; j < Math.min(EVENTS, i + batchSize); j++) batch.push(homeChange(j, startUs + j * stepUs));
    writer.writeEvents(batch);
  }
  const stored = writer.rawCount;
  writer.close();
  return stored;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function load(url: string, name: string): Promise<void> {
  const times: number[] = [];
  const instance = autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { authorization: `Bearer ${TEST_TOKEN}` },
  });
  let non2xx = 0;
  instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) times.push(ms);
    else non2xx++;
  });
  const result = await instance;
  times.sort((a, b) => a - b);
  console.log(
    `api ${name}: p50 ${percentile(times, 50).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms ` +
      `(${times.length} requests in ${SECONDS} s, ${CONNECTIONS} connections, ${non2xx} non-2xx; ` +
      `autocannon p50 ${result.latency.p50} ms p99 ${result.latency.p99} ms)`,
  );
}

if (process.argv[2] === "--serve") {
  await serve(process.argv[3]);
} else {
  const kept = process.env.BENCH_API_DIR;
  const dir = kept ?? mkdtempSync(join(tmpdir(), "homeiq-api-bench-"));
  try {
    let started = performance.now();
    if (kept && existsSync(join(kept, "events.db"))) {
      const store = openStoreReader(kept);
      console.log(`reusing ${kept}: ${store.totals().events} events stored, ${API_BENCH_ENTITIES} entities`);
      store.close();
    } else {
      if (kept) mkdirSync(kept, { recursive: true });
      const stored = seed(dir);
      console.log(
        `seeded ${stored} events over 7 days and ${API_BENCH_ENTITIES} entities (${DEVICES} devices) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    const child = Bun.spawn(["bun", "run", import.meta.path, "--serve", dir], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = child.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the API process exited before it was ready: ${out}`);
      out += new TextDecoder().decode(value);
    }
    const base = /READY (\S+)/.exec(out)?.[1];
    if (!base) throw new Error(`unexpected output from the API process: ${out}`);
    const now = Date.now();
    const routes: [string, string][] = [
      ["/health", "/health"],
      ["/api/v1/devices", "/api/v1/devices (100 of 250 devices, 1,000 entities)"],
      ["/api/v1/entities?limit=1000", "/api/v1/entities?limit=1000 (all 1,000 entities)"],
      [`/api/v1/events?from=${now - 86_400_000}&to=${now}`, "/api/v1/events 24-hour page (100 events)"],
    ];
    started = performance.now();
    for (const [path, name] of routes) await load(`${base}${path}`, name);
    child.kill("SIGTERM");
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    const ingested = Number(/INGESTED (\d+)/.exec(rest)?.[1] ?? 0);
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `ingest during the load runs: ${ingested} events in ${seconds.toFixed(1)} s (${Math.round(ingested / seconds)}/s)`,
    );
    await child.exited;

    // The same routes in-process: handler cost without the network or a second process.
    const d = deps(dir);
    const app = createApp(d);
    const req = (path: string) =>
      new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    summary(() => {
      for (const [path, name] of routes)
        bench(`in-process ${name}`, async () => (await app.handle(req(path))).text());
    });
    await run();
    d.store.close();
    d.metadata.close();
  } finally {
    if (!kept) rmSync(dir, { recursive: true, force: true });
  }
}
