/**
 * The whole system as separate processes, the way a user runs it: the simulator (`sim/main.ts`), HomeIQ
 * (`runtime/app/main.ts`) pointed at it, and victoria-metrics standing in for InfluxDB. Used by the e2e load
 * test and the soak. Counts come from HomeIQ's Prometheus endpoint; exactness is judged per entity
 * against the simulator's own record of what it emitted (count and checksum of last_updated).
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { type Child, spawnChild } from "./proc.ts";
import { startVictoriaMetrics, VICTORIA_METRICS, type VictoriaMetrics } from "./victoria-metrics.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
export const API_TOKEN = "bench-token-0123456789abcdef";
const HA_TOKEN = "bench-ha-token";

export interface StackOptions {
  entities: number;
  /** Simulator history bound: at least the number of events the run will emit. */
  historyMax: number;
  influx: boolean;
  /** Extra HOMEIQ_* variables. */
  env?: Record<string, string>;
}

export interface Digest {
  [entityId: string]: { count: number; sum: number };
}

export interface Exactness {
  stored: number;
  lost: number;
  duplicated: number;
  /** Entities whose counts agree but whose timestamps do not (a wrong event stored in place of a right one). */
  mismatched: number;
}

/** The simulator's counters a benchmark reports (`GET /sim/stats`). */
export interface SimStatsSeen {
  sent: number;
  pendingBytesMax: number;
  /** The most messages HA's queue held for HomeIQ (HA drops a client at 4,096). */
  pendingMessagesMax: number;
  /** Times HA's slow-client rules closed HomeIQ's connection. */
  slowClientsDropped: number;
}

export class Stack {
  readonly dataDir = mkdtempSync(join(tmpdir(), "homeiq-stack-"));
  sim?: Child;
  homeiq?: Child;
  vm?: VictoriaMetrics;
  api = "";
  simHttp = "";
  coldStartMs = 0;
  private simPort = 0;

  constructor(readonly opts: StackOptions) {}

  get pid(): number {
    return this.homeiq?.proc.pid ?? 0;
  }

  async start(): Promise<void> {
    if (this.opts.influx && existsSync(VICTORIA_METRICS)) this.vm = await startVictoriaMetrics();
    this.sim = spawnChild(
      [
        "bun",
        join(ROOT, "sim/main.ts"),
        "--port",
        "0",
        "--rate",
        "0",
        "--entities",
        String(this.opts.entities),
        "--token",
        HA_TOKEN,
        "--history-max",
        String(Math.min(100_000_000, Math.max(1000, this.opts.historyMax))),
      ],
      process.env,
    );
    // Ports are picked by the servers themselves (port 0) and read from their first line: a port probed
    // free beforehand can be taken by another process before the server binds it.
    this.simPort = portIn(await this.sim.waitForLine(/simulated Home Assistant at/, 20000));
    this.simHttp = `http://127.0.0.1:${this.simPort}`;
    await this.startHomeIQ();
  }

  /** Starts (or restarts) HomeIQ on the same data dir; resolves when /health answers. */
  async startHomeIQ(): Promise<void> {
    const started = performance.now();
    this.homeiq = spawnChild(["bun", join(ROOT, "runtime/app/main.ts")], {
      ...process.env,
      HOMEIQ_DATA_DIR: this.dataDir,
      HOMEIQ_PORT: "0",
      HOMEIQ_HOST: "127.0.0.1",
      HOMEIQ_API_TOKEN: API_TOKEN,
      HOMEIQ_HA_URL: `ws://127.0.0.1:${this.simPort}/api/websocket`,
      HOMEIQ_HA_TOKEN: HA_TOKEN,
      HOMEIQ_LOG_LEVEL: "warn",
      HOMEIQ_ENRICHERS_WEATHER: "false",
      HOMEIQ_ENRICHERS_AIR_QUALITY: "false",
      HOMEIQ_ENRICHERS_CARBON: "false",
      HOMEIQ_ENRICHERS_PRICES: "false",
      // The benchmark is the only client and polls on purpose; the per-client limit is for the real world.
      HOMEIQ_API_RATE_LIMIT_PER_MINUTE: "10000000",
      ...(this.vm
        ? {
            HOMEIQ_INFLUX_URL: this.vm.url,
            HOMEIQ_INFLUX_TOKEN: "bench",
            HOMEIQ_INFLUX_ORG: "bench",
            HOMEIQ_INFLUX_BUCKET: "bench",
          }
        : {}),
      ...this.opts.env,
    });
    this.api = `http://127.0.0.1:${portIn(await this.homeiq.waitForLine(/HomeIQ dashboard: /, 30000))}`;
    await waitFor(
      async () => {
        try {
          return (await fetch(`${this.api}/health`)).ok;
        } catch {
          return false;
        }
      },
      { timeoutMs: 30000, intervalMs: 5, what: "HomeIQ /health" },
    );
    this.coldStartMs = performance.now() - started;
  }

