import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config/load.ts";
import { type StateChange, type StoredBatch, storedBatch } from "../../runtime/events/messages.ts";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { MetricsHub } from "../../runtime/kernel/metrics.ts";
import { HUB, Supervisor } from "../../runtime/kernel/supervisor.ts";
import { startReceiver } from "../../test/support/webhook-receiver.ts";
import { EDGES } from "../edges.ts";
import { deliveryId } from "./dispatcher.ts";
import { ACTOR, webhookCall } from "./messages.ts";
import { WebhookStore } from "./store.ts";

const secret = "worker-test-secret-0";
const dir = mkdtempSync(join(tmpdir(), "homeiq-webhooks-worker-"));
const rx = startReceiver({ secret, failFirst: 0 });
const metrics = new MetricsHub();
let supervisor: Supervisor;
let rules: WebhookStore;

const config = loadConfig({
  env: {
    HOMEIQ_DATA_DIR: dir,
    HOMEIQ_LOG_LEVEL: "silent",
    HOMEIQ_METRICS_INTERVAL_MS: "50",
    HOMEIQ_WEBHOOKS_RETRY_MIN_MS: "20",
    HOMEIQ_WEBHOOKS_RETRY_MAX_MS: "40",
  },
});

// Changes happen now (µs): live changes older than webhooks.maxEventAgeMs fire nothing.
let t = Date.now() * 1000;
const ev = (entity_id: string, state: string): StateChange => {
  t += 1000;
  return {
    entity_id,
    state,
    attributes: "{}",
    last_changed: t,
    last_updated: t,
    context_id: null,
    context_parent_id: null,
    context_user_id: null,
  };
};

beforeAll(async () => {
  supervisor = new Supervisor(
    {
      children: [{ name: ACTOR, module: new URL("./worker.ts", import.meta.url).pathname }],
      edges: [{ name: EDGES.batcherToWebhooks, from: HUB, to: ACTOR, capacity: 4, retain: true }],
      maxRestarts: 5,
      periodMs: 30_000,
      backoffMinMs: 10,
      backoffMaxMs: 20,
      startTimeoutMs: 10_000,
      metricsIntervalMs: 50,
      logLevel: "silent",
      config,
    },
    { log: createLogger({ actor: "test", level: "silent" }), metrics, onFatal: () => {} },
  );
  await supervisor.start();
  // The API writes rules on its own connection and asks the actor to reload.
  rules = new WebhookStore(dir);
  rules.putRule({
    id: "door",
    name: "door opened",
    url: rx.url,
    secret,
    enabled: true,
    when: { kind: "state", entity: "binary_sensor.*door", from: "off", to: "on" },
    createdAt: 1,
    updatedAt: 1,
  });
});

afterAll(async () => {
  await supervisor.stop(5000);
  rules.close();
  rx.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("webhook-dispatcher actor", () => {
  test("picks up rules on reload-rules and delivers matches from the batcher edge", async () => {
    expect(await supervisor.call(ACTOR, webhookCall.reloadRules())).toEqual({ rules: 1 });
    const out = supervisor.hubOutbox<StoredBatch>(EDGES.batcherToWebhooks);
    await out.send(storedBatch([ev("binary_sensor.front_door", "off"), ev("light.a", "on")]));
    const opened = ev("binary_sensor.front_door", "on");
    await out.send(storedBatch([opened]));
    await waitFor(() => rx.delivered().length === 1, { timeoutMs: 5000, what: "a delivery" });
    expect(rx.delivered()).toEqual([deliveryId("door", "binary_sensor.front_door", opened.last_updated)]);
    expect(rx.attempts.every((a) => a.verified)).toBe(true);
    await waitFor(() => metrics.counter("webhooks_delivered_total") === 1, { timeoutMs: 2000 });
  });

  test("after a crash, re-sent batches are not delivered twice and pending retries resume with their id", async () => {
    rx.state.failFirst = 3;
    const out = supervisor.hubOutbox<StoredBatch>(EDGES.batcherToWebhooks);
    await out.send(storedBatch([ev("binary_sensor.back_door", "off")]));
    const opened = ev("binary_sensor.back_door", "on");
    await out.send(storedBatch([opened]));
    const id = deliveryId("door", "binary_sensor.back_door", opened.last_updated);
    await waitFor(() => rx.attempts.filter((a) => a.id === id).length >= 1, { timeoutMs: 5000 });
    expect(supervisor.crash(ACTOR, "test crash mid-retry")).toBe(true);
    await waitFor(() => rx.delivered().includes(id), { timeoutMs: 10_000, what: "the retried delivery" });
    const mine = rx.attempts.filter((a) => a.id === id);
    expect(mine.map((a) => a.status)).toEqual([503, 503, 503, 200]);
    expect(rx.delivered()).toHaveLength(2);
  });

  test("answers test-fire, and a malformed call gets a precise error", async () => {
    rx.state.failFirst = 0;
    const result = (await supervisor.call(ACTOR, webhookCall.testFire("door"))) as {
      ok: boolean;
      status: number;
    };
    expect([result.ok, result.status]).toEqual([true, 200]);
    expect(await supervisor.call(ACTOR, webhookCall.testFire("nope"))).toBeNull();
    const error = await supervisor.call(ACTOR, { type: "test-fire" }).then(
      () => "answered",
      (e: Error) => e.message,
    );
    expect(error).toBe(
      'actor "webhook-dispatcher call" rejected message "test-fire": field /ruleId: Expected required property, got nothing',
    );
  });
});
