/**
 * Follows events.db (insertion order, through the store's export feed: ../store/export-feed.ts) and
 * enrichment readings into InfluxDB through positions persisted in influx.db (./state.ts).
 *
 * Exactly once in effect: a point is identified in Influx by series + timestamp, so re-sending after a
 * crash between write and cursor save overwrites identical points instead of duplicating them. The cursor
 * only moves after the server accepted the batch (or its refused points were dead-lettered).
 *
 * Uses the official client's `WriteApi` as a request sender only (`maxRetries: 0`, `flushInterval: 0`):
 * its own retry buffer keeps failed lines in memory (up to `maxBufferLines`, then drops the oldest),
 * which is exactly the loss HomeIQ avoids; here the store is the buffer and the cursor the retry state.
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { HttpError, InfluxDB, setLogger, type WriteApi } from "@influxdata/influxdb-client";
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { Clock, Random } from "../../runtime/kernel/clock.ts";
import type { Logger } from "../../runtime/kernel/log.ts";
import type { Counter, Gauge, Registry } from "../../runtime/kernel/metrics.ts";
import {
  type ExportFeed,
  type FeedRow,
  openExportFeed,
  type TailPosition,
} from "../../runtime/store/export-feed.ts";
import { eventLine, FieldTypes, readingLine, seriesKey } from "./lines.ts";
import {
  type Breaker,
  closedBreaker,
  isRejection,
  nextAttempt,
  onFailure,
  onSuccess,
  parseRetryAfter,
} from "./logic.ts";
import { type DeadLetter, InfluxState } from "./state.ts";
import { FetchWriteTransport } from "./transport.ts";

export type SendLines = (lines: string[]) => Promise<void>;

/** A write failure with what the policy needs: HTTP status (0 = no response) and Retry-After. */
export class WriteFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs: number | null,
  ) {
    super(message);
  }
}

/** A sender over the official client (line protocol, v2 API, µs precision). */
export function influxSender(config: HomeIQConfig["influx"], clock: Clock, log: Logger): SendLines {
  setLogger({
    error: (message, error) => log.debug(`influxdb-client: ${message}`, { error: String(error ?? "") }),
    warn: (message, error) => log.debug(`influxdb-client: ${message}`, { error: String(error ?? "") }),
  });
  const url = config.url ?? "";
  const client = new InfluxDB({
    url,
    token: config.token,
    timeout: config.timeoutMs,
    transport: new FetchWriteTransport(url, config.token, config.timeoutMs),
  });
  const api: WriteApi = client.getWriteApi(config.org ?? "homeiq", config.bucket ?? "homeiq", "us", {
    batchSize: config.batchSize * 2 + 1,
    flushInterval: 0,
    maxRetries: 0,
    maxBufferLines: config.batchSize * 2 + 1,
    gzipThreshold: 1 << 30,
    writeFailed: () => undefined,
  });
  return async (lines) => {
    api.writeRecords(lines);
    try {
      await api.flush();
    } catch (error) {
      if (error instanceof HttpError) {
        const header = error.headers?.["retry-after"];
        throw new WriteFailure(
          `InfluxDB answered ${error.statusCode}: ${error.body || error.message}`,
          error.statusCode,
          parseRetryAfter(Array.isArray(header) ? header[0] : header, clock.now()),
        );
      }
      throw new WriteFailure(`InfluxDB write failed: ${String((error as Error)?.message ?? error)}`, 0, null);
    }
  };
}

export interface ExporterMetrics {
  exported: Counter;
  deadLetters: Counter;
  failures: Counter;
  lagEvents: Gauge;
  lagSeconds: Gauge;
  breakerOpen: Gauge;
}

export function exporterMetrics(m: Registry): ExporterMetrics {
  return {
    exported: m.counter("events_exported_total", "Points InfluxDB accepted (state changes and readings)"),
    deadLetters: m.counter(
      "influx_dead_letter_total",
      "Points InfluxDB refused (400/422), kept in influx.db",
    ),
    failures: m.counter("influx_write_failures_total", "Write requests that failed and will be retried"),
    lagEvents: m.gauge("influx_lag_events", "Stored events not yet in InfluxDB"),
    lagSeconds: m.gauge("influx_lag_seconds", "Age of the oldest stored event not yet in InfluxDB"),
    breakerOpen: m.gauge("influx_breaker_open", "1 while the circuit breaker holds writes back"),
  };
}

/** influx_lag_events counts at most this many rows (a count is a scan); the lag in seconds is exact. */
const LAG_COUNT_CAP = 1_000_000;

const ATTR_EXCLUDE: ReadonlySet<string> = new Set(["friendly_name", "icon", "entity_picture"]);

