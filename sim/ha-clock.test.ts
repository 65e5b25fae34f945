import { describe, expect, test } from "bun:test";
import { usFromTimestamp } from "../runtime/events/cpython-time.ts";
import { HaClock } from "./ha-clock.ts";

describe("HaClock (HA's time.time() as the simulator stamps it)", () => {
  test("a wall clock that does not move still gives every stamp a new µs, a raw double near the wall", () => {
    const wall = 1_764_080_292_123.4568;
    const clock = new HaClock(true, () => wall);
    const stamps = Array.from({ length: 1000 }, () => clock.next());
    const us = stamps.map(usFromTimestamp);
    for (let i = 1; i < us.length; i++) expect(us[i]).toBe(us[i - 1] + 1);
    expect(stamps[0]).toBe(wall / 1000);
    // A thousand stamps in one instant stay within about a millisecond of it.
    expect(stamps[999] - stamps[0]).toBeLessThan(0.0011);
  });

  test("a step back moves the stamps back by it; exact-µs mode stamps whole µs", () => {
    let wall = 1_764_080_292_000;
    const clock = new HaClock(true, () => wall);
    const before = clock.next();
    clock.step(-60_000);
    wall += 1;
    const after = clock.next();
    expect(after - before).toBeCloseTo(-59.999, 6);
    const exact = new HaClock(false, () => 1_764_080_292_123.4568);
    const a = exact.next();
    expect([a, exact.next()]).toEqual([1_764_080_292.123456, 1_764_080_292.123457]);
  });
});
