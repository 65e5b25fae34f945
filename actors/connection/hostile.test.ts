/**
 * Hostile Home Assistant frames (a rogue HA, or a MITM on plain ws://): random, mutated and deeply nested
 * frames never throw out of the parsers or the session, and never leave the session stalled — after them
 * a fresh change still arrives, on the same socket or after a resync.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { loadConfig } from "../../runtime/config/load.ts";
import type { StateChange } from "../../runtime/events/messages.ts";
import { systemClock, waitFor } from "../../runtime/kernel/clock.ts";
import { EntityStates } from "./entities.ts";
import { FakeHA } from "./fake-ha.ts";
import { historyToChanges, parseFrame, scanMessages, stateToChange } from "./frames.ts";
import { HASession } from "./session.ts";

const T = 1_764_080_292.123456;

/** Frames shaped like HA's, to mutate. */
const REAL_FRAMES = [
  '{"id":5,"type":"result","success":true,"result":null}',
  `[{"type":"event","event":{"c":{"sensor.a":{"+":{"s":"2","lu":${T},"a":{"x":1}}}}},"id":5}]`,
  `{"id":5,"type":"event","event":{"a":{"sensor.b":{"s":"1","a":{"k":[1,{"z":null}]},"c":"01C","lc":${T}}}}}`,
  `{"type":"event","event":{"c":{"sensor.a":{"-":{"a":["x"]},"+":{"lc":${T}}}}},"id":5}`,
  '{"id":5,"type":"result","success":false,"error":{"code":"unknown_error","message":"Invalid JSON"}}',
  '{"id":2,"type":"event","event":{"event_type":"entity_registry_updated","data":{"action":"update","entity_id":"sensor.a","changes":{"entity_id":"sensor.old"}}}}',
  `{"id":99,"type":"result","success":true,"result":{"sensor.a":[{"s":null,"lu":${T}},{"s":"1","lu":${T}}]}}`,
];

const nested = (depth: number, open: string, close: string, inner: string) =>
  `${open.repeat(depth)}${inner}${close.repeat(depth)}`;

/** Random text, JSON of any shape, HA frames with characters changed or cut, and very deep nesting. */
const hostileFrame: fc.Arbitrary<string> = fc.oneof(
  { weight: 20, arbitrary: fc.string({ maxLength: 200 }) },
  fc.anything().map((v) => JSON.stringify(v) ?? "null"),
  fc
    .record({
      type: fc.constantFrom("event", "result", "pong", "auth_ok", "x"),
      id: fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 6), fc.anything()),
      event: fc.anything(),
      success: fc.anything(),
      result: fc.anything(),
    })
    .map((m) => JSON.stringify(m)),
  fc
    .tuple(
      fc.constantFrom(...REAL_FRAMES),
      fc.array(fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 1 })), { maxLength: 4 }),
      fc.nat(),
    )
    .map(([frame, edits, cut]) => {
      let f = frame;
      for (const [at, ch] of edits) {
        const i = at % (f.length + 1);
        f = f.slice(0, i) + ch + f.slice(i + 1);
      }
      return cut % 3 === 0 ? f.slice(0, cut % (f.length + 1)) : f;
    }),
  fc.constantFrom(...REAL_FRAMES),
  // Rare: each costs JSC ~0.1 s to parse.
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      nested(200_000, "[", "]", "1"),
      `{"id":5,"type":"event","event":{"a":{"sensor.deep":{"s":"1","lc":${T},"a":{"d":${nested(200_000, "[", "]", "0")}}}}}}`,
      `{"type":"event","event":{"c":{"sensor.a":{"+":{"a":{"d":${nested(50_000, '{"v":', "}", "0")}}}}}},"id":5}`,
    ),
  },
);

describe("HA frame parsing under hostile input", () => {
  test("parseFrame, scanMessages and the record converters never throw", () => {
    const entities = new EntityStates();
    fc.assert(
      fc.property(hostileFrame, fc.anything(), (frame, value) => {
        const parsed = parseFrame(frame, 1 << 20);
        scanMessages(frame);
        stateToChange(value, "fuzz");
        historyToChanges(value);
        historyToChanges({ "sensor.a": [value] });
        const out: StateChange[] = [];
        const report = { reject: () => {}, skipped: () => {} };
        entities.apply(value, out, report);
        if (parsed.ok) for (const m of parsed.messages) entities.apply(m.event, out, report);
      }),
      { numRuns: 2000 },
    );
  }, 60000);
});

describe("HASession under hostile frames", () => {
  test("random and mutated frames never throw and never stall it: a fresh change still arrives", async () => {
    const base = loadConfig({ env: {} });
    let probe = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(hostileFrame, { minLength: 1, maxLength: 8 }), async (frames) => {
        FakeHA.sockets = [];
        const got: StateChange[] = [];
        const session = new HASession({
          url: "ws://fake",
          token: "t",
          ha: { ...base.ha, reconnectMinMs: 10, reconnectMaxMs: 20, backfillSettleMs: 0 },
          clock: systemClock,
          random: Math.random,
          newestStoredUs: () => null,
          WebSocketImpl: FakeHA as unknown as typeof WebSocket,
          sink: {
            changes: (_source, changes) => {
              for (const c of changes) got.push(c);
            },
            registry() {},
            rename() {},
            haConfig() {},
            status() {},
            rejected() {},
            skipped() {},
            outOfOrder() {},
            backfillFailed() {},
            log() {},
          },
        });
        session.start();
        try {
          await waitFor(() => FakeHA.sockets[0]?.ready && got.length > 0, {
            timeoutMs: 2000,
            what: "connected",
          });
          // The sub ids of the fake are small: hostile frames with ids 1..6 hit real subscriptions.
          for (const f of frames) FakeHA.sockets[FakeHA.sockets.length - 1].deliver(f);
          const name = `sensor.probe_${++probe}`;
          await waitFor(
            () => {
              const ws = FakeHA.sockets[FakeHA.sockets.length - 1];
              if (ws.ready && ws.entitySub !== null)
                ws.deliver(
                  `{"type":"event","event":{"a":{"${name}":{"s":"ok","a":{},"lc":${T + probe}}}},"id":${ws.entitySub}}`,
                );
              return got.some((c) => c.entity_id === name);
            },
            { timeoutMs: 3000, intervalMs: 20, what: "a fresh change after hostile frames" },
          );
        } finally {
          session.stop();
        }
      }),
      { numRuns: 150 },
    );
    expect(probe).toBeGreaterThanOrEqual(150);
  }, 60000);
});
