import { afterEach, describe, expect, test } from "bun:test";
import { treaty } from "@elysiajs/eden";
import { Elysia } from "elysia";
import fc from "fast-check";
import { change, FakeSupervisor, TEST_TOKEN, testApi, testConfig } from "../../test/support/api.ts";
import { openInsightsReader } from "../store/insights-reader.ts";
import { errors } from "./errors.ts";
import { insightsPlugin } from "./insights/index.ts";
import { msTimes, parseIsoTime } from "./time-param.ts";

const DEC_1 = Date.UTC(2026, 11, 1);

describe("parseIsoTime", () => {
  test("reads Z, ±hh:mm and ±hhmm offsets, seconds optional, fractions to the millisecond", () => {
    expect(parseIsoTime("2026-12-01T00:00:00Z")).toBe(DEC_1);
    expect(parseIsoTime("2026-12-01T01:00:00+01:00")).toBe(DEC_1);
    expect(parseIsoTime("2026-11-30T19:30-0430")).toBe(DEC_1);
    expect(parseIsoTime("2026-12-01T05:30:00.250+05:30")).toBe(DEC_1 + 250);
    expect(parseIsoTime("2026-12-01T00:00:00.123456789Z")).toBe(DEC_1 + 123);
    // A `+` in a URL query arrives as a space.
    expect(parseIsoTime("2026-12-01T01:00:00 01:00")).toBe(DEC_1);
  });

  test("refuses text that names no instant or no offset", () => {
    for (const bad of [
      "yesterday",
      "1.5",
      "2026-12-01",
      "2026-12-01T00:00:00",
      "2026-02-29T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-12-01T24:00:00Z",
      "2026-12-01T00:00:60Z",
      "2026-12-01T00:00:00+24:00",
      "1969-12-31T23:59:59Z",
      `2026-12-01T00:00:00.${"1".repeat(40)}Z`,
    ])
      expect(parseIsoTime(bad)).toBeNull();
    expect(parseIsoTime("2028-02-29T00:00:00Z")).toBe(Date.UTC(2028, 1, 29));
  });

  test("agrees with Date.parse on every ISO text that toISOString writes, shifted to any offset", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (ms, offsetMin) => {
          const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
          const abs = Math.abs(offsetMin);
          const zone = `${offsetMin < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
          expect(parseIsoTime(`${local}${zone}`)).toBe(ms);
        },
      ),
    );
  });
});

describe("time query parameters", () => {
  const opened: ReturnType<typeof testApi>[] = [];
  afterEach(() => {
    for (const api of opened.splice(0)) api.close();
  });
  const json = async (r: Response) => (await r.json()) as Record<string, unknown>;

  test("events take from/to as epoch ms and as ISO 8601 with Z, offset and fraction, with the same answer", async () => {
    const api = testApi({ store: "sqlite" });
    opened.push(api);
    const t0 = DEC_1;
    api.seed([
      change("sensor.a", "1", t0 - 1),
      change("sensor.a", "2", t0),
      change("sensor.a", "3", t0 + 3_600_000),
    ]);
    const states = async (q: string) =>
      (
        (await json(await api.get(`/api/v1/events?entity_id=sensor.a&${q}`))).items as { state: string }[]
      ).map((e) => e.state);
    expect(await states(`from=${t0}&to=${t0 + 3_600_000}`)).toEqual(["2"]);
    expect(await states("from=2026-12-01T00:00:00Z&to=2026-12-01T01:00:00Z")).toEqual(["2"]);
    expect(await states("from=2026-12-01T01:00:00%2B01:00&to=2026-12-01T01:00:00.000Z")).toEqual(["2"]);
    expect(await states("from=2026-11-30T23:59:59.999Z")).toEqual(["3", "2", "1"]);
    expect(await states("from=2026-12-01T01:00:00+01:00")).toEqual(["3", "2"]);
  });

  test("history, search, trace, enrichment and export read ISO times too", async () => {
    const api = testApi({ store: "sqlite" });
    opened.push(api);
    api.seed([change("sensor.a", "7", DEC_1 + 1000)]);
    const history = await json(
      await api.get(
        "/api/v1/entities/sensor.a/history?from=2026-12-01T00:00:00Z&to=2026-12-01T02:00:00%2B01:00",
      ),
    );
    expect([history.from, history.to]).toEqual([DEC_1, DEC_1 + 3_600_000]);
    const enrichment = await api.get(
      "/api/v1/enrichment/weather/history?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z",
    );
    expect(enrichment.status).toBe(200);
    const exported = await api.get(
      "/api/v1/export?format=ndjson&from=2026-12-01T00:00:00Z&to=2026-12-01T00:00:02Z",
    );
    expect(exported.headers.get("content-disposition")).toContain("homeiq-2026-12-01.ndjson");
    expect(await exported.text()).toContain('"sensor.a"');

    const config = testConfig();
    const reader = openInsightsReader(api.dataDir!, config.insights, () => new Map());
    try {
      const insights = new Elysia()
        .use(errors)
        .use(
          insightsPlugin({ config, supervisor: new FakeSupervisor(), insights: reader }, () => DEC_1 + 5000),
        );
      const get = async (path: string) => json(await insights.handle(new Request(`http://localhost${path}`)));
      const found = await get(
        "/api/v1/insights/search?q=sensor.a&from=2026-12-01T00:00:00Z&to=2026-12-01T00:00:01.001Z",
      );
      expect((found.items as { state: string }[]).map((e) => e.state)).toEqual(["7"]);
      const none = await get("/api/v1/insights/search?q=sensor.a&from=2026-12-01T01:00:02%2B01:00");
      expect(none.items).toEqual([]);
      const trace = await get("/api/v1/insights/trace?entity_id=sensor.a&ts=2026-12-01T00:00:05Z");
      expect(trace.target).toMatchObject({ entity_id: "sensor.a", state: "7", ts: DEC_1 + 1000 });
    } finally {
      reader.close();
    }
  });

  test("a malformed time is a 400 naming the field, the value given and an example of each form", async () => {
    const api = testApi();
    for (const [path, field, given] of [
      ["/api/v1/events?from=yesterday", "query.from", '"yesterday"'],
      ["/api/v1/events?to=2026-02-30T00:00:00Z", "query.to", '"2026-02-30T00:00:00Z"'],
      ["/api/v1/events?from=-5", "query.from", "-5"],
      ["/api/v1/entities/sensor.a/history?from=2026-12-01T00:00:00", "query.from", '"2026-12-01T00:00:00"'],
      ["/api/v1/insights/trace?entity_id=sensor.a&ts=1.5", "query.ts", '"1.5"'],
      ["/api/v1/export?from=noon", "query.from", '"noon"'],
    ] as const) {
      const r = await api.get(path);
      expect(r.status).toBe(400);
      const body = await json(r);
      expect(body.field).toBe(field);
      expect(body.error).toBe(`invalid ${field}: ${given} is not a time`);
      expect(String(body.expected)).toContain("milliseconds since the Unix epoch (e.g. 1796083200000)");
      expect(String(body.expected)).toContain("2026-12-01T00:00:00Z");
      expect(String(body.expected)).toContain("+01:00");
    }
  });

  test("the Eden client passes times as numbers or ISO strings", async () => {
    const api = testApi({ store: "sqlite" });
    opened.push(api);
    api.seed([change("light.x", "on", DEC_1 + 5)]);
    const client = treaty(api.app, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    const byNumber = await client.api.v1.events.get({ query: { from: DEC_1, to: DEC_1 + 10 } });
    const byText = await client.api.v1.events.get({
      query: { from: "2026-12-01T00:00:00Z", to: "2026-12-01T00:00:00.010Z" },
    });
    expect(byNumber.data?.items.map((e) => e.state)).toEqual(["on"]);
    expect(byText.data?.items.map((e) => e.state)).toEqual(["on"]);
  });
});

describe("msTimes", () => {
  test("turns from, to and ts into epoch ms and leaves other keys alone", () => {
    expect(msTimes({ from: "2026-12-01T00:00:00Z", to: 5, ts: undefined, limit: 3, q: "x" })).toEqual({
      from: DEC_1,
      to: 5,
      ts: undefined,
      limit: 3,
      q: "x",
    });
  });
});
