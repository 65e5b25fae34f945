import { describe, expect, test } from "bun:test";
import { toHistoryColumns } from "./history-view.ts";

describe("toHistoryColumns", () => {
  test("turns raw points into ascending seconds with numeric values", () => {
    const cols = toHistoryColumns({
      tier: "raw",
      points: [
        { ts: 3000, value: 21.5 },
        { ts: 1000, state: "20" },
        { ts: 2000, state: "unavailable" },
      ],
    });
    expect(cols).toEqual({ tier: "raw", xs: [1, 2, 3], ys: [20, null, 21.5], mins: null, maxs: null });
  });

  test("keeps min and max of rollup points and plots two-state entities as 1/0", () => {
    const rollup = toHistoryColumns({ tier: "hourly", points: [{ ts: 3600_000, mean: 2, min: 1, max: 4 }] });
    expect(rollup).toEqual({ tier: "hourly", xs: [3600], ys: [2], mins: [1], maxs: [4] });
    const binary = toHistoryColumns({
      tier: "raw",
      points: [
        { ts: 0, state: "on" },
        { ts: 1000, state: "off" },
      ],
    });
    expect(binary.ys).toEqual([1, 0]);
  });

  test("skips points without a time instead of failing the chart", () => {
    expect(
      toHistoryColumns({ tier: "raw", points: [{ value: 1 }, null, { ts: 5000, value: 2 }] }).xs,
    ).toEqual([5]);
  });
});
