import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { historyToChanges, parseFrame, scanMessages, stateToChange } from "./frames.ts";
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
});

describe("scanMessages (frames too large to parse)", () => {
  test("reads type and id of every message of a coalesced frame, id first or last", () => {
    // HA's writer joins what is queued: the subscribe_entities result and its `a` come in one frame,
    // and diff events carry their id last.
    const frame =
      '[{"id":7,"type":"result","success":true,"result":null},{"id":7,"type":"event","event":{"a":{"light.x":{"s":"on","a":{"id":9,"type":"result"},"lc":1}}}},{"type":"event","event":{"c":{}},"id":7},{"id":8,"type":"pong"}]';
    expect(scanMessages(frame)).toEqual({
      messages: [
        { type: "result", id: 7 },
        { type: "event", id: 7 },
        { type: "event", id: 7 },
        { type: "pong", id: 8 },
      ],
      truncated: false,
    });
  });
  test("keys inside strings or attributes never count; a single message is one message", () => {
    const frame =
      '{"type":"event","event":{"data":{"x":"\\"id\\":5,\\"type\\":\\"result\\"","id":3}},"id":12}';
    expect(scanMessages(frame).messages).toEqual([{ type: "event", id: 12 }]);
    // Cut short (as a frame refused by size may be read only in part): what was read, no throw.
    expect(scanMessages('[{"id":4,"type":"result","result":{"a":[1,2').messages).toEqual([
      { type: "result", id: 4 },
    ]);
  });
  test("stops after maxMessages", () => {
    const frame = `[${'{"id":1,"type":"pong"},'.repeat(10)}{"id":1,"type":"pong"}]`;
    expect(scanMessages(frame, 5)).toMatchObject({ truncated: true });
    expect(scanMessages(frame, 5).messages.length).toBe(5);
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

describe("historyToChanges (what HA's recorder really returns)", () => {
  test("a removal (`s`: null) is skipped as removed, not rejected as malformed", () => {
    const r = historyToChanges({
      "light.a": [
        { s: "on", a: {}, lu: 1 },
        { s: null, a: {}, lu: 2 },
      ],
    });
    expect(r.changes.length).toBe(1);
    expect(r.rejected).toEqual([]);
    expect(r.skipped).toEqual(["removed"]);
  });
  test("stripped attributes are completed where the live copies around the gap agree, in live order", () => {
    const before = {
      hvac_modes: ["off", "heat"],
      brightness: 10,
      current_temperature: 19,
      supported_features: 17,
      friendly_name: "Hall",
    };
    const after = {
      hvac_modes: ["off", "heat"],
      brightness: 200,
      current_temperature: 20,
      supported_features: 17,
      friendly_name: "Hall",
    };
    const r = historyToChanges(
      { "climate.hall": [{ s: "heat", a: { current_temperature: 21.5, friendly_name: "Hall" }, lu: 1 }] },
      { maxDepth: 254, known: (id) => (id === "climate.hall" ? { before, after } : undefined) },
    );
    // Static keys come back; brightness changed across the gap, so the row's value is unknown: left out.
    expect(r.changes[0].attributes).toBe(
      '{"hvac_modes":["off","heat"],"current_temperature":21.5,"supported_features":17,"friendly_name":"Hall"}',
    );
    // Without both sides (after a process restart) the row is stored as the recorder returned it.
    const bare = historyToChanges({
      "climate.hall": [{ s: "heat", a: { current_temperature: 21.5 }, lu: 1 }],
    });
    expect(bare.changes[0].attributes).toBe('{"current_temperature":21.5}');
  });
  test("too deeply nested attributes skip the row, and never throw", () => {
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const r = historyToChanges({
      "sensor.a": [
        { s: "1", a: { deep }, lu: 1 },
        { s: "2", a: {}, lu: 2 },
      ],
    });
    expect(r.skipped).toEqual(["too_deep"]);
    expect(r.changes.map((c) => c.state)).toEqual(["2"]);
  });
});