export class InfluxExporter {
  private readonly feed: ExportFeed;
  private readonly state: InfluxState;
  private readonly fields: FieldTypes;
  /** Series keys and attribute field texts are built from the store's dictionaries, once per key. */
  private readonly series = new Map<number, string>();
  private readonly attrFields = new Map<number, { measurement: string; text: string }>();
  private meta: Map<string, { device: string | null; area: string | null }> = new Map();
  private metaLoadedAt = -Infinity;
  private breaker: Breaker = closedBreaker();
  private readonly cacheMax: number;

  constructor(
    private readonly opts: {
      dataDir: string;
      config: HomeIQConfig["influx"];
      send: SendLines;
      clock: Clock;
      log: Logger;
      metrics: ExporterMetrics;
      random?: Random;
      /** Entries per dictionary and attribute-field cache (`store.dictionaryCache`). */
      dictionaryCache?: number;
    },
  ) {
    this.cacheMax = opts.dictionaryCache ?? 10_000;
    this.feed = openExportFeed(opts.dataDir, {
      nowUs: opts.clock.now() * 1000,
      dictionaryCache: this.cacheMax,
    });
    this.state = new InfluxState(opts.dataDir);
    this.fields = new FieldTypes(this.state.fieldTypes(), (m, f, t) => this.state.rememberType(m, f, t));
  }

  /** Where the export stands: every row up to it InfluxDB has acknowledged (or dead-lettered). */
  position(): TailPosition {
    return this.state.eventsPosition(this.feed.tailBase);
  }

  /**
   * Writes one batch (events first, then readings). Returns how many journal/readings rows it passed, 0
   * when caught up; throws `WriteFailure` for a failure to retry later (the cursor did not move).
   */
  async step(): Promise<number> {
    const wait = nextAttempt(this.breaker, this.opts.clock.now());
    this.breaker = wait.breaker;
    if (wait.waitMs > 0) throw new WriteFailure("circuit breaker open", 0, wait.waitMs);
    // Up to `influx.inFlight` consecutive batches go out at once (the server works on them in parallel);
    // the cursor still moves in order, and only past batches the server accepted.
    let pos = this.position();
    const batches: { lines: string[]; seqs: number[]; last: TailPosition; rows: number }[] = [];
    for (let i = 0; i < this.opts.config.inFlight; i++) {
      const from = pos;
      const { rows, next } = this.feed.read(from, this.opts.config.batchSize);
      if (rows.length === 0 && next.seq === pos.seq) break;
      if (i === 0) this.refreshMeta();
      const lines: string[] = [];
      const seqs: number[] = [];
      for (const r of rows) {
        if (r.t === null || r.e === null || r.a === null) continue; // expired or moved by a rename
        lines.push(this.lineOf(r));
        seqs.push(r.t);
      }
      pos = next;
      batches.push({ lines, seqs, last: next, rows: rows.length });
      if (rows.length < this.opts.config.batchSize) break;
    }
    if (batches.length > 0) {
      const results = await Promise.allSettled(
        batches.map(async (b) => {
          const dead: DeadLetter[] = [];
          if (b.lines.length > 0) await this.writeIsolating(b.lines, b.seqs, "event", dead);
          return dead;
        }),
      );
      let passed = 0;
      for (let i = 0; i < batches.length; i++) {
        const result = results[i];
        if (result.status === "rejected") throw result.reason; // later batches are re-sent: idempotent
        this.acceptedEvents(batches[i].lines.length, batches[i].last, result.value);
        passed += batches[i].rows;
      }
      return passed;
    }
    const rcursor = this.state.cursor("readings");
    const readings = this.feed.readings(rcursor, this.opts.config.batchSize);
    if (readings.length === 0) return 0;
    await this.writeReadings(
      readings.map((r) => readingLine(r.source, r.metric, r.value, r.ts)),
      readings.map((r) => r.seq),
      readings[readings.length - 1].seq,
    );
    return readings.length;
  }

  /**
   * Updates the lag gauges. Events are counted up to LAG_COUNT_CAP (counting is a scan: call it about once
   * a second, not per batch); seconds are the age of the oldest event not yet exported.
   */
  measureLag(): { events: number; seconds: number } {
    const now = this.opts.clock.now();
    const { events, nextUs } = this.feed.lag(this.position(), LAG_COUNT_CAP);
    const seconds = events > 0 && nextUs !== null ? Math.max(0, (now * 1000 - nextUs) / 1e6) : 0;
    this.opts.metrics.lagEvents.set(events);
    this.opts.metrics.lagSeconds.set(seconds);
    return { events, seconds };
  }

  /** Failure bookkeeping for the loop: how long to wait before the next attempt. */
  failed(error: WriteFailure): number {
    if (error.message === "circuit breaker open") return error.retryAfterMs ?? 0;
    this.opts.metrics.failures.inc();
    const next = onFailure(
      this.breaker,
      this.opts.clock.now(),
      this.opts.config,
      error.retryAfterMs,
      this.opts.random,
    );
    this.breaker = next.breaker;
    this.opts.metrics.breakerOpen.set(this.breaker.status === "open" ? 1 : 0);
    return next.waitMs;
  }

