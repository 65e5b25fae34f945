/**
 * The batcher -> webhooks feed: alone over a fake outbox, then with the real batcher under the supervisor
 * and a dispatcher that has stopped taking messages (security review, finding 4).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deepHealth } from "../../runtime/api/health/service.ts";
import { loadConfig } from "../../runtime/config/load.ts";
import {
  type BatcherMessage,
  batcherMessage,
  type StateChange,
  type StoredBatch,
  storedBatch,
} from "../../runtime/events/messages.ts";
import { packEvents, unpackEvents } from "../../runtime/events/packed.ts";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { MetricsHub, Registry } from "../../runtime/kernel/metrics.ts";
import { HUB, Supervisor } from "../../runtime/kernel/supervisor.ts";
import { openStoreReader } from "../../runtime/store/reader.ts";
import { EDGES } from "../edges.ts";
import { WebhookFeed } from "./webhook-feed.ts";

const T0 = Date.UTC(2026, 11, 7, 12) * 1000;
const change = (i: number): StateChange => ({
  entity_id: `sensor.feed_${i % 5}`,
  state: String(i),
  attributes: "{}",
  last_changed: T0 + i * 1000,
  last_updated: T0 + i * 1000,
  context_id: null,
  context_parent_id: null,
  context_user_id: null,
});
const batch = (from: number, n: number) => packEvents(Array.from({ length: n }, (_, k) => change(from + k)));
const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** An outbox with `credit` slots that the test gives back by hand. */
class FakeOutbox {
  credit: number;
  readonly posted: string[][] = [];
  readonly sources: (string | undefined)[] = [];
  private waiting: (() => void)[] = [];
  constructor(credit: number) {
    this.credit = credit;
  }
  trySend(m: StoredBatch): boolean {
    if (this.credit === 0 || this.waiting.length > 0) return false;
    this.credit--;
    this.posted.push(unpackEvents(m.events).map((e) => e.state));
    this.sources.push(m.source);
    return true;
  }
  send(m: StoredBatch): Promise<void> {
    if (this.trySend(m)) return Promise.resolve();
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.credit--;
        this.posted.push(unpackEvents(m.events).map((e) => e.state));
        this.sources.push(m.source);
        resolve();
      }),
    );
  }
  acknowledge(n: number): void {
    this.credit += n;
    while (this.credit > 0 && this.waiting.length > 0) this.waiting.shift()!();
  }
}

function feed(credit: number, backlogMax: number, batchMax: number) {
  const out = new FakeOutbox(credit);
  const r = new Registry();
  const dropped = r.counter("webhooks_feed_dropped_total", "");
  const backlog = r.gauge("webhooks_feed_backlog_events", "");
  return {
    out,
    dropped,
    backlog,
    feed: new WebhookFeed({ out, backlogMax, batchMax, wrap: storedBatch, dropped, backlog }),
  };
}

describe("webhook feed", () => {
  test("passes batches straight through while the dispatcher has credit", () => {
    const { out, feed: f, dropped } = feed(4, 10, 100);
    f.offer(batch(0, 2));
    f.offer(batch(2, 1));
    expect(out.posted).toEqual([["0", "1"], ["2"]]);
    expect(dropped.value).toBe(0);
  });

  test("without credit it returns at once, holds up to the bound, drops the oldest (counted) and sends the rest coalesced, in order", async () => {
    const { out, feed: f, dropped, backlog } = feed(1, 5, 4);
    f.offer(batch(0, 1)); // posted
    f.offer(batch(1, 2)); // taken by the sender loop, which waits for credit
    for (let i = 3; i < 12; i += 3) f.offer(batch(i, 3)); // 3-5, 6-8, 9-11: 9 held, bound 5
    await flush();
    expect(dropped.value).toBe(6); // 3-5 and 6-8, the oldest held
    expect([f.backlogEvents, backlog.value]).toEqual([3, 3]);
    out.acknowledge(1);
    await flush();
    out.acknowledge(1);
    await flush();
    expect(out.posted).toEqual([["0"], ["1", "2"], ["9", "10", "11"]]);
    // Several held batches go out as one message of at most batchMax events.
    for (let i = 12; i < 18; i += 2) f.offer(batch(i, 2)); // 12-13 in the sender loop; 14-17 held
    f.offer(batch(18, 1)); // 5 held: at the bound, nothing dropped
    out.acknowledge(1);
    await flush();
    out.acknowledge(1);
    await flush();
    out.acknowledge(1);
    await flush();
    expect(out.posted.slice(3)).toEqual([["12", "13"], ["14", "15", "16", "17"], ["18"]]);
    expect(dropped.value).toBe(6);
  });

  test("held batches are coalesced only within one source, and each message keeps its source", async () => {
    const { out, feed: f } = feed(1, 100, 100);
    f.offer(batch(0, 1), "live"); // posted
    f.offer(batch(1, 1), "live"); // taken by the sender loop
    f.offer(batch(2, 1), "live");
    f.offer(batch(3, 2), "backfill");
    f.offer(batch(5, 1), "backfill");
    f.offer(batch(6, 1), "live");
    for (let i = 0; i < 5; i++) {
      out.acknowledge(1);
      await flush();
    }
    expect(out.posted).toEqual([["0"], ["1"], ["2"], ["3", "4", "5"], ["6"]]);
    expect(out.sources).toEqual(["live", "live", "live", "backfill", "live"]);
  });

  test("discard counts what is still held as dropped", () => {
    const { feed: f, dropped } = feed(0, 100, 100);
    f.offer(batch(0, 3));
    f.offer(batch(3, 4));
    expect(f.discard()).toBe(4);
    expect(dropped.value).toBe(4);
  });
});

