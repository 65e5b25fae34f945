import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { answerCall } from "../../../actors/webhook-dispatcher/calls.ts";
import { Dispatcher } from "../../../actors/webhook-dispatcher/dispatcher.ts";
import { checkCall } from "../../../actors/webhook-dispatcher/messages.ts";
import { WebhookStore } from "../../../actors/webhook-dispatcher/store.ts";
import { TargetPolicy } from "../../../actors/webhook-dispatcher/targets.ts";
import { change, testApi } from "../../../test/support/api.ts";
import { startReceiver } from "../../../test/support/webhook-receiver.ts";
import { systemClock, waitFor } from "../../kernel/clock.ts";
import { createLogger } from "../../kernel/log.ts";
import { Registry } from "../../kernel/metrics.ts";

const secret = "api-test-secret-0123";
const dir = mkdtempSync(join(tmpdir(), "homeiq-api-webhooks-"));
const rx = startReceiver({ secret });
const api = testApi({
  env: {
    HOMEIQ_DATA_DIR: dir,
    HOMEIQ_WEBHOOKS_RETRY_MIN_MS: "10",
    HOMEIQ_WEBHOOKS_RETRY_MAX_MS: "20",
    HOMEIQ_WEBHOOKS_MAX_ATTEMPTS: "2",
  },
});
// The "actor": a real Dispatcher on the same webhooks.db, answering the supervisor calls in-process.
const actorStore = new WebhookStore(dir);
const dispatcher = new Dispatcher({
  store: actorStore,
  config: api.deps.config.webhooks,
  clock: systemClock,
  random: () => 0.5,
  fetch: (url, init) => fetch(url, init),
  targets: TargetPolicy.fromConfig(api.deps.config),
  metrics: new Registry(),
  log: createLogger({ actor: "webhook-dispatcher", level: "silent" }),
});
dispatcher.start();
const calls: string[] = [];
const targets = TargetPolicy.fromConfig(api.deps.config);
/** While set, the "actor" is down: calls fail as the supervisor's do for an actor that is restarting. */
let down: false | "restarting" | "silent" | "garbled" = false;
api.deps.supervisor.call = async (_actor: string, body?: unknown): Promise<unknown> => {
  const c = checkCall(body);
  if (!c.ok) throw new Error(c.error);
  calls.push(c.value.type);
  // The supervisor's own words (runtime/kernel/supervisor.ts `call`).
  if (down === "restarting") throw new Error('actor "webhook-dispatcher" is not running (state restarting)');
  if (down === "silent") throw new Error('actor "webhook-dispatcher" did not answer within 5000 ms');
  if (down === "garbled") return { rules: 1 }; // an answer, but not to a rule write
  return answerCall(
    { dispatcher, store: actorStore, targets, maxRules: api.deps.config.webhooks.maxRules },
    body,
  );
};

afterAll(async () => {
  await dispatcher.stop(2000);
  actorStore.close();
  api.close();
  rx.stop();
  rmSync(dir, { recursive: true, force: true });
});

