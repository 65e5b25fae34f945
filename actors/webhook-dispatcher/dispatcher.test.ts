import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { loadConfig } from "../../runtime/config/load.ts";
import type { StateChange } from "../../runtime/events/messages.ts";
import { systemClock, waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { Registry } from "../../runtime/kernel/metrics.ts";
import { openStoreWriter } from "../../runtime/store/writer.ts";
import { startReceiver } from "../../test/support/webhook-receiver.ts";
import { storedSince } from "./catch-up.ts";
import { Dispatcher, deliveryId, type WebhookConfig } from "./dispatcher.ts";
import type { Rule, Trigger } from "./rules.ts";
import { WebhookStore } from "./store.ts";
import { TargetPolicy } from "./targets.ts";
import { verify } from "./verify.ts";

const secret = "receiver-secret-0123";
const dirs: string[] = [];
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const baseConfig = loadConfig({ env: {} }).webhooks;
const config = (over: Partial<WebhookConfig> = {}): WebhookConfig => ({
  ...baseConfig,
  retryMinMs: 20,
  retryMaxMs: 80,
  breakerThreshold: 100,
  ...over,
});

/** Opens a dispatcher on `dir`; `clockOffsetMs` lets a "later" process see time that has passed. */
function open(
  dir: string,
  over: Partial<WebhookConfig> = {},
  clockOffsetMs = 0,
  fetcher: (url: string, init: RequestInit) => Promise<Response> = (url, init) => fetch(url, init),
  catchUp = false,
) {
  const store = new WebhookStore(dir);
  const metrics = new Registry({ actor: "webhook-dispatcher" });
  const dispatcher = new Dispatcher({
    store,
    config: config(over),
    clock: { ...systemClock, now: () => Date.now() + clockOffsetMs },
    random: () => 0.5,
    fetch: fetcher,
    // The receivers listen on 127.0.0.1 (the simulator's host); a test's allowHosts replaces it.
    targets: new TargetPolicy(over.allowHosts ?? ["127.0.0.1"]),
    ...(catchUp ? { catchUp: (fromUs: number, max: number) => storedSince(dir, fromUs, max) } : {}),
    metrics,
    log: createLogger({ actor: "test", level: "silent" }),
  });
  const close = async () => {
    await dispatcher.stop(2000);
    store.close();
  };
  cleanups.push(close);
  return { store, dispatcher, metrics, close, count: (name: string) => metrics.counter(name, "").value };
}

const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "homeiq-webhooks-"));
  dirs.push(d);
  return d;
};

const rule = (id: string, url: string, when: Trigger): Rule => ({
  id,
  name: id,
  url,
  secret,
  enabled: true,
  when,
  createdAt: 1,
  updatedAt: 1,
});

// Changes happen now (in µs, as HA stamps them): live changes older than webhooks.maxEventAgeMs fire nothing.
let t = Date.now() * 1000;
const ev = (entity_id: string, state: string): StateChange => {
  t += 1000;
  return {
    entity_id,
    state,
    attributes: '{"unit_of_measurement":"°C"}',
    last_changed: t,
    last_updated: t,
    context_id: "ctx",
    context_parent_id: null,
    context_user_id: null,
  };
};

