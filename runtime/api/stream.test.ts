import { describe, expect, test } from "bun:test";
import { change, testApi } from "../../test/support/api.ts";
import { storedBatch } from "../events/messages.ts";
import { waitFor } from "../kernel/clock.ts";
import { LiveFeed } from "./live.ts";
import { type SseMessage, SseReader } from "./sse.ts";

async function open(api: ReturnType<typeof testApi>, query = "") {
  const r = await api.get(`/api/v1/stream${query}`);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toContain("text/event-stream");
  const sse = new SseReader(r.body!);
  const ready = await sse.next();
  expect(ready?.event).toBe("ready");
  return { sse, ready: JSON.parse(ready!.data) };
}

async function take(sse: SseReader, n: number): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  while (out.length < n) {
    const m = await sse.next();
    if (!m) break;
    if (m.event !== "ping") out.push(m);
  }
  return out;
}

describe("live stream", () => {
  test("sends committed state changes as StoredEvents, in order, with the event time as id", async () => {
    const api = testApi();
    const { sse, ready } = await open(api);
    expect(ready).toEqual({ entityIds: [], domains: [], queueMax: 1000 });
    api.deps.live.publish(
      storedBatch([change("sensor.t", "21.5", 1000, { unit: "°C" }), change("light.k", "on", 2000)]),
    );
    const got = await take(sse, 2);
    expect(got.map((m) => [m.event, m.id])).toEqual([
      ["state", "1000"],
      ["state", "2000"],
    ]);
    expect(JSON.parse(got[0].data)).toEqual({
      entity_id: "sensor.t",
      state: "21.5",
      value: 21.5,
      attributes: { unit: "°C" },
      ts: 1000,
      last_changed: 1000,
      context_id: null,
      context_parent_id: null,
      context_user_id: null,
    });
    await sse.cancel();
  });

  test("filters by entity and by domain", async () => {
    const api = testApi();
    const byDomain = await open(api, "?domain=light,switch");
    const byEntity = await open(api, "?entity=sensor.b");
    api.deps.live.publish([
      change("sensor.a", "1", 1),
      change("light.x", "on", 2),
      change("sensor.b", "2", 3),
      change("switch.y", "off", 4),
    ]);
    const ids = async (s: SseReader, n: number) =>
      (await take(s, n)).map((m) => (JSON.parse(m.data) as { entity_id: string }).entity_id);
    expect(await ids(byDomain.sse, 2)).toEqual(["light.x", "switch.y"]);
    expect(await ids(byEntity.sse, 1)).toEqual(["sensor.b"]);
    await byDomain.sse.cancel();
    await byEntity.sse.cancel();
  });

  test("a client that falls sseQueueMax behind gets one final overflow notice and the stream ends", async () => {
    const api = testApi({ env: { HOMEIQ_API_SSE_QUEUE_MAX: "5" } });
    const slow = await open(api);
    const fast = await open(api);
    const fastSeen: string[] = [];
    // The fast client reads as events come; the slow one reads nothing until the end.
    for (let i = 0; i < 20; i++) {
      api.deps.live.publish([change("sensor.n", String(i), 1000 + i)]);
      fastSeen.push(...(await take(fast.sse, 1)).map((m) => m.id!));
    }
    expect(fastSeen).toEqual(Array.from({ length: 20 }, (_, i) => String(1000 + i)));
    const rest: SseMessage[] = [];
    for (let m = await slow.sse.next(); m; m = await slow.sse.next()) rest.push(m);
    const last = rest[rest.length - 1];
    expect(last.event).toBe("overflow");
    expect(JSON.parse(last.data)).toMatchObject({
      error: "this client fell 5 events behind and was cut off",
    });
    expect(rest.filter((m) => m.event === "state").length).toBeLessThan(20);
    // The slow client is gone, the fast one stays; the cut-off is counted.
    expect(api.deps.live.clients).toBe(1);
    const counter = api.deps.registry.snapshot().counters.find((c) => c.name === "api_sse_overflow_total");
    expect(counter?.value).toBe(1);
    await fast.sse.cancel();
  });

  test("past api.sseMaxClients open streams, one more is a 503 with the reason; a freed slot is reused", async () => {
    const api = testApi({ env: { HOMEIQ_API_SSE_MAX_CLIENTS: "2" } });
    const first = await open(api);
    const second = await open(api);
    const refused = await api.get("/api/v1/stream");
    expect(refused.status).toBe(503);
    expect(refused.headers.get("content-type")).toStartWith("application/json");
    expect(await refused.json()).toMatchObject({
      error: "the live stream already has 2 clients",
      expected: expect.stringContaining("HOMEIQ_API_SSE_MAX_CLIENTS"),
    });
    expect(api.deps.live.clients).toBe(2);
    const snapshot = api.deps.registry.snapshot();
    expect(snapshot.counters.find((c) => c.name === "api_sse_refused_total")?.value).toBe(1);
    expect(
      snapshot.gauges.find((g) => g.name === "api_bound" && g.labels.bound === "sseMaxClients")?.value,
    ).toBe(2);
    await first.sse.cancel();
    api.deps.live.publish([change("sensor.a", "1", 1)]);
    await waitFor(() => api.deps.live.clients === 1, { timeoutMs: 2000, what: "the first stream to close" });
    const third = await open(api);
    expect(api.deps.live.clients).toBe(2);
    await second.sse.cancel();
    await third.sse.cancel();
  });

  test("a cancelled client is unsubscribed by the next event", async () => {
    const api = testApi();
    const { sse } = await open(api);
    expect(api.deps.live.clients).toBe(1);
    await sse.cancel();
    api.deps.live.publish([change("sensor.a", "1", 1)]);
    await waitFor(() => api.deps.live.clients === 0, { timeoutMs: 2000, what: "the subscription to close" });
  });
});

describe("LiveFeed", () => {
  test("queues at most queueMax events per subscription, then ends it with overflow after nothing else", async () => {
    const feed = new LiveFeed({ queueMax: 3 });
    const sub = feed.subscribe({ entityIds: new Set(), domains: new Set() });
    feed.publish([1, 2, 3].map((i) => change("sensor.a", String(i), i)));
    expect(sub.depth).toBe(3);
    feed.publish([change("sensor.a", "4", 4)]);
    expect(sub.depth).toBe(0);
    expect(await sub.next()).toEqual({ type: "overflow", queueMax: 3, lastTs: null });
    expect(await sub.next()).toBeNull();
    expect(feed.clients).toBe(0);
  });

  test("an idle wait ends with an idle item", async () => {
    const feed = new LiveFeed({ queueMax: 3 });
    const sub = feed.subscribe({ entityIds: new Set(), domains: new Set() });
    expect(await sub.next(5)).toEqual({ type: "idle" });
    sub.close();
    expect(await sub.next(5)).toBeNull();
  });
});
