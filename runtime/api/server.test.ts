import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  change,
  FakeSupervisor,
  MemoryMetadata,
  MemoryStore,
  TEST_TOKEN,
  testConfig,
} from "../../test/support/api.ts";
import { waitFor } from "../kernel/clock.ts";
import { createLogger } from "../kernel/log.ts";
import { MetricsHub, Registry } from "../kernel/metrics.ts";
import { createClient } from "./client.ts";
import { LiveFeed } from "./live.ts";
import { type RunningApi, startApi } from "./server.ts";
import { SseReader } from "./sse.ts";

let api: RunningApi;
let live: LiveFeed;
const store = new MemoryStore();

beforeAll(() => {
  const config = testConfig({
    HOMEIQ_HOST: "127.0.0.1",
    HOMEIQ_PORT: "0",
    HOMEIQ_API_BODY_LIMIT_BYTES: "1024",
  });
  const registry = new Registry({ actor: "hub" });
  live = new LiveFeed({ queueMax: 100, registry });
  store.add([change("sensor.a", "1", 1000), change("light.b", "on", 2000)]);
  api = startApi({
    config,
    supervisor: new FakeSupervisor(),
    metrics: new MetricsHub(),
    store,
    metadata: new MemoryMetadata(10),
    live,
    log: createLogger({ actor: "api", level: "silent" }),
    token: TEST_TOKEN,
    registry,
  });
});
afterAll(() => api.stop());

describe("startApi with the Eden client", () => {
  test("listens on a free port and reports it", () => {
    expect(api.port).toBeGreaterThan(0);
    expect(api.url).toBe(`http://127.0.0.1:${api.port}`);
  });

  test("typed calls return data; the same call without the token is a 401 error value", async () => {
    const client = createClient(api.url, TEST_TOKEN);
    const health = await client.health.get();
    expect(health.data?.status).toBe("ok");
    const devices = await client.api.v1.devices.get({ query: { limit: 3 } });
    expect(devices.data?.items.map((d) => d.id)).toEqual(["d00000", "d00001", "d00002"]);
    expect(devices.data?.total).toBe(10);
    const events = await client.api.v1.events.get({ query: { domain: "light" } });
    expect(events.data?.items.map((e) => e.entity_id)).toEqual(["light.b"]);
    const entity = await client.api.v1.entities({ entity_id: "light.dev_2" }).get();
    expect(entity.data).toMatchObject({ entity_id: "light.dev_2", device_id: "d00002" });
    const anonymous = await createClient(api.url, "not-the-token-123456").api.v1.devices.get({ query: {} });
    // Eden types error statuses from the route schemas (422); the runtime value is the real one.
    expect(anonymous.error?.status as number).toBe(401);
  });

  test("a bad parameter over the network is a 400 error value with field and expected", async () => {
    const client = createClient(api.url, TEST_TOKEN);
    const r = await client.api.v1.events.get({ query: { limit: 0 } });
    expect(r.error?.status as number).toBe(400);
    expect(r.error?.value).toMatchObject({
      field: "query.limit",
      expected: "a whole number between 1 and 1000",
    });
  });

  test("a body over api.bodyLimitBytes is refused with 413 over the network", async () => {
    const r = await fetch(`${api.url}/api/v1/devices`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify("x".repeat(4096)),
    });
    expect(r.status).toBe(413);
  });

  test("the stream delivers live events and a disconnect unsubscribes at once", async () => {
    const abort = new AbortController();
    const r = await fetch(`${api.url}/api/v1/stream?entity=sensor.a`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
      signal: abort.signal,
    });
    const sse = new SseReader(r.body!);
    expect((await sse.next())?.event).toBe("ready");
    live.publish([change("light.b", "off", 3000), change("sensor.a", "5", 4000)]);
    const m = await sse.next();
    expect([m?.event, m?.id, JSON.parse(m!.data).state]).toEqual(["state", "4000", "5"]);
    expect(live.clients).toBe(1);
    abort.abort();
    await waitFor(() => live.clients === 0, { timeoutMs: 3000, what: "the server to drop the subscription" });
  });

  test("the OpenAPI JSON is served without a token", async () => {
    const r = await fetch(`${api.url}/openapi/json`);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { info: { title: string } }).info.title).toBe("HomeIQ API");
  });
});
