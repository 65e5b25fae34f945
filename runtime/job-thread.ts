/**
 * One job in a thread of its own, ended when its answer comes back. For heavy background runs (an
 * insights analysis over a week of history): what a run leaves behind — heap blocks pinned by a few
 * survivors, the allocator's pages, its read connection's cache — goes with the thread instead of staying
 * in the actor. The price is a fresh VM per run: its JIT and caches start cold, ~+20 MB at the run's peak
 * (for a month of mining on a busy home, +55–64 MB instead of +15–35 MB in the warm actor, so the miner
 * stays in its actor).
 *
 * The thread's entry answers with one message (`R`); a thread that fails to start, throws, or does not
 * answer within `deadlineMs` gives `{ ok: false, error }`, and is terminated either way.
 *
 * @example
 * const run = startJobThread<AnalysisJob, AnalysisResult>(ANALYSIS_THREAD, job, { deadlineMs, clock });
 * const result = await run.result;
 */
import type { Clock } from "./clock.ts";
import { errorMessage } from "./log.ts";

export type ThreadFailure = { ok: false; error: string };

export interface JobThread<R> {
  /** The thread's answer, or why there is none. Never rejects. */
  readonly result: Promise<R | ThreadFailure>;
  /** Ends the thread now (shutdown); `result` settles with a failure if it had not answered. */
  stop(): void;
}

export function startJobThread<J, R>(
  entry: string,
  job: J,
  opts: { deadlineMs: number; clock: Clock },
): JobThread<R> {
  let stop = () => {};
  const result = new Promise<R | ThreadFailure>((resolve) => {
    let thread: Worker;
    try {
      thread = new Worker(entry);
    } catch (error) {
      resolve({ ok: false, error: `the job thread did not start: ${errorMessage(error)}` });
      return;
    }
    let settled = false;
    const done = (outcome: R | ThreadFailure) => {
      if (settled) return;
      settled = true;
      opts.clock.clearTimeout(deadline);
      thread.terminate();
      resolve(outcome);
    };
    const deadline = opts.clock.setTimeout(
      () => done({ ok: false, error: `no answer within ${opts.deadlineMs} ms` }),
      opts.deadlineMs,
    );
    thread.onmessage = (event: MessageEvent<R>) => done(event.data);
    thread.onerror = (event) => done({ ok: false, error: event.message || "the job thread failed" });
    stop = () => done({ ok: false, error: "stopped before it answered" });
    thread.postMessage(job);
  });
  return { result, stop: () => stop() };
}
