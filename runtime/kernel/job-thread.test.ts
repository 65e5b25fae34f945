import { describe, expect, test } from "bun:test";
import { systemClock } from "./clock.ts";
import { startJobThread } from "./job-thread.ts";

const ENTRY = new URL("../../test/support/workers/job-thread-worker.ts", import.meta.url).href;
type Job = { n: number; mode: "answer" | "throw" | "silent" };
type Answer = { ok: true; double: number };

describe("job thread", () => {
  test("hands the job to a thread of its own and resolves with its one answer", async () => {
    const run = startJobThread<Job, Answer>(
      ENTRY,
      { n: 21, mode: "answer" },
      { deadlineMs: 30_000, clock: systemClock },
    );
    expect(await run.result).toEqual({ ok: true, double: 42 });
  });

  test("a job that throws in its thread is a failure with the thread's message, not a rejection", async () => {
    const run = startJobThread<Job, Answer>(
      ENTRY,
      { n: 7, mode: "throw" },
      { deadlineMs: 30_000, clock: systemClock },
    );
    const result = await run.result;
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain("job 7 failed in its thread");
  });

  test("a thread that does not answer by the deadline is ended and the run fails, naming the deadline", async () => {
    const run = startJobThread<Job, Answer>(
      ENTRY,
      { n: 1, mode: "silent" },
      { deadlineMs: 100, clock: systemClock },
    );
    expect(await run.result).toEqual({ ok: false, error: "no answer within 100 ms" });
  });

  test("stop ends a running thread at once and says so", async () => {
    const run = startJobThread<Job, Answer>(
      ENTRY,
      { n: 1, mode: "silent" },
      { deadlineMs: 30_000, clock: systemClock },
    );
    run.stop();
    expect(await run.result).toEqual({ ok: false, error: "stopped before it answered" });
  });

  test("ended settles only after the thread has closed and the settle time has passed, for every outcome", async () => {
    for (const mode of ["answer", "throw", "silent"] as const) {
      const started = performance.now();
      let closedAt = Number.NaN;
      const run = startJobThread<Job, Answer>(
        ENTRY,
        { n: 3, mode },
        { deadlineMs: mode === "silent" ? 50 : 30_000, clock: systemClock, settleMs: 300 },
      );
      const answeredAt = await run.result.then(() => performance.now());
      await run.ended.then(() => {
        closedAt = performance.now();
      });
      expect(closedAt - answeredAt).toBeGreaterThanOrEqual(290);
      expect(closedAt - started).toBeLessThan(10_000);
    }
  });

  test("a thread that cannot start still ends, so the heavy-run turn is never held by it", async () => {
    const run = startJobThread<Job, Answer>(
      "file:///nonexistent/job-thread-entry.ts",
      { n: 1, mode: "answer" },
      { deadlineMs: 30_000, clock: systemClock, settleMs: 10 },
    );
    const result = await run.result;
    expect(result.ok).toBe(false);
    await run.ended;
  });
});
