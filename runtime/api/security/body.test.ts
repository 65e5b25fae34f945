import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteRule, putRule } from "../../../actors/webhook-dispatcher/rule-writes.ts";
import type { Rule } from "../../../actors/webhook-dispatcher/rules.ts";
import { WebhookStore } from "../../../actors/webhook-dispatcher/store.ts";
import { TargetPolicy } from "../../../actors/webhook-dispatcher/targets.ts";
import {
  FakeSupervisor,
  MemoryMetadata,
  MemoryStore,
  TEST_TOKEN,
  testConfig,
} from "../../../test/support/api.ts";
import type { StateChange } from "../../events/messages.ts";
import { createLogger } from "../../kernel/log.ts";
import { MetricsHub, Registry } from "../../kernel/metrics.ts";
import { LiveFeed } from "../live.ts";
import { type RunningApi, startApi } from "../server.ts";

const LIMIT = 4096;
const dir = mkdtempSync(join(tmpdir(), "homeiq-body-"));
const imported: StateChange[] = [];
const supervisor = new FakeSupervisor();
let api: RunningApi;
let owner: WebhookStore;

beforeAll(() => {
  // The webhook dispatcher's part: it saves the rules the API hands it (webhooks.db is its own).
  owner = new WebhookStore(dir);
  const writes = { store: owner, targets: new TargetPolicy(["127.0.0.1"]), maxRules: 10, reload: () => {} };
  supervisor.call = async (_actor, body) => {
    const call = body as { type: string; mode: "create" | "update"; rule: Rule; id: string };
    if (call.type === "put-rule") return putRule(writes, call.mode, call.rule);
    if (call.type === "delete-rule") return deleteRule(writes, call.id);
    return { rules: 1 };
  };
  const config = testConfig({
    HOMEIQ_HOST: "127.0.0.1",
    HOMEIQ_PORT: "0",
    HOMEIQ_DATA_DIR: dir,
    HOMEIQ_API_BODY_LIMIT_BYTES: String(LIMIT),
  });
  const registry = new Registry({ actor: "hub" });
  api = startApi({
    config,
    supervisor,
    metrics: new MetricsHub(),
    store: new MemoryStore(),
    metadata: new MemoryMetadata(1),
    live: new LiveFeed({ queueMax: 10, registry }),
    log: createLogger({ actor: "api", level: "silent" }),
    token: TEST_TOKEN,
    registry,
    ops: {
      backups: {} as never,
      backupDir: dir,
      importCheck: async (ids) => ({ unknown: ids, keysLeft: 1000, minUs: -(2 ** 52), maxUs: 2 ** 52 }),
      importEvents: async (events) => {
        imported.push(...events);
        return { stored: events.length, duplicates: 0, rejected: [] };
      },
      crash: () => false,
    },
  });
});
afterAll(async () => {
  await api.stop();
  owner.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A body sent with `Transfer-Encoding: chunked` (no Content-Length), in 1 KiB pieces. */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + 1024));
      at += 1024;
    },
  });
}

const rule = (padding: number) =>
  `{"name":"door","url":"http://127.0.0.1:8123/api/webhook/door","when":{"kind":"state","entity":"binary_sensor.door"}${" ".repeat(padding)}}`;

const post = (path: string, body: ReadableStream<Uint8Array>, type = "application/json") =>
  fetch(`${api.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_TOKEN}`, "content-type": type },
    body,
  });

const rules = async () =>
  (
    (await (
      await fetch(`${api.url}/api/v1/webhooks`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })
    ).json()) as { total: number }
  ).total;

describe("request body limits over the network", () => {
  test("a chunked JSON body past api.bodyLimitBytes is refused with 413 and nothing is processed", async () => {
    const r = await post("/api/v1/webhooks", chunked(rule(5 * LIMIT)));
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({
      field: "body",
      expected: `at most ${LIMIT} bytes (HOMEIQ_API_BODY_LIMIT_BYTES)`,
    });
    expect(await rules()).toBe(0);
  });

  test("a chunked body within the limit is read and handled as usual", async () => {
    const r = await post("/api/v1/webhooks", chunked(rule(LIMIT / 2)));
    expect(r.status).toBe(201);
    expect(await rules()).toBe(1);
  });

  test("the import route keeps its own, larger cap: a chunked import past api.bodyLimitBytes goes through", async () => {
    const lines = Array.from(
      { length: 200 },
      (_, i) => `sensor,entity_id=sensor.t state="${i}" ${1_700_000_000_000 + i}`,
    ).join("\n");
    expect(lines.length).toBeGreaterThan(2 * LIMIT);
    const r = await post("/api/v1/import?precision=ms", chunked(lines), "text/plain");
    expect(r.status).toBe(200);
    expect(imported).toHaveLength(200);
  });
});