  deadLetters(limit?: number): DeadLetter[] {
    return this.state.deadLetters(limit);
  }

  close(): void {
    this.state.close();
    this.feed.close();
  }

  private async writeReadings(lines: string[], seqs: number[], lastSeq: number): Promise<void> {
    const dead: DeadLetter[] = [];
    if (lines.length > 0) await this.writeIsolating(lines, seqs, "reading", dead);
    this.accepted(lines.length, lastSeq, dead);
  }

  /** The server took a batch (bar its dead letters): close the breaker, move the cursor, count. */
  private accepted(lines: number, lastSeq: number, dead: DeadLetter[]): void {
    this.state.advance("readings", lastSeq, dead);
    this.counted(lines, dead);
  }

  private acceptedEvents(lines: number, last: TailPosition, dead: DeadLetter[]): void {
    this.state.advanceEvents(last, dead);
    this.counted(lines, dead);
  }

  private counted(lines: number, dead: DeadLetter[]): void {
    this.breaker = onSuccess(this.breaker);
    this.opts.metrics.breakerOpen.set(0);
    this.opts.metrics.exported.inc(lines - dead.length);
    if (dead.length > 0) this.opts.metrics.deadLetters.inc(dead.length);
  }

  /**
   * Sends lines; when the server refuses the batch as bad (400/422), halves it until the refused points
   * are alone, dead-letters those with the server's reason and writes the rest. Other failures throw.
   */
  private async writeIsolating(
    lines: string[],
    seqs: number[],
    kind: DeadLetter["kind"],
    dead: DeadLetter[],
  ) {
    try {
      await this.opts.send(lines);
    } catch (error) {
      if (!(error instanceof WriteFailure) || !isRejection(error.status)) throw error;
      if (lines.length === 1) {
        dead.push({
          at_ms: this.opts.clock.now(),
          seq: seqs[0],
          kind,
          line: lines[0],
          status: error.status,
          reason: error.message,
        });
        this.opts.log.warn("InfluxDB refused a point; dead-lettered in influx.db", {
          status: error.status,
          reason: error.message,
          line: lines[0].slice(0, 300),
        });
        return;
      }
      const mid = lines.length >> 1;
      await this.writeIsolating(lines.slice(0, mid), seqs.slice(0, mid), kind, dead);
      await this.writeIsolating(lines.slice(mid), seqs.slice(mid), kind, dead);
    }
  }

  private lineOf(r: FeedRow): string {
    const e = r.e as number;
    let series = this.series.get(e);
    if (series === undefined) {
      const stable = this.feed.stableId(e) ?? `unknown.e${e}`;
      series = seriesKey(stable, this.meta.get(stable) ?? {});
      this.series.set(e, series);
    }
    const measurement = series.slice(0, series.indexOf(","));
    const stateText = r.v === null && r.s !== null ? this.feed.stateText(r.s) : null;
    return eventLine(series, r.v, stateText, this.attrs(r.a as number, measurement), r.t as number);
  }

  private attrs(a: number, measurement: string): string {
    const cached = this.attrFields.get(a);
    if (cached && cached.measurement === measurement) return cached.text;
    const json = this.feed.attrText(a);
    const text = this.fields.attributes(measurement, json, ATTR_EXCLUDE);
    if (this.attrFields.size >= this.cacheMax) this.attrFields.clear();
    this.attrFields.set(a, { measurement, text });
    return text;
  }

  /** Device and area names per entity from metadata.db (read-only, optional), refreshed every minute. */
  private refreshMeta(): void {
    const now = this.opts.clock.now();
    if (now - this.metaLoadedAt < 60_000) return;
    this.metaLoadedAt = now;
    const path = join(this.opts.dataDir, "metadata.db");
    let db: Database | undefined;
    try {
      db = new Database(path, { readonly: true });
      const rows = db
        .query(
          `SELECT en.entity_id AS id, d.name AS device, coalesce(a1.name, a2.name) AS area
           FROM entities en LEFT JOIN devices d ON d.id = en.device_id
           LEFT JOIN areas a1 ON a1.area_id = en.area_id LEFT JOIN areas a2 ON a2.area_id = d.area_id`,
        )
        .all() as { id: string; device: string | null; area: string | null }[];
      const next = new Map(rows.map((r) => [r.id, { device: r.device, area: r.area }]));
      // Tags are part of a series' identity: an entity's series key is built once per process (cached in
      // `series`), so a device renamed later does not split the series until the next restart.
      this.meta = next;
    } catch {
      // metadata.db absent or not migrated yet: tags are entity_id and domain only.
    } finally {
      db?.close();
    }
  }
}
