import { describe, expect, test } from "bun:test";
import { slopeMbPerHour } from "./growth.ts";

describe("slopeMbPerHour", () => {
  test("a steady climb of 1 MB a minute is 60 MB an hour; minutes before the start are ignored", () => {
    expect(slopeMbPerHour([400, 10, 150, 151, 152, 153], 2)).toBe(60);
  });

  test("a flat curve with one fault's step back down is about flat; a one-off spike does not dominate", () => {
    const flat = Array.from({ length: 60 }, (_, m) => (m === 30 ? 190 : 160));
    expect(Math.abs(slopeMbPerHour(flat, 5))).toBeLessThan(2);
  });

  test("fewer than two minutes give no slope", () => {
    expect(slopeMbPerHour([150], 0)).toBeNaN();
    expect(slopeMbPerHour([150, 151], 5)).toBeNaN();
  });
});
