/** Time and randomness are injected so tests control them. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export type Random = () => number;

/**
 * Exponential backoff with full jitter: attempt 0 waits up to `min`, each attempt doubles, capped at `max`.
 * `random` returns [0, 1); pass a fixed function in tests.
 */
export function backoffDelay(
  attempt: number,
  min: number,
  max: number,
  random: Random = Math.random,
): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Waits until `check` returns a truthy value or the deadline passes; for tests and shutdown paths. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  opts: { timeoutMs: number; intervalMs?: number; what?: string },
): Promise<NonNullable<Awaited<T>>> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<Awaited<T>>;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what ?? "condition"}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 10));
  }
}
