import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { TtlLruCache } from "./cache.ts";

describe("TtlLruCache", () => {
  test("an entry is fresh until its TTL passes, then served stale with its age", () => {
    const cache = new TtlLruCache<string, number>({ ttlMs: 300_000, maxEntries: 1000 });
    cache.set("a", 1, 1000);
    expect(cache.get("a", 1000 + 299_999)).toEqual({ value: 1, storedAt: 1000, ageMs: 299_999, fresh: true });
    expect(cache.get("a", 1000 + 300_000)).toEqual({
      value: 1,
      storedAt: 1000,
      ageMs: 300_000,
      fresh: false,
    });
    expect(cache.get("a", 1000 + 86_400_000)?.value).toBe(1);
  });

  test("the least recently used key is evicted first; get refreshes recency, peek does not", () => {
    const cache = new TtlLruCache<string, number>({ ttlMs: 1000, maxEntries: 2 });
    cache.set("a", 1, 0);
    cache.set("b", 2, 0);
    cache.get("a", 0);
    cache.set("c", 3, 0);
    expect(cache.keys()).toEqual(["a", "c"]);
    cache.peek("a", 0);
    cache.set("d", 4, 0);
    expect(cache.keys()).toEqual(["c", "d"]);
    expect(cache.evictions).toBe(2);
  });

  test("property: size never exceeds the bound and the cache behaves like an LRU list", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), key: fc.integer({ min: 0, max: 30 }), dt: fc.nat(500) }),
      fc.record({ kind: fc.constant("get" as const), key: fc.integer({ min: 0, max: 30 }), dt: fc.nat(500) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 200 }), (max, ops) => {
        const cache = new TtlLruCache<number, number>({ ttlMs: 1000, maxEntries: max });
        const model: { key: number; at: number }[] = []; // least recently used first
        let now = 0;
        for (const o of ops) {
          now += o.dt;
          const i = model.findIndex((m) => m.key === o.key);
          if (o.kind === "set") {
            if (i >= 0) model.splice(i, 1);
            model.push({ key: o.key, at: now });
            if (model.length > max) model.shift();
            cache.set(o.key, o.key * 10, now);
          } else {
            const hit = cache.get(o.key, now);
            if (i < 0) expect(hit).toBeUndefined();
            else {
              const [m] = model.splice(i, 1);
              model.push(m);
              expect(hit).toEqual({
                value: o.key * 10,
                storedAt: m.at,
                ageMs: now - m.at,
                fresh: now - m.at < 1000,
              });
            }
          }
          expect(cache.size).toBeLessThanOrEqual(max);
          expect(cache.keys()).toEqual(model.map((m) => m.key));
        }
      }),
      { numRuns: 300 },
    );
  });
});