  /** Sums every sample of a HomeIQ metric (all actors and labels) from /metrics. */
  private async metricsText(): Promise<string> {
    const r = await fetch(`${this.api}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    const text = await r.text();
    if (!r.ok) throw new Error(`GET /metrics answered ${r.status}: ${text.slice(0, 200)}`);
    return text;
  }

  async metric(name: string): Promise<number> {
    const text = await this.metricsText();
    let total = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith(`homeiq_${name}{`) || line.startsWith(`homeiq_${name} `))
        total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return total;
  }

  /** A metric's samples summed per value of one label (e.g. CPU seconds per actor). */
  async metricBy(name: string, label: string): Promise<Record<string, number>> {
    const text = await this.metricsText();
    const out: Record<string, number> = {};
    const pattern = new RegExp(`${label}="([^"]*)"`);
    for (const line of text.split("\n")) {
      if (!line.startsWith(`homeiq_${name}{`)) continue;
      const key = pattern.exec(line)?.[1];
      if (key !== undefined) out[key] = (out[key] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return out;
  }

  async simStats(): Promise<SimStatsSeen> {
    return (await (await fetch(`${this.simHttp}/sim/stats`)).json()) as SimStatsSeen;
  }

  async setRate(perSecond: number): Promise<void> {
    await fetch(`${this.simHttp}/sim/rate?value=${perSecond}`, { method: "POST" });
  }

  /** Waits until HomeIQ has stored at least `n` events (its own counter); false at the deadline. */
  async storedAtLeast(n: number, timeoutMs: number): Promise<boolean> {
    try {
      await waitFor(async () => (await this.metric("events_stored_total")) >= n, {
        timeoutMs,
        intervalMs: 50,
        what: "stored",
      });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Compares events.db with what the simulator emitted, per entity. Call after HomeIQ has stopped (or
   * while it runs: a WAL reader sees a consistent snapshot).
   */
  async exactness(): Promise<Exactness> {
    const emitted = (await (await fetch(`${this.simHttp}/sim/digest`)).json()) as Digest;
    const stored = storeDigest(join(this.dataDir, "events.db"));
    let lost = 0;
    let duplicated = 0;
    let mismatched = 0;
    let rows = 0;
    for (const s of Object.values(stored)) rows += s.count;
    for (const [id, e] of Object.entries(emitted)) {
      const s = stored[id] ?? { count: 0, sum: 0 };
      lost += Math.max(0, e.count - s.count);
      duplicated += Math.max(0, s.count - e.count);
      if (s.count === e.count && s.sum !== e.sum) mismatched++;
    }
    for (const [id, s] of Object.entries(stored)) if (!emitted[id]) duplicated += s.count;
    return { stored: rows, lost, duplicated, mismatched };
  }

  /** Bytes of events.db (with its WAL) per stored event. */
  bytesPerEvent(stored: number): number {
    const path = join(this.dataDir, "events.db");
    const bytes = ["", "-wal"].reduce((n, s) => n + (existsSync(path + s) ? statSync(path + s).size : 0), 0);
    return bytes / Math.max(1, stored);
  }

  async stop(keep = false): Promise<void> {
    await this.homeiq?.stop("SIGTERM", 30000);
    await this.sim?.stop("SIGKILL");
    await this.vm?.destroy();
    if (!keep) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** What events.db holds, per entity: row count and sum of (last_updated_us mod 1e9). */
export function storeDigest(path: string): Digest {
  const db = new Database(path, { readonly: true });
  try {
    const base = (db.query("SELECT value FROM meta WHERE key = 'base_us'").get() as { value: number }).value;
    const rows = db
      .query(
        `SELECT en.entity_id AS id, count(*) AS n, sum(((ev.id >> 16) + ?) % 1000000000) AS s
         FROM events ev JOIN entities en ON en.e = ev.e GROUP BY ev.e`,
      )
      .all(base) as { id: string; n: number; s: number }[];
    return Object.fromEntries(rows.map((r) => [r.id, { count: r.n, sum: r.s }]));
  } finally {
    db.close();
  }
}

/** The port of the first URL in a server's startup line. */
function portIn(line: string): number {
  const port = Number(/:\/\/[^/\s]+:(\d+)/.exec(line)?.[1]);
  if (!port) throw new Error(`no port in "${line}"`);
  return port;
}