describe("Dispatcher delivering to a real receiver", () => {
  test("every matching event is delivered once, signed, although the receiver fails the first 2 attempts", async () => {
    const rx = startReceiver({ secret, failFirst: 2 });
    cleanups.push(() => rx.stop());
    const dir = tempDir();
    const { store, dispatcher, count } = open(dir);
    store.putRule(rule("doors", rx.url, { kind: "state", entity: "binary_sensor.*_door", to: "on" }));
    store.putRule(rule("hot", rx.url, { kind: "state", domain: "sensor", above: 25, hysteresis: 1 }));
    dispatcher.start();
    const batches = [
      [ev("binary_sensor.front_door", "off"), ev("sensor.office", "20"), ev("light.x", "on")],
      [ev("binary_sensor.front_door", "on"), ev("sensor.office", "26"), ev("binary_sensor.back_door", "on")],
      [
        ev("sensor.office", "25.5"),
        ev("sensor.office", "26.5"),
        ev("sensor.office", "24"),
        ev("sensor.office", "27"),
      ],
    ];
    const expected = [
      deliveryId("doors", "binary_sensor.front_door", batches[1][0].last_updated),
      deliveryId("hot", "sensor.office", batches[1][1].last_updated),
      deliveryId("doors", "binary_sensor.back_door", batches[1][2].last_updated),
      deliveryId("hot", "sensor.office", batches[2][3].last_updated),
    ];
    for (const b of batches) dispatcher.onStored(b);
    await waitFor(() => rx.delivered().length === expected.length, {
      timeoutMs: 10_000,
      what: "4 deliveries",
    });
    expect(new Set(rx.delivered())).toEqual(new Set(expected));
    expect(rx.attempts.length).toBe(expected.length * 3);
    expect(rx.attempts.every((a) => a.verified)).toBe(true);
    for (const id of expected) expect(rx.attempts.filter((a) => a.id === id).length).toBe(3);
    const body = JSON.parse(rx.attempts.find((a) => a.id === expected[3])!.body);
    expect(body).toMatchObject({
      id: expected[3],
      event: "threshold_crossed",
      rule: { id: "hot", name: "hot" },
      entity_id: "sensor.office",
      state: "27",
      previous_state: "24",
      value: 27,
      attributes: { unit_of_measurement: "°C" },
    });
    await waitFor(() => count("webhooks_delivered_total") === 4, { timeoutMs: 2000 });
    expect([
      count("webhooks_fired_total"),
      count("webhooks_retried_total"),
      count("webhooks_dead_lettered_total"),
    ]).toEqual([4, 8, 0]);
    expect(store.delivery(expected[0])).toMatchObject({ status: "delivered", attempts: 3, last_status: 200 });
    // A captured request replayed later: the signature is still right, but the timestamp is too old.
    const captured = rx.attempts[0];
    const replayAt = (Number(captured.timestamp) + 301) * 1000;
    expect(
      verify({
        secret,
        body: captured.body,
        timestamp: captured.timestamp,
        signature: captured.signature,
        now: replayAt,
      }),
    ).toEqual({
      ok: false,
      reason: "timestamp outside the 300 s tolerance (replay or clock skew)",
    });
    expect(
      verify({
        secret,
        body: captured.body,
        timestamp: captured.timestamp,
        signature: captured.signature,
        now: replayAt - 2000,
      }).ok,
    ).toBe(true);
  });

  test("a re-sent batch makes no second delivery, before or after a restart", async () => {
    const rx = startReceiver({ secret });
    cleanups.push(() => rx.stop());
    const dir = tempDir();
    const a = open(dir);
    a.store.putRule(rule("all", rx.url, { kind: "state", entity: "light.*" }));
    a.dispatcher.start();
    const batch = [ev("light.a", "on"), ev("light.b", "on")];
    a.dispatcher.onStored(batch);
    a.dispatcher.onStored(batch);
    await waitFor(() => rx.delivered().length === 2, { timeoutMs: 5000 });
    expect([a.count("webhooks_fired_total"), a.count("webhooks_duplicate_batches_total")]).toEqual([2, 1]);
    await a.close();
    const b = open(dir);
    b.dispatcher.start();
    b.dispatcher.onStored(batch);
    b.dispatcher.onStored([ev("light.c", "off")]);
    await waitFor(() => rx.delivered().length === 3, { timeoutMs: 5000 });
    expect([b.count("webhooks_fired_total"), b.count("webhooks_duplicate_batches_total")]).toEqual([1, 1]);
    expect(rx.delivered().length).toBe(3);
  });

  test("a restart mid-retry still delivers, with the same delivery id", async () => {
    const rx = startReceiver({ secret, failFirst: 2 });
    cleanups.push(() => rx.stop());
    const dir = tempDir();
    // The first process retries only after a long delay, so it is stopped with the delivery pending.
    const a = open(dir, { retryMinMs: 60_000, retryMaxMs: 60_000 });
    a.store.putRule(rule("r", rx.url, { kind: "state", entity: "switch.pump" }));
    a.dispatcher.start();
    const e = ev("switch.pump", "on");
    a.dispatcher.onStored([e]);
    await waitFor(() => rx.attempts.length === 1, { timeoutMs: 5000 });
    await waitFor(() => a.store.delivery(deliveryId("r", "switch.pump", e.last_updated))?.attempts === 1, {
      timeoutMs: 2000,
    });
    await a.close();
    // The second process starts a minute later (its clock is ahead), finds the delivery pending and due.
    const b = open(dir, {}, 61_000);
    b.dispatcher.start();
    await waitFor(() => rx.delivered().length === 1, { timeoutMs: 5000 });
    const id = deliveryId("r", "switch.pump", e.last_updated);
    expect(rx.attempts.map((x) => [x.id, x.status])).toEqual([
      [id, 503],
      [id, 503],
      [id, 200],
    ]);
    await waitFor(() => b.store.delivery(id)?.status === "delivered", { timeoutMs: 2000 });
    expect(b.store.delivery(id)?.attempts).toBe(3);
  });

  test("after maxAttempts a delivery is dead-lettered; replay sends it again with the same id", async () => {
    const rx = startReceiver({ secret, failFirst: 3 });
    cleanups.push(() => rx.stop());
    const { store, dispatcher, count } = open(tempDir(), { maxAttempts: 2 });
    store.putRule(rule("r", rx.url, { kind: "state", entity: "lock.front", to: "unlocked" }));
    dispatcher.start();
    const e = ev("lock.front", "unlocked");
    dispatcher.onStored([e]);
    const id = deliveryId("r", "lock.front", e.last_updated);
    await waitFor(() => store.deadLetters(10).length === 1, { timeoutMs: 5000, what: "a dead letter" });
    expect(store.deadLetters(10)[0]).toMatchObject({
      id,
      reason: "HTTP 503; gave up after 2 attempts",
      attempts: 2,
    });
    expect(count("webhooks_dead_lettered_total")).toBe(1);
    rx.state.failFirst = 0;
    expect(dispatcher.replay(id)?.status).toBe("pending");
    expect(dispatcher.replay(id)).toBeUndefined(); // no longer a dead letter
    await waitFor(() => rx.delivered().length === 1, { timeoutMs: 5000 });
    expect(rx.delivered()).toEqual([id]);
    await waitFor(() => store.delivery(id)?.status === "delivered", { timeoutMs: 2000 });
    expect(store.deadLetters(10)).toEqual([]);
  });

  test("a 4xx refusal is dead-lettered at once, without retries", async () => {
    const rx = startReceiver({ secret, failFirst: 5, failStatus: 400 });
    cleanups.push(() => rx.stop());
    const { store, dispatcher, count } = open(tempDir());
    store.putRule(rule("r", rx.url, { kind: "state", entity: "light.x" }));
    dispatcher.start();
    dispatcher.onStored([ev("light.x", "on")]);
    await waitFor(() => store.deadLetters(10).length === 1, { timeoutMs: 5000 });
    expect([rx.attempts.length, count("webhooks_retried_total")]).toEqual([1, 0]);
  });

  test("Retry-After is honoured over a shorter backoff", async () => {
    const rx = startReceiver({ secret, failFirst: 1, failStatus: 429, retryAfter: "1" });
    cleanups.push(() => rx.stop());
    const { store, dispatcher } = open(tempDir());
    store.putRule(rule("r", rx.url, { kind: "state", entity: "light.x" }));
    dispatcher.start();
    dispatcher.onStored([ev("light.x", "on")]);
    await waitFor(() => rx.delivered().length === 1, { timeoutMs: 5000 });
    expect(rx.attempts[1].at - rx.attempts[0].at).toBeGreaterThanOrEqual(950);
  });

  test("no more than concurrencyPerTarget deliveries are in flight to one host", async () => {
    const rx = startReceiver({ secret, holdMs: 30 });
    cleanups.push(() => rx.stop());
    const { store, dispatcher } = open(tempDir(), { concurrencyPerTarget: 2 });
    store.putRule(rule("r", rx.url, { kind: "state", domain: "light" }));
    dispatcher.start();
    dispatcher.onStored(Array.from({ length: 10 }, (_, i) => ev(`light.l${i}`, "on")));
    await waitFor(() => rx.delivered().length === 10, { timeoutMs: 5000 });
    expect(rx.maxConcurrent).toBe(2);
  });

  test("an open circuit breaker holds deliveries until its cooldown ends, then one trial goes first", async () => {
    const rx = startReceiver({ secret, failFirst: 2 });
    cleanups.push(() => rx.stop());
    const { store, dispatcher } = open(tempDir(), {
      breakerThreshold: 2,
      breakerCooldownMs: 400,
      retryMinMs: 1,
      retryMaxMs: 1,
    });
    store.putRule(rule("r", rx.url, { kind: "state", entity: "light.x" }));
    dispatcher.start();
    dispatcher.onStored([ev("light.x", "on")]);
    await waitFor(() => rx.delivered().length === 1, { timeoutMs: 5000 });
    // Two failures opened the breaker; the third attempt waited out the cooldown.
    expect(rx.attempts.length).toBe(3);
    expect(rx.attempts[2].at - rx.attempts[1].at).toBeGreaterThanOrEqual(350);
  });

  test("a test fire sends one signed 'test' delivery and records it in the log", async () => {
    const rx = startReceiver({ secret });
    cleanups.push(() => rx.stop());
    const { store, dispatcher } = open(tempDir());
    store.putRule(rule("r", rx.url, { kind: "state", entity: "light.x" }));
    dispatcher.start();
    const result = await dispatcher.testFire("r");
    expect(result).toMatchObject({ ok: true, status: 200, error: null });
    expect(rx.attempts.map((a) => [a.id, a.event, a.verified])).toEqual([[result!.deliveryId, "test", true]]);
    expect(store.deliveriesOf("r", 10).map((d) => [d.id, d.status])).toEqual([
      [result!.deliveryId, "delivered"],
    ]);
    expect(await dispatcher.testFire("missing")).toBeUndefined();
  });
});

