import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ageMs, judge, type ProgressReading, type ProgressWatch, watchIntervalMs } from "./progress.ts";

const reading = (r: Partial<ProgressReading>): ProgressReading => ({
  processed: 0,
  waiting: 0,
  oldestAgeMs: 0,
  blocked: false,
  ...r,
});

describe("stuck watch", () => {
  test("stuck once messages have waited the whole bound with none finished; not a moment before", () => {
    let watch: ProgressWatch = { processed: 0, progressAt: 0 };
    const verdicts: string[] = [];
    for (const [now, r] of [
      [100, reading({ processed: 5, waiting: 2 })], // progress: the clock restarts here
      [600, reading({ processed: 5, waiting: 2, oldestAgeMs: 550 })],
      [1099, reading({ processed: 5, waiting: 2, oldestAgeMs: 1049 })],
      [1100, reading({ processed: 5, waiting: 2, oldestAgeMs: 1050 })],
    ] as const) {
      const next = judge(watch, r, now, 1000);
      watch = next.watch;
      verdicts.push(next.verdict.kind === "stuck" ? `stuck ${next.verdict.stalledMs}` : next.verdict.kind);
    }
    expect(verdicts).toEqual(["ok", "ok", "ok", "stuck 1000"]);
  });

  test("an actor waiting for credit downstream is reported as blocked, never as stuck", () => {
    const r = judge(
      { processed: 3, progressAt: 0 },
      reading({ processed: 3, waiting: 1, blocked: true }),
      5000,
      1000,
    );
    expect(r.verdict).toEqual({ kind: "blocked", stalledMs: 5000 });
  });

  test("an actor that finishes a message, or has none waiting, at least once per bound is never stuck", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 60_000 }),
        fc.array(
          fc.record({ gap: fc.integer({ min: 1, max: 5000 }), progressed: fc.boolean(), idle: fc.boolean() }),
          { maxLength: 200 },
        ),
        (bound, rounds) => {
          let watch: ProgressWatch = { processed: 0, progressAt: 0 };
          let now = 0;
          let processed = 0;
          let sinceMove = 0;
          for (const round of rounds) {
            now += round.gap;
            sinceMove += round.gap;
            if (round.progressed) processed++;
            const moved = round.progressed || round.idle;
            const next = judge(watch, reading({ processed, waiting: round.idle ? 0 : 1 }), now, bound);
            watch = next.watch;
            // Stuck exactly when nothing moved in a whole bound (counted from the last round that moved).
            if ((next.verdict.kind === "stuck") !== (!moved && sinceMove >= bound)) return false;
            if (moved) sinceMove = 0;
          }
          return true;
        },
      ),
      { numRuns: 500 },
    );
  });

  test("ages are right across the int32 wrap of the shared clock and never negative", () => {
    expect(ageMs(2 ** 31 - 10 + 30, 2 ** 31 - 10)).toBe(30); // wraps to a negative int32 reading
    expect(ageMs(-(2 ** 31) + 20, 2 ** 31 - 10)).toBe(30);
    expect(ageMs(100, 150)).toBe(0); // a stamp from a tick newer than the reader's
  });

  test("the watch runs ten times per bound, between 10 ms and 1 s", () => {
    expect([watchIntervalMs(50), watchIntervalMs(400), watchIntervalMs(30_000)]).toEqual([10, 40, 1000]);
  });
});
