import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { concatPacked, EventColumns, openPacked, ownString, packEvents, unpackEvents } from "./packed.ts";
import type { StateChange } from "./state-change.ts";

// Strings that stress the encoding: separators, the escape mark, quotes, control characters, emoji.
const text = fc.oneof(
  fc.string(),
  fc.constantFrom("", "\u0001", "\u0002", "\u0002x", "a\u0001b", '"', "\\", "\n", "°C", "🙂"),
  fc.string({ unit: fc.constantFrom("a", "\u0001", "\u0002", '"', "\\", "\u0000") }),
);
const change: fc.Arbitrary<StateChange> = fc.record({
  entity_id: text,
  state: text,
  attributes: text,
  last_changed: fc.integer({ min: 0, max: 2 ** 52 }),
  last_updated: fc.integer({ min: 0, max: 2 ** 52 }),
  context_id: fc.option(text, { nil: null }),
  context_parent_id: fc.option(text, { nil: null }),
  context_user_id: fc.option(text, { nil: null }),
});

describe("packed event batches", () => {
  test("any records pack and unpack to themselves, nulls and empty strings kept apart", () => {
    fc.assert(
      fc.property(fc.array(change, { maxLength: 20 }), (changes) => {
        const packed = packEvents(changes);
        expect(packed.n).toBe(changes.length);
        expect(unpackEvents(packed)).toEqual(changes);
        // What crosses a worker boundary is a structured clone of the parts.
        expect(unpackEvents(structuredClone(packed))).toEqual(changes);
      }),
      { numRuns: 300 },
    );
  });

  test("select keeps the chosen events in order; concat joins batches in order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(change, { maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.boolean(), { maxLength: 24 }),
        (groups, keep) => {
          const all = groups.flat();
          const joined = concatPacked(groups.map(packEvents));
          expect(unpackEvents(joined)).toEqual(all);
          const cols = new EventColumns(joined);
          const indices = all.map((_, i) => i).filter((i) => keep[i] ?? true);
          expect(unpackEvents(cols.select(indices))).toEqual(indices.map((i) => all[i]));
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a batch whose parts do not add up is refused with a reason, never half-read", () => {
    const good = packEvents([
      {
        entity_id: "light.a",
        state: "on",
        attributes: "{}",
        last_changed: 1,
        last_updated: 1,
        context_id: null,
        context_parent_id: null,
        context_user_id: null,
      },
    ]);
    expect(openPacked(good).ok).toBe(true);
    expect(openPacked({ ...good, n: 2 })).toEqual({
      ok: false,
      error: "events: packed batch is inconsistent: 2 events need 12 fields and 4 times, got 6 and 2",
    });
    expect(openPacked({ n: 1, text: good.text, times: [1, 1] })).toMatchObject({ ok: false });
    expect(openPacked(null)).toMatchObject({ ok: false });
  });
});

describe("ownString", () => {
  test("copies exactly, whatever the characters", () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(ownString(s)).toBe(s);
      }),
    );
  });

  test("a kept field does not keep its batch's whole text alive", () => {
    const { heapSize } = require("bun:jsc") as { heapSize: () => number };
    /** Heap in use while one attribute text of each of 40 batches (~0.5 MB each) is kept. */
    const heapKeeping = (copy: boolean) => {
      const kept: string[] = [];
      for (let i = 0; i < 40; i++) {
        const records = Array.from({ length: 2000 }, (_, j) => ({
          entity_id: `sensor.s${j}`,
          state: String(j),
          // Long enough that JavaScriptCore shares the batch's buffer rather than copying.
          attributes: `{"friendly_name":"batch ${i} sensor ${j} ${"x".repeat(200)}"}`,
          last_changed: j,
          last_updated: j,
          context_id: null,
          context_parent_id: null,
          context_user_id: null,
        }));
        const attributes = new EventColumns(packEvents(records)).attributes(7);
        kept.push(copy ? ownString(attributes) : attributes);
      }
      Bun.gc(true);
      const heap = heapSize();
      kept.length = 0;
      Bun.gc(true);
      return heap;
    };
    Bun.gc(true);
    const base = heapSize();
    const pinned = heapKeeping(false) - base;
    const owned = heapKeeping(true) - base;
    // 40 batches of ~0.5 MB each: substrings keep (most of) them; own copies keep a few KB.
    expect(pinned).toBeGreaterThan(5_000_000);
    expect(owned).toBeLessThan(pinned / 10);
  });
});