const send = (method: string, path: string, body?: unknown) =>
  api.get(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const json = async (r: Response) => (await r.json()) as Record<string, unknown>;

const valid = {
  name: "front door opened",
  url: rx.url,
  secret,
  when: { kind: "state", entity: "binary_sensor.front_door", from: "off", to: "on" },
};

describe("webhooks API", () => {
  test("needs the token", async () => {
    expect((await api.get("/api/v1/webhooks", { auth: false })).status).toBe(401);
  });

  test("create, read, list, update and delete a rule; the secret is shown only on create", async () => {
    const created = await send("POST", "/api/v1/webhooks", { ...valid, secret: undefined });
    expect(created.status).toBe(201);
    const rule = await json(created);
    expect(rule).toMatchObject({ name: valid.name, url: rx.url, enabled: true, when: valid.when });
    expect(String(rule.secret).length).toBeGreaterThanOrEqual(16);
    const id = String(rule.id);
    expect(calls.at(-1)).toBe("put-rule");
    const read = await json(await api.get(`/api/v1/webhooks/${id}`));
    expect(read.secret).toBeUndefined();
    expect(read.id).toBe(id);
    const patched = await send("PATCH", `/api/v1/webhooks/${id}`, { enabled: false, name: "renamed" });
    expect(patched.status).toBe(200);
    expect(await json(patched)).toMatchObject({ id, enabled: false, name: "renamed", when: valid.when });
    const list = await json(await api.get("/api/v1/webhooks"));
    expect((list.items as { id: string }[]).map((r) => r.id)).toContain(id);
    expect((await send("DELETE", `/api/v1/webhooks/${id}`)).status).toBe(204);
    expect((await api.get(`/api/v1/webhooks/${id}`)).status).toBe(404);
    expect((await send("DELETE", `/api/v1/webhooks/${id}`)).status).toBe(404);
  });

  test("a rule may opt in to snapshot and backfilled changes; rules without sources read back unchanged", async () => {
    const when = { kind: "state", domain: "light", sources: ["live", "snapshot"] };
    const created = await json(await send("POST", "/api/v1/webhooks", { ...valid, when }));
    expect(created.when).toEqual(when);
    const read = await json(await api.get(`/api/v1/webhooks/${created.id}`));
    expect(read.when).toEqual(when);
    const bad = await send("POST", "/api/v1/webhooks", { ...valid, when: { ...when, sources: ["spool"] } });
    expect(bad.status).toBe(400);
    const plain = await json(await send("POST", "/api/v1/webhooks", valid));
    expect(plain.when).toEqual(valid.when);
    expect((await send("DELETE", `/api/v1/webhooks/${created.id}`)).status).toBe(204);
    expect((await send("DELETE", `/api/v1/webhooks/${plain.id}`)).status).toBe(204);
  });

  test("bad rules get a 400 naming the field and the fix, and nothing is saved", async () => {
    const before = (await json(await api.get("/api/v1/webhooks"))).total;
    const cases: [unknown, string, string][] = [
      [{ ...valid, url: "ftp://x/y" }, "body.url", 'scheme "ftp:" is not allowed'],
      [{ ...valid, when: { kind: "state", entity: "Sensor X" } }, "body.when.entity", "has characters"],
      [
        { ...valid, when: { kind: "state", entity: "sensor.t", above: 1, below: 0 } },
        "body.when.above",
        "one threshold",
      ],
      [
        { ...valid, when: { kind: "state", entity: "sensor.t", above: 1, to: "on" } },
        "body.when.from",
        "either a transition",
      ],
      [
        { ...valid, when: { kind: "state", entity: "light.a", domain: "switch" } },
        "body.when.domain",
        "never fire",
      ],
      // Not Home Assistant's host (here the simulator's 127.0.0.1) nor in webhooks.allowHosts.
      [{ ...valid, url: "http://169.254.169.254/latest/" }, "body.url", "is not an allowed webhook target"],
      [{ ...valid, url: "http://0x7f000002:8123/" }, "body.url", 'host "127.0.0.2" is not an allowed'],
      [
        { ...valid, when: { kind: "state", entity: "*?*?*?*?*?*?*?*?*?*?*?*?*?*?zzq" } },
        "body.when.entity",
        "at most 16 wildcards",
      ],
    ];
    for (const [body, field, text] of cases) {
      const r = await send("POST", "/api/v1/webhooks", body);
      const b = await json(r);
      expect([r.status, b.field]).toEqual([400, field]);
      expect(String(b.error)).toContain(text);
    }
    const schemaError = await send("POST", "/api/v1/webhooks", { ...valid, secret: "short" });
    expect(schemaError.status).toBe(400);
    expect((await json(schemaError)).field).toContain("body");
    expect((await json(await api.get("/api/v1/webhooks"))).total).toBe(before);
  });

  test("test-fire sends a signed test delivery and it appears in the rule's delivery log", async () => {
    const id = String((await json(await send("POST", "/api/v1/webhooks", valid))).id);
    const r = await send("POST", `/api/v1/webhooks/${id}/test`);
    const result = await json(r);
    expect([r.status, result.ok, result.status]).toEqual([200, true, 200]);
    expect(rx.attempts.at(-1)).toMatchObject({ id: result.deliveryId, event: "test", verified: true });
    const log = await json(await api.get(`/api/v1/webhooks/${id}/deliveries`));
    expect((log.items as { id: string; status: string }[]).map((d) => [d.id, d.status])).toEqual([
      [String(result.deliveryId), "delivered"],
    ]);
    expect((await send("POST", "/api/v1/webhooks/wh_nope/test")).status).toBe(404);
  });

  test("dead letters are listed and a replay delivers them with the same id", async () => {
    rx.state.failFirst = 1000;
    const created = await json(
      await send("POST", "/api/v1/webhooks", { ...valid, when: { kind: "state", entity: "lock.back" } }),
    );
    dispatcher.onStored([change("lock.back", "unlocked", Date.now())]); // live and fresh: it fires
    await waitFor(
      async () =>
        ((await json(await api.get("/api/v1/webhooks/dead-letters"))).items as unknown[]).length === 1,
      {
        timeoutMs: 5000,
        what: "a dead letter",
      },
    );
    const dead = (
      (await json(await api.get("/api/v1/webhooks/dead-letters"))).items as Record<string, unknown>[]
    )[0];
    expect(dead).toMatchObject({ ruleId: created.id, status: "dead", attempts: 2 });
    expect(String(dead.reason)).toContain("gave up after 2 attempts");
    expect((dead.payload as { entity_id: string }).entity_id).toBe("lock.back");
    rx.state.failFirst = 0;
    const replay = await send("POST", `/api/v1/webhooks/dead-letters/${dead.id}/replay`);
    expect([replay.status, (await json(replay)).status]).toEqual([200, "pending"]);
    await waitFor(() => rx.delivered().includes(String(dead.id)), { timeoutMs: 5000 });
    expect(((await json(await api.get("/api/v1/webhooks/dead-letters"))).items as unknown[]).length).toBe(0);
    expect((await send("POST", `/api/v1/webhooks/dead-letters/${dead.id}/replay`)).status).toBe(404);
  });

  test("the dispatcher saves rule changes: while it restarts they get a precise 503 and nothing is saved", async () => {
    const kept = await json(await send("POST", "/api/v1/webhooks", valid));
    const id = String(kept.id);
    const before = await json(await api.get("/api/v1/webhooks"));
    down = "restarting";
    try {
      const created = await send("POST", "/api/v1/webhooks", { ...valid, name: "while down" });
      expect(created.status).toBe(503);
      const body = await json(created);
      expect(String(body.error)).toContain("not running, so nothing was saved");
      expect(String(body.expected)).toContain("retry");
      expect((await send("PATCH", `/api/v1/webhooks/${id}`, { name: "while down" })).status).toBe(503);
      expect((await send("DELETE", `/api/v1/webhooks/${id}`)).status).toBe(503);
      // Reads do not need the dispatcher; nothing changed.
      expect(await json(await api.get("/api/v1/webhooks"))).toEqual(before);
      down = "silent";
      const late = await json(await send("POST", "/api/v1/webhooks", valid));
      expect(String(late.error)).toContain("did not confirm the change within");
      expect(String(late.expected)).toContain("GET /api/v1/webhooks shows whether it was saved");
      down = "garbled";
      const odd = await send("POST", "/api/v1/webhooks", valid);
      expect(odd.status).toBe(503);
      expect(String((await json(odd)).error)).toContain("no answer to the rule change");
    } finally {
      down = false;
    }
    expect((await send("PATCH", `/api/v1/webhooks/${id}`, { name: "after" })).status).toBe(200);
    expect(actorStore.rule(id)?.name).toBe("after");
    expect((await send("DELETE", `/api/v1/webhooks/${id}`)).status).toBe(204);
    expect(actorStore.rule(id)).toBeUndefined();
  });
});