describe("Dispatcher idempotency and bounds", () => {
  const ok = async () => new Response(null, { status: 200 });

  test("re-sending any batches (as a retained edge does after a crash) never adds or changes deliveries", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom("on", "off", "25", "31")), {
            minLength: 1,
            maxLength: 6,
          }),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        fc.array(fc.nat(), { maxLength: 8 }),
        (spec, resends) => {
          const batches = spec.map((b) => b.map(([n, state]) => ev(`sensor.s${n}`, state)));
          const run = (withResends: boolean) => {
            const dir = tempDir();
            const { store, dispatcher } = open(dir, {}, 0, ok);
            store.putRule(
              rule("to_on", "http://127.0.0.1:9/x", { kind: "state", entity: "sensor.*", to: "on" }),
            );
            store.putRule(
              rule("hot", "http://127.0.0.1:9/x", { kind: "state", domain: "sensor", above: 30 }),
            );
            dispatcher.start();
            batches.forEach((b, i) => {
              dispatcher.onStored(b);
              // A re-send repeats an earlier batch, in order after it, as the outbox would.
              if (withResends)
                for (const r of resends)
                  if (r % batches.length <= i) dispatcher.onStored(batches[r % batches.length]);
            });
            const ids = (
              store.db.query("SELECT id FROM deliveries ORDER BY id").all() as { id: string }[]
            ).map((r) => r.id);
            return ids;
          };
          expect(run(true)).toEqual(run(false));
        },
      ),
      { numRuns: 15 },
    );
  });

  test("past webhooks.maxPending a new delivery is dead-lettered, not dropped", async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held = async () => {
      await gate;
      return new Response(null, { status: 200 });
    };
    const { store, dispatcher, count } = open(tempDir(), { maxPending: 2, concurrencyPerTarget: 1 }, 0, held);
    store.putRule(rule("r", "http://127.0.0.1:9/x", { kind: "state", domain: "light" }));
    dispatcher.start();
    dispatcher.onStored([ev("light.a", "on"), ev("light.b", "on"), ev("light.c", "on")]);
    expect(count("webhooks_fired_total")).toBe(3);
    expect(store.deadLetters(10).map((d) => d.reason)).toEqual([
      "pending deliveries reached webhooks.maxPending",
    ]);
    expect(dispatcher.status().pending).toBe(2);
    release();
  });

  test("a target no longer in webhooks.allowHosts is dead-lettered at send time", async () => {
    let calls = 0;
    const counting = async () => {
      calls++;
      return new Response(null, { status: 200 });
    };
    const { store, dispatcher } = open(tempDir(), { allowHosts: ["ha.local"] }, 0, counting);
    store.putRule(rule("r", "http://127.0.0.1:9/x", { kind: "state", entity: "light.a" }));
    dispatcher.start();
    dispatcher.onStored([ev("light.a", "on")]);
    expect(store.deadLetters(10).map((d) => d.reason)).toEqual([
      'host "127.0.0.1" is not an allowed webhook target; webhooks may reach Home Assistant\'s host and webhooks.allowHosts (ha.local). Fix: point the rule at an allowed host, or add the host to HOMEIQ_WEBHOOKS_ALLOW_HOSTS.',
    ]);
    expect(calls).toBe(0);
  });

  test("deleting a rule dead-letters its pending deliveries at once, naming why", async () => {
    const failing = async () => new Response(null, { status: 503 });
    const { store, dispatcher } = open(tempDir(), { retryMinMs: 60_000, retryMaxMs: 60_000 }, 0, failing);
    store.putRule(rule("r", "http://127.0.0.1:9/x", { kind: "state", entity: "light.a" }));
    dispatcher.start();
    dispatcher.onStored([ev("light.a", "on")]);
    await waitFor(() => store.pending()[0]?.attempts === 1, { timeoutMs: 2000 });
    store.deleteRule("r");
    dispatcher.reloadRules();
    expect(store.deadLetters(10).map((d) => d.reason)).toEqual(["its rule was deleted"]);
    expect(store.pending()).toEqual([]);
  });

  test("editing a rule starts its threshold state afresh and prunes the old state", () => {
    const { store, dispatcher } = open(tempDir(), {}, 0, ok);
    const hot = rule("hot", "http://127.0.0.1:9/x", { kind: "state", entity: "sensor.t", above: 25 });
    store.putRule(hot);
    dispatcher.start();
    dispatcher.onStored([ev("sensor.t", "20"), ev("sensor.t", "30")]);
    expect(store.loadState().sides.map(([k, side]) => [k.split("\u0001")[0], side])).toEqual([["hot@1", 2]]);
    store.putRule({ ...hot, updatedAt: 2, when: { kind: "state", entity: "sensor.t", above: 35 } });
    dispatcher.reloadRules();
    expect(store.loadState().sides).toEqual([]);
  });
});

