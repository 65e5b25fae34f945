/**
 * One job in a thread of its own, ended when its answer comes back. For heavy background runs (an
 * insights analysis over a week of history): what a run leaves behind — heap blocks pinned by a few
 * survivors, the allocator's pages, its read connection's cache — goes with the thread instead of staying
 * in the actor. The price is a fresh VM per run: its JIT and caches start cold, ~+20 MB at the run's peak
 * (for a month of mining on a busy home, +55–64 MB instead of +15–35 MB in the warm actor, so the miner
 * stays in its actor).
 *
 * The thread's entry answers with one message (`R`); a thread that fails to start, throws, or does not
 * answer within `deadlineMs` gives `{ ok: false, error }`, and is terminated either way. `ended` settles
 * once the thread has closed and its memory has had time to go back: a heavy run that starts the moment
 * the last one answers would stack its peak on the last one's pages.
 *
 * @example
 * const run = startJobThread<AnalysisJob, AnalysisResult>(ANALYSIS_THREAD, job, { deadlineMs, clock });
 * const result = await run.result;
 * await run.ended; // then the next heavy run may start
 */
import type { Clock } from "./clock.ts";
import { errorMessage } from "./log.ts";

export type ThreadFailure = { ok: false; error: string };

export interface JobThread<R> {
  /** The thread's answer, or why there is none. Never rejects. */
  readonly result: Promise<R | ThreadFailure>;
  /**
   * Settles `settleMs` after the thread has closed (or could not start). Measured on a run over a week of
   * history: a terminated thread's ~25 MB go back to the OS within ~150 ms of its close, not at it; a
   * health run started at once peaked at +58 MB over the process instead of +30. Never rejects.
   */
  readonly ended: Promise<void>;
  /** Ends the thread now (shutdown); `result` settles with a failure if it had not answered. */
  stop(): void;
}

/** How long `ended` waits after the close: ~3x what a terminated thread took to give its memory back. */
export const THREAD_SETTLE_MS = 500;
/** Longest `ended` waits for a terminated thread's close event. */
const CLOSE_WAIT_MS = 5_000;

export function startJobThread<J, R>(
  entry: string,
  job: J,
  opts: { deadlineMs: number; clock: Clock; settleMs?: number },
): JobThread<R> {
  let stop = () => {};
  let closed: () => void = () => {};
  let closeWait: unknown;
  const ended = new Promise<void>((resolve) => {
    let once = false;
    closed = () => {
      if (once) return;
      once = true;
      if (closeWait !== undefined) opts.clock.clearTimeout(closeWait);
      opts.clock.setTimeout(resolve, opts.settleMs ?? THREAD_SETTLE_MS);
    };
  });
  const result = new Promise<R | ThreadFailure>((resolve) => {
    let thread: Worker;
    try {
      thread = new Worker(entry);
    } catch (error) {
      resolve({ ok: false, error: `the job thread did not start: ${errorMessage(error)}` });
      closed();
      return;
    }
    thread.addEventListener("close", () => closed(), { once: true });
    let settled = false;
    const done = (outcome: R | ThreadFailure) => {
      if (settled) return;
      settled = true;
      opts.clock.clearTimeout(deadline);
      thread.terminate();
      // A close that never comes must not hold the heavy-run turn: `ended` is bounded either way.
      closeWait = opts.clock.setTimeout(closed, CLOSE_WAIT_MS);
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
  return { result, ended, stop: () => stop() };
}
