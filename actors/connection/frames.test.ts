import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { historyToChanges, parseFrame, peekId, stateToChange } from "./frames.ts";
import { isoFromUs, usFromIso, usFromSeconds } from "./time.ts";

describe("timestamps", () => {
  test("HA's ISO text and float seconds give the same integer microseconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1_000_000_000_000_000, max: 4_000_000_000_000_000 }), (us) => {
        expect(usFromIso(isoFromUs(us))).toBe(us);
        expect(usFromSeconds(us / 1e6)).toBe(us);
      }),
      { numRuns: 2000 },
    );
  });
  test("offsets, Z and short fractions are understood; junk is NaN", () => {
    expect(usFromIso("2026-11-25T14:18:12.5Z")).toBe(Date.UTC(2026, 10, 25, 14, 18, 12) * 1000 + 500000);
    expect(usFromIso("2026-11-25T15:18:12.000001+01:00")).toBe(Date.UTC(2026, 10, 25, 14, 18, 12) * 1000 + 1);
    expect(usFromIso("2026-11-25T14:18:12+00:00")).toBe(Date.UTC(2026, 10, 25, 14, 18, 12) * 1000);
    expect(usFromIso("yesterday")).toBeNaN();
  });
});

describe("parseFrame", () => {
  test("a single message and a coalesced array both become a message list", () => {
    expect(parseFrame('{"id":1,"type":"pong"}', 1024)).toEqual({
      ok: true,
      messages: [{ id: 1, type: "pong" }],
    });
    const r = parseFrame('[{"id":1,"type":"pong"},{"id":2,"type":"result"}]', 1024);
    expect(r.ok && r.messages.length).toBe(2);
  });
  test("rejects with a reason: too large (by UTF-8 bytes), not JSON, not a typed object", () => {
    const big = parseFrame(`{"type":"x","p":"${"é".repeat(600)}"}`, 1024);
    expect(!big.ok && big.rejected.reason).toBe("too_large");
    expect(!big.ok && big.rejected.detail).toContain("ha.maxFrameBytes (1024)");
    const notJson = parseFrame("{nope", 1024);
    expect(!notJson.ok && notJson.rejected.reason).toBe("not_json");
    const untyped = parseFrame('[{"type":"a"},{"id":3}]', 1024);
    expect(!untyped.ok && untyped.rejected).toEqual({
      reason: "not_object",
      detail: 'message 1 of the frame is not an object with a string "type": {"id":3}',
    });
  });
  test("peekId reads the id of an oversized result without parsing it", () => {
    expect(peekId('{"id":42,"type":"result","success":true,"result":{...')).toBe(42);
    expect(peekId('[{"id":42')).toBeNull();
  });
});

describe("stateToChange", () => {
  const state = {
    entity_id: "sensor.t",
    state: "21.5",
    attributes: { unit_of_measurement: "°C" },
    last_changed: "2026-11-25T14:18:12.000001+00:00",
    last_updated: "2026-11-25T14:18:13.000002+00:00",
    context: { id: "01ABC", parent_id: null, user_id: "u1" },
  };
  test("keeps µs timestamps, attributes as JSON text and the context", () => {
    const r = stateToChange(state, "test");
    expect(r).toEqual({
      ok: true,
      change: {
        entity_id: "sensor.t",
        state: "21.5",
        attributes: '{"unit_of_measurement":"°C"}',
        last_changed: Date.UTC(2026, 10, 25, 14, 18, 12) * 1000 + 1,
        last_updated: Date.UTC(2026, 10, 25, 14, 18, 13) * 1000 + 2,
        context_id: "01ABC",
        context_parent_id: null,
        context_user_id: "u1",
      },
    });
  });
  test("names the missing or wrong field", () => {
    const r = stateToChange({ ...state, last_updated: 5 }, "state_changed event");
    expect(!r.ok && r.rejected.detail).toBe(
      "state_changed event: field last_updated must be an ISO timestamp (sensor.t), got 5",
    );
    const r2 = stateToChange({ ...state, entity_id: "nodot" }, "x");
    expect(!r2.ok && r2.rejected.reason).toBe("missing_fields");
  });
});

describe("historyToChanges", () => {
  test("reads HA's compressed rows; lc defaults to lu; minimal rows keep the last attributes", () => {
    const { changes, rejected } = historyToChanges({
      "light.a": [
        { s: "on", a: { brightness: 3 }, lu: 1764080292.123456 },
        { s: "off", lu: 1764080293.5, lc: 1764080293.25 },
        { s: 1, lu: 2 },
      ],
    });
    expect(changes.map((c) => [c.state, c.attributes, c.last_updated, c.last_changed])).toEqual([
      ["on", '{"brightness":3}', 1764080292123456, 1764080292123456],
      ["off", '{"brightness":3}', 1764080293500000, 1764080293250000],
    ]);
    expect(rejected.length).toBe(1);
    expect(rejected[0].detail).toContain('history row of light.a needs string "s"');
  });
});
