import { describe, expect, test } from "bun:test";
import type { StateChange } from "../../runtime/events/messages.ts";
import { EntityStates } from "./entities.ts";
import type { Rejected } from "./frames.ts";

// Shaped as Home Assistant writes them (websocket_api/messages.py `_state_diff_event`,
// State.as_compressed_state): float seconds, context as a string id or a dict of what changed.
const T = 1_764_080_292.123456;
const US = 1_764_080_292_123_456;

function run(...events: unknown[]) {
  const entities = new EntityStates();
  const out: StateChange[] = [];
  const rejected: Rejected[] = [];
  const skipped: string[] = [];
  let failed = 0;
  for (const e of events)
    failed += entities.apply(e, out, {
      reject: (r) => rejected.push(r),
      skipped: (reason, detail) => skipped.push(`${reason}: ${detail}`),
    });
  return { out, rejected, skipped, failed, entities };
}

const added = {
  a: {
    "light.hall": { s: "off", a: { friendly_name: "Hall", brightness: null }, c: "01CTXA", lc: T },
    "sensor.t": {
      s: "21.5",
      a: { unit_of_measurement: "°C" },
      c: { id: "01CTXB", parent_id: "01PARENT", user_id: null },
      lc: T - 60,
      lu: T,
    },
  },
};

describe("EntityStates (subscribe_entities)", () => {
  test("the opening `a` gives each entity's whole state; lu defaults to lc; a context string means no parent or user", () => {
    const { out, rejected } = run(added);
    expect(rejected).toEqual([]);
    expect(out).toEqual([
      {
        entity_id: "light.hall",
        state: "off",
        attributes: '{"friendly_name":"Hall","brightness":null}',
        last_changed: US,
        last_updated: US,
        context_id: "01CTXA",
        context_parent_id: null,
        context_user_id: null,
      },
      {
        entity_id: "sensor.t",
        state: "21.5",
        attributes: '{"unit_of_measurement":"°C"}',
        last_changed: US - 60_000_000,
        last_updated: US,
        context_id: "01CTXB",
        context_parent_id: "01PARENT",
        context_user_id: null,
      },
    ]);
  });

  test("a diff changes only what it names: state with lc moves lu too; attributes merge in place; a context id keeps parent and user", () => {
    const { out } = run(
      added,
      {
        c: {
          "light.hall": {
            "+": { s: "on", lc: T + 1, c: "01CTXC", a: { brightness: 128, color_mode: "brightness" } },
          },
        },
      },
      { c: { "sensor.t": { "+": { lu: T + 2, c: "01CTXD" } } } },
      { c: { "sensor.t": { "+": { c: { user_id: "u1" } }, "-": { a: ["unit_of_measurement"] } } } },
    );
    expect(out.slice(2)).toEqual([
      {
        entity_id: "light.hall",
        state: "on",
        attributes: '{"friendly_name":"Hall","brightness":128,"color_mode":"brightness"}',
        last_changed: US + 1_000_000,
        last_updated: US + 1_000_000,
        context_id: "01CTXC",
        context_parent_id: null,
        context_user_id: null,
      },
      {
        entity_id: "sensor.t",
        state: "21.5",
        attributes: '{"unit_of_measurement":"°C"}',
        last_changed: US - 60_000_000,
        last_updated: US + 2_000_000,
        context_id: "01CTXD",
        context_parent_id: "01PARENT",
        context_user_id: null,
      },
      {
        entity_id: "sensor.t",
        state: "21.5",
        attributes: "{}",
        last_changed: US - 60_000_000,
        last_updated: US + 2_000_000,
        context_id: "01CTXD",
        context_parent_id: "01PARENT",
        context_user_id: "u1",
      },
    ]);
  });

  test("`r` forgets an entity: a later diff for it is skipped (counted) until an `a` brings it back", () => {
    const { out, rejected, skipped, failed } = run(
      added,
      { r: ["light.hall"] },
      { c: { "light.hall": { "+": { s: "on", lc: T + 1 } } } },
      { a: { "light.hall": { s: "on", a: {}, c: "01CTXE", lc: T + 3 } } },
    );
    expect(out.map((c) => [c.entity_id, c.state])).toEqual([
      ["light.hall", "off"],
      ["sensor.t", "21.5"],
      ["light.hall", "on"],
    ]);
    expect(rejected).toEqual([]);
    expect(skipped).toEqual([
      'entity_unknown: change for light.hall, which was never added (no "a" for it first)',
    ]);
    // The change itself is lost on this stream: reported, so the session resyncs (and backfills it).
    expect(failed).toBe(1);
  });

  test("a bad part is refused with what and where, and changes nothing; the rest of the event applies", () => {
    const { out, rejected, failed } = run(
      added,
      {
        c: {
          "light.hall": { "+": { s: "on", lc: "yesterday" } },
          "sensor.t": { "+": { s: "22.0", lu: T + 5 } },
        },
      },
      { c: { "light.hall": { "+": { s: "on", lc: T + 6 } } } },
      { x: 1 },
      { a: { nodot: { s: "1", lc: T } } },
    );
    expect(rejected.map((r) => r.detail)).toEqual([
      'diff of light.hall: "lc" must be a number',
      "subscribe_entities event has none of a, c, r",
      'entity id must be "domain.object_id", got "nodot"',
    ]);
    // The refused diff of a known entity is reported, so the session resyncs it.
    expect(failed).toBe(1);
    // The refused diff left light.hall as it was: the next good one starts from "off" at T.
    expect(out.slice(2).map((c) => [c.entity_id, c.state, c.last_updated])).toEqual([
      ["sensor.t", "22.0", US + 5_000_000],
      ["light.hall", "on", US + 6_000_000],
    ]);
  });

  test("a rename in the registry carries the state to the new id", () => {
    const { entities } = run(added);
    entities.rename("sensor.t", "sensor.kitchen_t");
    const out: StateChange[] = [];
    entities.apply({ c: { "sensor.kitchen_t": { "+": { s: "23.0", lc: T + 9, c: "01CTXF" } } } }, out, () => {
      throw new Error("refused");
    });
    expect(out[0]).toMatchObject({
      entity_id: "sensor.kitchen_t",
      state: "23.0",
      context_parent_id: "01PARENT",
    });
  });

  test("attributes nested deeper than the bound skip the record (never throw); the state stays current", () => {
    const deep = (n: number) => {
      let v: unknown = 1;
      for (let i = 0; i < n; i++) v = { v };
      return v;
    };
    const entities = new EntityStates(10);
    const out: StateChange[] = [];
    const skipped: string[] = [];
    const report = { reject: () => {}, skipped: (reason: string) => skipped.push(reason) };
    entities.apply({ a: { "sensor.x": { s: "1", a: { d: deep(200_000) }, lc: T } } }, out, report);
    entities.apply({ c: { "sensor.x": { "+": { s: "2", lu: T + 1 } } } }, out, report);
    expect(out).toEqual([]);
    expect(skipped).toEqual(["too_deep", "too_deep"]);
    // Replacing the deep attribute brings its records back, with the state the diffs kept current.
    entities.apply({ c: { "sensor.x": { "+": { s: "3", lu: T + 2, a: { d: deep(3) } } } } }, out, report);
    expect(out.map((c) => [c.state, c.attributes])).toEqual([["3", '{"d":{"v":{"v":{"v":1}}}}']]);
  });
});
