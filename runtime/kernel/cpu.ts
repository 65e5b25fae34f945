/**
 * CPU time per thread, so the metrics say which actor burns the CPU. Every actor is a worker thread of one
 * process, so the process's CPU alone cannot tell the batcher from the exporter; Linux keeps each
 * thread's time on CPU (ns) in /proc/thread-self/schedstat, which the thread itself reads in a few µs.
 * Elsewhere (macOS) there is no such file and the per-thread figure is simply not reported.
 */
import { readFileSync } from "node:fs";
import { heapFootprint, processRss } from "./memory.ts";
import type { Counter, Registry } from "./metrics.ts";

const SCHEDSTAT = "/proc/thread-self/schedstat";

/** Seconds the calling thread has run on a CPU, or null where the OS does not say. */
export function threadCpuSeconds(): number | null {
  try {
    const ns = Number(readFileSync(SCHEDSTAT, "latin1").split(" ", 1)[0]);
    return Number.isFinite(ns) ? ns / 1e9 : null;
  } catch {
    return null;
  }
}

/** A counter that follows a running total read from elsewhere (it only moves forward). */
function followTotal(counter: Counter): (total: number | null) => void {
  let seen = 0;
  return (total) => {
    if (total === null || total <= seen) return;
    counter.inc(total - seen);
    seen = total;
  };
}

/**
 * The calling thread's CPU seconds as `actor_cpu_seconds_total`, advanced by `sample()`; call it on the
 * thread it measures, before each snapshot.
 */
export function threadCpuMeter(registry: Registry): { sample(): void } {
  const follow = followTotal(
    registry.counter(
      "actor_cpu_seconds_total",
      "CPU time of this actor's thread (Linux; the main thread is actor=hub)",
    ),
  );
  return { sample: () => follow(threadCpuSeconds()) };
}

/**
 * The process as a whole, sampled on the main thread: resident memory (what the <200 MB bound is about)
 * and CPU seconds of all threads, beside the main thread's own `actor_cpu_seconds_total` and
 * `actor_heap_bytes` (actor=hub).
 */
export function processMeter(registry: Registry): { sample(): void } {
  const thread = threadCpuMeter(registry);
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory of the HomeIQ process");
  // The main thread's own JavaScript heap (API, live feed, metrics hub), beside the actors' (runtime/kernel/actor.ts).
  const heap = registry.gauge(
    "actor_heap_bytes",
    "Bytes this actor's JavaScript heap holds: its blocks, live or dead, and what its strings and buffers own",
  );
  const cpu = followTotal(
    registry.counter("process_cpu_seconds_total", "CPU time of the HomeIQ process, all threads"),
  );
  return {
    sample() {
      thread.sample();
      rss.set(processRss());
      // As the actors': what the heap holds, not what the last collection left.
      heap.set(heapFootprint());
      const { user, system } = process.cpuUsage();
      cpu((user + system) / 1e6);
    },
  };
}
