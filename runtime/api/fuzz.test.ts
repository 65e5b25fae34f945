import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { change, testApi } from "../../test/support/api.ts";

// One app over a real seeded store, shared by the properties (building it per run would dominate).
const api = testApi({ store: "sqlite", env: { HOMEIQ_API_RATE_LIMIT_PER_MINUTE: "10000000" } });
const t0 = Date.now() - 3_600_000;
api.seed(
  Array.from({ length: 50 }, (_, i) => change(i % 2 ? "sensor.a" : "light.b", String(i), t0 + i * 1000)),
);
afterAll(() => api.close());

const KEYS = [
  "from",
  "to",
  "limit",
  "cursor",
  "entity_id",
  "entity",
  "domain",
  "area",
  "q",
  "resolution",
  "device",
];
const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 10 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom(
    "",
    "0",
    "-1",
    "1e3",
    "NaN",
    "Infinity",
    "sensor.a",
    "light.b,sensor.a",
    "raw",
    "%",
    "null",
    "[]",
  ),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
);
const query = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })), value), { maxLength: 6 })
  .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&"));

const PATHS = [
  "/api/v1/events",
  "/api/v1/devices",
  "/api/v1/entities",
  "/api/v1/entities/sensor.a/history",
  "/api/v1/entities/light.dev_1",
];

async function check(path: string): Promise<void> {
  const r = await api.get(path);
  if (r.status !== 200) {
    expect([400, 404]).toContain(r.status);
    const body = (await r.json()) as Record<string, unknown>;
    expect(typeof body.error).toBe("string");
    if (r.status === 400) {
      expect(typeof body.field).toBe("string");
      expect(typeof body.expected).toBe("string");
    }
  } else await r.arrayBuffer();
}

describe("query parameter fuzzing", () => {
  for (const base of PATHS) {
    test(`${base}: any query gets 200 or a precise 4xx, never a 500`, async () => {
      await fc.assert(
        fc.asyncProperty(query, async (q) => check(`${base}?${q}`)),
        { numRuns: 150 },
      );
    });
  }

  test("any entity id path segment gets 200, 400 or 404, never a 500", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), async (id) => {
        await check(`/api/v1/entities/${encodeURIComponent(id)}`);
        await check(`/api/v1/entities/${encodeURIComponent(id)}/history`);
      }),
      { numRuns: 150 },
    );
  });
});

describe("request body fuzzing", () => {
  // Any JSON a caller can send: nested objects and arrays of hostile scalars, plus rule-shaped objects
  // whose fields are each replaced by something else.
  const scalar = fc.oneof(
    value,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom(
      "http://127.0.0.1:1/x",
      "http://169.254.169.254/",
      "file:///etc/passwd",
      "*a*a*a*a*a*a*b",
    ),
  );
  const json = fc.letrec((tie) => ({
    any: fc.oneof({ depthSize: "small" }, scalar, tie("arr"), tie("obj")),
    arr: fc.array(tie("any"), { maxLength: 4 }),
    obj: fc.dictionary(
      fc.oneof(
        fc.string({ maxLength: 8 }),
        fc.constantFrom(
          "name",
          "url",
          "when",
          "kind",
          "entity",
          "sources",
          "above",
          "below",
          "secret",
          "enabled",
        ),
      ),
      tie("any"),
      { maxKeys: 6 },
    ),
  })).any;
  const ruleLike = fc.record(
    {
      name: scalar,
      url: scalar,
      when: fc.oneof(
        json,
        fc.record(
          { kind: fc.constantFrom("state", "threshold", "health"), entity: scalar },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    json.map((v) => JSON.stringify(v)),
    ruleLike.map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 40 }),
  );

  for (const [method, path] of [
    ["POST", "/api/v1/webhooks"],
    ["PATCH", "/api/v1/webhooks/1"],
    ["POST", "/api/v1/import/history"],
    ["POST", "/api/v1/suggestions/x/accept"],
  ] as const) {
    test(`${method} ${path}: any body gets an answer below 500 (or a 503 for a missing actor), never a crash`, async () => {
      await fc.assert(
        fc.asyncProperty(body, async (text) => {
          const r = await api.get(path, {
            method,
            body: text,
            headers: { "content-type": "application/json" },
          });
          expect(r.status === 503 || r.status < 500).toBe(true);
          await r.arrayBuffer();
        }),
        { numRuns: 150 },
      );
    });
  }
});
