import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { StateChange } from "./messages.ts";
import { concatPacked, EventColumns, openPacked, packEvents, unpackEvents } from "./packed.ts";

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
