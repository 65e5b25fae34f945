/**
 * What a thread's heap and the whole process hold, and handing freed memory back: read by the actors'
 * collection rules (./actor.ts), the process meter (./cpu.ts) and anything else that reports a heap.
 */

/**
 * The memory this thread's JavaScript heap holds now: the heap's blocks (live and dead objects alike) and
 * the memory outside them that strings and buffers own. Not bun:jsc heapSize(): it is the size the last
 * collection left, so it cannot see a flood of dead frames pile up before the next one.
 */
export function heapFootprint(): number {
  const m = process.memoryUsage();
  return m.heapTotal + m.external;
}

/** The whole process's resident memory (every thread's heap, SQLite's caches, the binary's pages). */
export function processRss(): number {
  return process.memoryUsage.rss();
}

/**
 * Asks JavaScriptCore to return what it holds but does not use — free heap blocks, the allocator's cached
 * pages, code compiled for run-once start-up functions — to the OS. Each worker is a VM of its own, so
 * with ten actors this was ~10 MB of the demo's idle RSS (152 -> 143 MB after 20 s, see docs/performance.md).
 * `Bun.shrink` is marked deprecated in bun-types but has no replacement; without it nothing breaks.
 */
export function giveBackMemory(): void {
  (Bun as { shrink?: () => void }).shrink?.();
}