describe("Dispatcher catch-up from events.db", () => {
  test("changes stored but never evaluated before a whole-process crash still fire, once", async () => {
    const rx = startReceiver({ secret });
    cleanups.push(() => rx.stop());
    const dir = tempDir();
    const writer = openStoreWriter(dir, { dictionaryCache: 1000 });
    cleanups.push(() => writer.close());
    const a = open(dir, {}, 0, undefined, true);
    a.store.putRule(rule("to_on", rx.url, { kind: "state", entity: "light.*", from: "off", to: "on" }));
    a.dispatcher.start();
    const first = [ev("light.a", "off"), ev("light.b", "off")];
    writer.writeEvents(first);
    a.dispatcher.onStored(first);
    // The batcher stores two more batches; the process dies before the dispatcher evaluates them.
    const lost = [
      [ev("light.a", "on"), ev("switch.x", "on")],
      [ev("light.b", "on"), ev("light.a", "off")],
    ];
    for (const b of lost) writer.writeEvents(b);
    await a.close();
    const b = open(dir, {}, 0, undefined, true);
    b.dispatcher.start();
    const expected = [lost[0][0], lost[1][0]].map((e) => deliveryId("to_on", e.entity_id, e.last_updated));
    await waitFor(() => rx.delivered().length === 2, { timeoutMs: 5000, what: "caught-up deliveries" });
    expect(new Set(rx.delivered())).toEqual(new Set(expected));
    // Read from the watermark inclusive: the last evaluated change comes back too and is skipped.
    expect([b.count("webhooks_catch_up_events_total"), b.count("webhooks_events_skipped_total")]).toEqual([
      5, 1,
    ]);
    // A retained edge re-sending those batches afterwards adds nothing.
    for (const batch of lost) b.dispatcher.onStored(batch);
    b.dispatcher.onStored(first);
    expect(b.count("webhooks_fired_total")).toBe(2);
    expect(b.store.db.query("SELECT count(*) AS n FROM deliveries").get()).toEqual({ n: 2 });
  });
});

