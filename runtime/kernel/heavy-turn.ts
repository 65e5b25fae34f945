/**
 * One heavy background run at a time across the whole process: an insights health or energy run, a
 * suggestions mining run. Each stays within the memory bound alone; two at once stack their peaks
 * (measured at 1,000 events/s: the first mining, health and energy runs all fall 60 s after start and
 * together took the process to 203–208 MB, where each alone stays under 190 MB) and take both of a Pi's
 * spare cores from ingest at the same moment.
 *
 * The turn is one 32-bit word in a SharedArrayBuffer the supervisor hands every actor at init: 0 = free,
 * otherwise the holder's id (its place in the tree + 1). An actor that dies holding it is released by the
 * supervisor (`releaseHeldBy`). A waiter waits at most `maxWaitMs` (`heavyRunMaxWaitMs`) and then runs
 * anyway, logged and counted: a stuck holder delays the others, it never stops them.
 *
 * @example
 * const turn = new HeavyTurn({ slot, holder: 3, maxWaitMs: 900_000 });
 * const report = await turn.run(() => mineHistory(...));
 */
import type { Counter, Histogram, Registry } from "./metrics.ts";

/** A fresh, free turn for one process. */
export function createHeavyTurnSlot(): SharedArrayBuffer {
  return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
}

/** Frees the turn if `holder` has it (the supervisor calls this when that actor's worker is gone). */
export function releaseHeldBy(slot: SharedArrayBuffer, holder: number): boolean {
  const word = new Int32Array(slot);
  if (Atomics.compareExchange(word, 0, holder, 0) !== holder) return false;
  Atomics.notify(word, 0);
  return true;
}

/** Who holds the turn (an actor's holder id), for tests and status: 0 when free. */
export function turnHolder(slot: SharedArrayBuffer): number {
  return Atomics.load(new Int32Array(slot), 0);
}

export interface HeavyTurnOptions {
  /** Shared with every other actor; null (an actor run outside the supervisor) takes turns within itself only. */
  slot: SharedArrayBuffer | null;
  /** This actor's id, > 0 and unique in the process. */
  holder: number;
  maxWaitMs: number;
  metrics?: Registry;
  /** Called when a run stops waiting at `maxWaitMs` and goes ahead beside the holder. */
  onTimeout?: (waitedMs: number, holder: number) => void;
}

export class HeavyTurn {
  private readonly word: Int32Array;
  /** Runs of this actor queue here first: the shared word says only which actor holds the turn. */
  private local: Promise<unknown> = Promise.resolve();
  /** Registered at the first run, so only actors that have heavy runs show these series. */
  private meters?: { waitMs: Histogram; timeouts: Counter };

  constructor(private readonly opts: HeavyTurnOptions) {
    if (!Number.isInteger(opts.holder) || opts.holder <= 0)
      throw new Error(`heavy turn holder must be a positive integer, got ${opts.holder}`);
    this.word = new Int32Array(opts.slot ?? createHeavyTurnSlot());
  }

  /** Runs `fn` when no other heavy run is going (or after `maxWaitMs`); the turn is freed however it ends. */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    if (!this.meters && this.opts.metrics) {
      const m = this.opts.metrics;
      this.meters = {
        waitMs: m.histogram(
          "heavy_run_wait_ms",
          "Time a heavy background run waited for its turn (one heavy run at a time per process)",
        ),
        timeouts: m.counter(
          "heavy_run_wait_timeouts_total",
          "Heavy runs that stopped waiting at heavyRunMaxWaitMs and ran beside the holder",
        ),
      };
      m.gauge(
        "heavy_run_max_wait_ms",
        "Bound: longest a heavy run waits for its turn (heavyRunMaxWaitMs)",
      ).set(this.opts.maxWaitMs);
    }
    const mine = this.local.then(async () => {
      const held = await this.acquire();
      try {
        return await fn();
      } finally {
        if (held) this.release();
      }
    });
    this.local = mine.catch(() => undefined);
    return mine;
  }

  private async acquire(): Promise<boolean> {
    const started = performance.now();
    const deadline = started + this.opts.maxWaitMs;
    for (;;) {
      const current = Atomics.compareExchange(this.word, 0, 0, this.opts.holder);
      if (current === 0) {
        this.meters?.waitMs.observe(performance.now() - started);
        return true;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        const waited = performance.now() - started;
        this.meters?.waitMs.observe(waited);
        this.meters?.timeouts.inc();
        this.opts.onTimeout?.(waited, current);
        return false;
      }
      // Woken by the holder's release; the timeout only bounds the wait.
      const waiting = Atomics.waitAsync(this.word, 0, current, left);
      if (waiting.async) await waiting.value;
    }
  }

  private release(): void {
    if (Atomics.compareExchange(this.word, 0, this.opts.holder, 0) === this.opts.holder)
      Atomics.notify(this.word, 0);
  }
}
