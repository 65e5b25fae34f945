import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config/load.ts";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { MetricsHub } from "../../runtime/kernel/metrics.ts";
import { Supervisor } from "../../runtime/kernel/supervisor.ts";
import { seedStore } from "../../test/support/synthetic-home/habits-store.ts";
import { suggestionsRequest } from "./messages.ts";
import type { SuggestionsReply } from "./worker.ts";

let dir: string;
let supervisor: Supervisor;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "homeiq-suggestions-worker-"));
  const config = loadConfig({
    env: { HOMEIQ_DATA_DIR: dir, HOMEIQ_SUGGESTIONS_START_DELAY_MS: "0", HOMEIQ_LOG_LEVEL: "silent" },
  });
  supervisor = new Supervisor(
    {
      children: [{ name: "suggestions", module: new URL("./worker.ts", import.meta.url).pathname }],
      edges: [],
      maxRestarts: 0,
      periodMs: 30000,
      backoffMinMs: 10,
      backoffMaxMs: 100,
      startTimeoutMs: 10000,
      metricsIntervalMs: 50,
      logLevel: "silent",
      config,
    },
    {
      log: createLogger({ actor: "supervisor", level: "silent" }),
      metrics: new MetricsHub(),
      onFatal: () => {},
    },
  );
  await supervisor.start();
}, 30_000);

afterAll(async () => {
  await supervisor.stop(5000);
  rmSync(dir, { recursive: true, force: true });
});

const call = (body: unknown) => supervisor.call("suggestions", body) as Promise<SuggestionsReply>;

describe("suggestions worker", () => {
  test("runs on its schedule, and with no events.db yet finds nothing without failing", async () => {
    const reply = await waitFor(
      async () => {
        const r = await call(suggestionsRequest.list());
        return r.ok && "lastRun" in r && r.lastRun ? r : null;
      },
      { timeoutMs: 10_000, what: "the first scheduled run" },
    );
    expect(reply.lastRun).toMatchObject({ trigger: "schedule", events: 0, found: 0, error: null });
    expect(reply.suggestions).toEqual([]);
  });

  test("answers a malformed request with the field and the accepted values, and keeps running", async () => {
    expect(await call({ type: "dismiss", id: "nope" })).toEqual({
      ok: false,
      code: "bad_request",
      error: expect.stringContaining('actor "suggestions" rejected message "dismiss": field /id'),
    });
    expect(await call({ type: "mine" })).toMatchObject({ ok: false, code: "bad_request" });
    expect(supervisor.status()[0].state).toBe("running");
  });

  test("mines a month on request and finds the planted habits", async () => {
    const now = Date.now();
    seedStore(dir, {
      start: now - 30 * 86_400_000,
      days: 29,
      entities: 24,
      seed: 7,
      planted: true,
      sensorEveryMin: 30,
    });
    const reply = await call(suggestionsRequest.run());
    if (!reply.ok || !("suggestions" in reply)) throw new Error(`run failed: ${JSON.stringify(reply)}`);
    expect(reply.lastRun).toMatchObject({ trigger: "manual", error: null });
    expect(reply.lastRun!.events).toBeGreaterThan(10_000);
    const kinds = reply.suggestions.map((s) => `${s.kind}:${s.entities[0]}`);
    expect(kinds).toContain("co_occurrence:binary_sensor.front_door");
    expect(kinds).toContain("left_on:light.living_room");
    expect(kinds).toContain("threshold:climate.living_room");
  }, 60_000);
});