describe("Dispatcher fires for fresh changes only", () => {
  test("snapshot and backfilled changes and an old live one do not fire; a fresh live one does, carrying its time and source", async () => {
    const bodies: Record<string, unknown>[] = [];
    const capture = async (_url: string, init: RequestInit) => {
      bodies.push(JSON.parse(String(init.body)));
      return new Response(null, { status: 200 });
    };
    const { store, dispatcher, metrics } = open(tempDir(), {}, 0, capture);
    const skipped = (reason: string) => metrics.counter("webhooks_fires_skipped_total", "", { reason }).value;
    store.putRule(rule("any", "http://127.0.0.1:9/x", { kind: "state", domain: "light" }));
    store.putRule(
      rule("sync", "http://127.0.0.1:9/x", { kind: "state", entity: "light.a", sources: ["snapshot"] }),
    );
    dispatcher.start();
    const change = (state: string, agoMs: number): StateChange => ({
      ...ev("light.a", state),
      last_changed: (Date.now() - agoMs) * 1000,
      last_updated: (Date.now() - agoMs) * 1000,
    });
    dispatcher.onStored([change("on", 3_600_000)], "snapshot"); // changed an hour ago: only "sync" fires
    dispatcher.onStored([change("off", 600_000)], "backfill");
    dispatcher.onStored([change("on", 120_000)], "live"); // live, but two minutes old
    const fresh = change("off", 0);
    dispatcher.onStored([fresh], "live");
    await waitFor(() => bodies.length === 2, { timeoutMs: 2000, what: "two deliveries" });
    const byRule = (id: string) => bodies.find((b) => (b.rule as { id: string }).id === id);
    expect(byRule("sync")).toMatchObject({ state: "on", source: "snapshot" });
    expect(byRule("any")).toMatchObject({
      state: "off",
      source: "live",
      time: new Date(fresh.last_updated / 1000).toISOString(),
    });
    // source: "any" on the snapshot and backfill, "sync" (snapshot only) on the backfill and both live ones;
    // stale: "any" on the two-minute-old live change.
    expect([skipped("source"), skipped("stale")]).toEqual([5, 1]);
    expect(metrics.gauge("webhooks_max_event_age_ms", "").value).toBe(60_000);
  });
});
