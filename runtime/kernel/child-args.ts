/**
 * Arguments of a child spec, as the worker sees them. Like OTP's `{Module, Function, Args}`: one worker
 * module can run as several children (one per configured source, say), each told which by its spec's
 * `args`. They travel as the worker's `workerData`, so the module has them before it names itself.
 *
 * @example
 * // tree: { name: "enricher-weather", module: ENRICHER_WORKER, args: ["weather"] }
 * const [source] = childArgs(); // "weather" in that worker
 */
import { workerData } from "node:worker_threads";

/** What the supervisor hands `new Worker(module, …)` for a child spec with `args`. */
export const childWorkerOptions = (args: readonly string[] | undefined): WorkerOptions | undefined =>
  args === undefined ? undefined : ({ workerData: { args: [...args] } } as WorkerOptions);

/** This worker's child-spec arguments; empty for a spec without any (or outside a supervised worker). */
export function childArgs(): readonly string[] {
  const args = (workerData as { args?: unknown } | null | undefined)?.args;
  return Array.isArray(args) && args.every((a) => typeof a === "string") ? args : [];
}
