import { describe, expect, test } from "bun:test";
import { quietCollector } from "./actor.ts";

const MB = 1024 * 1024;

describe("quietCollector", () => {
  test("collects once a burst is over, never while the heap is still growing fast", () => {
    const c = quietCollector(16 * MB);
    // Steady: the heap moves around 20 MB.
    expect([20, 21, 20, 22].map((m) => c.due(m * MB))).toEqual([false, false, false, false]);
    // A burst: +10 MB a second is load, not garbage to collect.
    expect([32, 42, 52].map((m) => c.due(m * MB))).toEqual([false, false, false]);
    // The burst is over: 30 MB above the floor and barely growing.
    expect(c.due(52.5 * MB)).toBe(true);
    c.collected(21 * MB);
    expect(c.due(21.5 * MB)).toBe(false);
  });

  test("a heap that grows slowly to the slack is collected there, then measured from the new floor", () => {
    const c = quietCollector(16 * MB);
    const dues: number[] = [];
    let size = 10 * MB;
    for (let i = 0; i < 40; i++) {
      size += MB; // 1 MB a second: a quiet actor's garbage
      if (c.due(size)) {
        dues.push(i);
        size = 11 * MB;
        c.collected(size);
      }
    }
    expect(dues.length).toBeGreaterThanOrEqual(2);
    for (let k = 1; k < dues.length; k++) expect(dues[k] - dues[k - 1]).toBeGreaterThan(15);
  });
});