describe("batcher with a stuck webhook dispatcher", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "homeiq-feed-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("events keep being stored while the dispatcher takes no message; what it cannot take is counted", async () => {
    const backlogMax = 500;
    const config = loadConfig({
      env: {
        HOMEIQ_DATA_DIR: dir,
        HOMEIQ_BATCHER_MAX_DELAY_MS: "5",
        HOMEIQ_BATCHER_WEBHOOKS_BACKLOG_EVENTS: String(backlogMax),
      },
    });
    const metrics = new MetricsHub();
    const supervisor = new Supervisor(
      {
        children: [
          // Plays the dispatcher: frozen on the first batch it is handed, forever.
          {
            name: "webhook-dispatcher",
            module: new URL("../../test/support/workers/frozen-worker.ts", import.meta.url).pathname,
          },
          { name: "batcher", module: new URL("./worker.ts", import.meta.url).pathname },
        ],
        edges: [
          { name: "hub->batcher", from: HUB, to: "batcher", capacity: 8, retain: true },
          {
            name: EDGES.batcherToWebhooks,
            from: "batcher",
            to: "webhook-dispatcher",
            capacity: 2,
            retain: true,
          },
        ],
        // No restarts: the dispatcher stays stuck throughout (test/stuck.test.ts covers the restart).
        maxRestarts: 0,
        periodMs: 30000,
        backoffMinMs: 20,
        backoffMaxMs: 200,
        startTimeoutMs: 15000,
        metricsIntervalMs: 50,
        stuckAfterMs: 600_000,
        logLevel: "silent",
        config,
      },
      { log: createLogger({ actor: "supervisor", level: "silent" }), metrics, onFatal: () => {} },
    );
    await supervisor.start();
    try {
      const out = supervisor.hubOutbox<BatcherMessage>("hub->batcher");
      const n = 5000;
      for (let i = 0; i < n; i += 100)
        await out.send(batcherMessage.events("live", unpackEvents(batch(i, 100))));
      await out.drained();
      await waitFor(() => metrics.counter("events_stored_total") === n, {
        timeoutMs: 20000,
        what: "all stored",
      });
      const reader = openStoreReader(dir);
      expect(reader.totals().events).toBe(n);
      reader.close();
      // The dispatcher holds the first batches; at most backlogMax more wait; all else was dropped, counted.
      await waitFor(() => metrics.counter("webhooks_feed_dropped_total") > 0, {
        timeoutMs: 5000,
        what: "drops",
      });
      expect(metrics.gauge("webhooks_feed_backlog_events")).toBeLessThanOrEqual(backlogMax);
      expect(metrics.counter("webhooks_feed_dropped_total")).toBeGreaterThanOrEqual(n - backlogMax - 3 * 800);
      // And it shows: the dispatcher's oldest message has waited past the health bound.
      await waitFor(
        () =>
          deepHealth({ supervisor, metrics, live: { clients: 0 }, stuckAfterMs: 300 }).reasons.some((r) =>
            r.startsWith('actor "webhook-dispatcher": its oldest message has waited'),
          ),
        { timeoutMs: 5000, what: "/health/deep naming the dispatcher" },
      );
      expect(supervisor.status().find((s) => s.name === "batcher")?.mailboxOldestAgeMs).toBe(0);
    } finally {
      supervisor.kill();
    }
  }, 60000);
});
