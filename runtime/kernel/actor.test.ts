import { describe, expect, test } from "bun:test";
import { totalmem } from "node:os";
import { heapCollector, memoryBudget, whenSettled } from "./actor.ts";
import { waitFor } from "./clock.ts";
import { heapFootprint, processRss } from "./memory.ts";

const MB = 1024 * 1024;

describe("heapCollector", () => {
  test("collects once a burst is over, never while the heap is still growing fast", () => {
    const c = heapCollector(16 * MB, 4 * MB, 60_000);
    let now = 0;
    const due = (m: number) => {
      now += 1000;
      return c.due(m * MB, now);
    };
    // Steady: the heap moves around 20 MB.
    expect([20, 21, 20, 22].map(due)).toEqual([null, null, null, null]);
    // A burst: +10 MB a second is load, not garbage to collect.
    expect([32, 42, 52].map(due)).toEqual([null, null, null]);
    // The burst is over: 30 MB above the floor and barely growing.
    expect(due(52.5)).toBe("quiet");
    c.collected(21 * MB, now);
    expect(due(21.5)).toBeNull();
  });

  test("a heap that grows slowly to the slack is collected there, then measured from the new floor", () => {
    const c = heapCollector(16 * MB, 64 * MB, 60_000);
    const dues: number[] = [];
    let size = 10 * MB;
    for (let i = 0; i < 40; i++) {
      size += MB; // 1 MB a second: a quiet actor's garbage
      if (c.due(size, i * 1000)) {
        dues.push(i);
        size = 11 * MB;
        c.collected(size, i * 1000);
      }
    }
    expect(dues.length).toBeGreaterThanOrEqual(2);
    for (let k = 1; k < dues.length; k++) expect(dues[k] - dues[k - 1]).toBeGreaterThan(15);
  });

  test("under a steady load, dead objects that pile up are collected once a minute, not more", () => {
    const c = heapCollector(16 * MB, 4 * MB, 60_000);
    const reasons: (string | null)[] = [];
    let live = 20 * MB;
    let dead = 0;
    for (let s = 0; s < 600; s++) {
      // Young garbage comes and goes every second (the heap swings by 3 MB) while old garbage piles
      // up at 50 KB a second: no quiet moment, ever.
      dead += 50 * 1024;
      const size = live + dead + (s % 2) * 3 * MB;
      const reason = c.due(size, s * 1000);
      reasons.push(reason);
      if (reason) {
        dead = 0;
        c.collected(live, s * 1000);
      }
    }
    const at = reasons.flatMap((r, s) => (r ? [s] : []));
    expect(new Set(reasons.filter((r) => r))).toEqual(new Set(["tidy"]));
    expect(at.length).toBeGreaterThanOrEqual(8);
    for (let k = 1; k < at.length; k++) expect(at[k] - at[k - 1]).toBeGreaterThanOrEqual(60);
    // A heap that stays within the slack of its floor is never collected.
    live = 30 * MB;
    const calm = heapCollector(16 * MB, 4 * MB, 60_000);
    let collected = 0;
    for (let s = 0; s < 600; s++) if (calm.due(live + (s % 3) * MB, s * 1000)) collected++;
    expect(collected).toBe(0);
  });

  test("under pressure: collects as soon as the heap is the pressure slack past the last collection, even while it grows", () => {
    const c = heapCollector(16 * MB, 4 * MB, 60_000, 32 * MB);
    c.collected(20 * MB, 0);
    // A burst: +10 MB every 100 ms check. The quiet and tidy rules say nothing while it grows.
    const pressedAt: number[] = [];
    let size = 20 * MB;
    for (let i = 1; i <= 20; i++) {
      size += 10 * MB;
      expect(c.due(size, i * 100)).toBeNull();
      if (c.pressed(size)) {
        pressedAt.push(size / MB);
        size = 22 * MB; // what the collection left
        c.collected(size, i * 100);
      }
    }
    expect(pressedAt).toEqual([60, 62, 62, 62, 62]);
    // Off (0): never pressed, however large.
    const off = heapCollector(16 * MB, 4 * MB, 60_000);
    expect(off.pressed(4096 * MB)).toBe(false);
  });
});

describe("whenSettled", () => {
  test("gives back memory once a window passes with the thread under 5% of a core, not while it is busy", async () => {
    // A fake CPU clock: 40 ms of CPU per 20 ms window (busy) for three windows, then none (settled).
    let cpu = 0;
    let windows = 0;
    const at: number[] = [];
    whenSettled(() => at.push(windows), {
      windowMs: 20,
      cpuSeconds: () => {
        windows++;
        if (windows <= 4) cpu += 0.04;
        return cpu;
      },
    });
    await waitFor(() => at.length === 1, { timeoutMs: 5000, what: "the settled call" });
    // Read at start, then once per window: busy in windows 1-3, quiet in window 5.
    expect(at).toEqual([5]);
  });

  test("a cancelled wait never calls back", async () => {
    let checks = 0;
    let called = false;
    const cancel = whenSettled(
      () => {
        called = true;
      },
      { windowMs: 10, cpuSeconds: () => ++checks * 0 },
    );
    cancel();
    // A second wait with the same window proves time passed beyond the first one's window.
    let second = false;
    whenSettled(
      () => {
        second = true;
      },
      { windowMs: 30, cpuSeconds: () => 0 },
    );
    await waitFor(() => second, { timeoutMs: 5000 });
    expect([called, checks]).toEqual([false, 1]);
  });
});

describe("memoryBudget", () => {
  test("over the budget, an actor collects only when its heap holds garbage, at most once per interval", () => {
    let rss = 200 * MB;
    const b = memoryBudget(300 * MB, () => rss, 1 * MB, 250);
    // Under the budget: never, however much garbage.
    expect(b.due(0, 80 * MB, 10 * MB)).toBe(false);
    rss = 420 * MB;
    // Over it, but looked 100 ms ago: not yet.
    expect(b.due(100, 80 * MB, 10 * MB)).toBe(false);
    expect(b.due(250, 80 * MB, 10 * MB)).toBe(true);
    // Right after: the interval holds.
    expect(b.due(300, 80 * MB, 10 * MB)).toBe(false);
    // Over it, but this heap is within the slack of what its last collection left: nothing to free here.
    expect(b.due(600, 10.5 * MB, 10 * MB)).toBe(false);
    expect(b.due(900, 12 * MB, 10 * MB)).toBe(true);
  });

  test("off (0): never due", () => {
    const b = memoryBudget(0, () => 64 * 1024 * MB);
    expect(b.due(10_000, 4096 * MB, 0)).toBe(false);
  });

  test("reads the process's resident memory: more than any one heap, less than the machine", () => {
    const rss = processRss();
    expect(rss).toBeGreaterThan(heapFootprint());
    expect(rss).toBeLessThan(totalmem());
  });
});
