import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  DAY_US,
  HOUR_US,
  type PlanInput,
  planImport,
  type Step,
  statisticsToHours,
  stepAt,
  stepCounts,
} from "./logic.ts";

const input = (over: Partial<PlanInput> = {}): PlanInput => ({
  nowUs: 1_796_572_357_123_456,
  days: 2,
  statisticsDays: 30,
  windowUs: 3 * HOUR_US,
  statsWindowUs: 7 * DAY_US,
  entityIds: Array.from({ length: 35 }, (_, i) => `sensor.e${i}`),
  batchSize: 10,
  ...over,
});

const all = (plan: ReturnType<typeof planImport>, from = 0): Step[] => {
  const out: Step[] = [];
  for (let i = from; ; i++) {
    const s = stepAt(plan, i);
    if (!s) return out;
    out.push(s);
  }
};

describe("history import plan", () => {
  test("covers the raw days once per entity, then statistics hours strictly before them", () => {
    const plan = planImport(input());
    const steps = all(plan);
    expect(steps.length).toBe(stepCounts(plan).total);
    const history = steps.filter((s) => s.kind === "history");
    const stats = steps.filter((s) => s.kind === "statistics");
    expect(history.length).toBe(16 * 4); // 48 h in 3 h windows × 4 batches of ≤10
    for (const id of plan.batches.flat()) {
      const mine = history.filter((s) => s.entityIds.includes(id));
      expect(mine[0].startUs).toBe(plan.fromUs);
      expect(mine.at(-1)?.endUs).toBe(plan.toUs);
      for (let i = 1; i < mine.length; i++) expect(mine[i].startUs).toBe(mine[i - 1].endUs);
      const st = stats.filter((s) => s.entityIds.includes(id));
      expect(st[0].startUs).toBe(plan.statsFromUs);
      expect(st.at(-1)?.endUs).toBe(Math.floor(plan.fromUs / HOUR_US) * HOUR_US);
    }
    for (const s of stats) expect(s.endUs).toBeLessThanOrEqual(plan.fromUs);
  });

  test("a restart at any step continues with exactly the steps not yet done", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 40 }),
        fc.nat(400),
        (days, extra, cut) => {
          // The plan is saved as JSON and read back after the restart.
          const plan = planImport(input({ days, statisticsDays: days + extra }));
          const again = JSON.parse(JSON.stringify(plan));
          const total = stepCounts(plan).total;
          const k = Math.min(cut, total);
          expect([...all(plan).slice(0, k), ...all(again, k)]).toEqual(all(plan));
        },
      ),
    );
  });

  test("days 0 plans nothing; statistics days not beyond the raw days plan no statistics", () => {
    expect(stepCounts(planImport(input({ days: 0, statisticsDays: 0 }))).total).toBe(0);
    expect(stepCounts(planImport(input({ statisticsDays: 2 }))).statistics).toBe(0);
    expect(stepCounts(planImport(input({ entityIds: [] }))).total).toBe(0);
  });
});

describe("statisticsToHours", () => {
  const h0 = 1_796_000_000 - (1_796_000_000 % 3600);
  test("means become hours; a meter grows by the change of sum from the hour before", () => {
    const answer = {
      "sensor.t": [{ start: h0 * 1000, end: (h0 + 3600) * 1000, mean: 20.5, min: 20, max: 21 }],
      "sensor.e": [
        { start: (h0 - 3600) * 1000, state: 10, sum: 4 },
        { start: h0 * 1000, state: 11.5, sum: 5.5 },
        { start: (h0 + 3600) * 1000, state: 12, sum: 6 },
      ],
    };
    const { hours, bad } = statisticsToHours(answer, h0 * 1e6, (h0 + 7200) * 1e6);
    expect(bad).toBe(0);
    expect(hours).toEqual([
      { entity_id: "sensor.t", t: h0, mean: 20.5, min: 20, max: 21, state: null, growth: 0 },
      { entity_id: "sensor.e", t: h0, mean: null, min: null, max: null, state: 11.5, growth: 1.5 },
      { entity_id: "sensor.e", t: h0 + 3600, mean: null, min: null, max: null, state: 12, growth: 0.5 },
    ]);
  });

  test("hostile answers are counted, never thrown", () => {
    expect(statisticsToHours("x", 0, 1).bad).toBe(1);
    expect(statisticsToHours({ a: 3, b: [{ start: "nope" }, null, { start: h0 * 1000 }] }, 0, 4e15).bad).toBe(
      4,
    );
  });
});
