/**
 * Home Assistant's clock as it stamps states: `time.time()`, a wall-clock double (not monotonic: a step
 * moves it back), from which CPython derives the µs of the ISO text and of the key a client stores.
 */
import { usFromTimestamp } from "../runtime/events/cpython-time.ts";

export class HaClock {
  /** The µs CPython makes of the last stamp. */
  lastUs = Number.NEGATIVE_INFINITY;
  private lastTs = 0;
  /** The wall clock's offset from the machine's, moved by `step`. */
  offsetMs = 0;

  /**
   * @param raw stamp raw doubles as HA (true) or exact-µs doubles (false).
   * @param wallMs the machine's wall clock in ms (injected for tests).
   */
  constructor(
    private readonly raw: boolean,
    private readonly wallMs: () => number = () => performance.timeOrigin + performance.now(),
  ) {}

  /** The wall clock now, in seconds (HA's `time.time()`, offset included). */
  seconds(): number {
    return (this.wallMs() + this.offsetMs) / 1000;
  }

  /**
   * HA's `time.time()` for the next change. HA's own slowness keeps its stamps µs apart; the simulator
   * makes changes faster than that, so it moves the double on by one ulp at a time until its µs is new,
   * which keeps (entity_id, last_updated) keys distinct without leaving the wall clock.
   */
  next(): number {
    let t: number;
    if (this.raw) {
      t = Math.max(this.seconds(), this.lastTs);
      while (usFromTimestamp(t) <= this.lastUs) t += 2.5e-7;
      this.lastUs = usFromTimestamp(t);
    } else {
      this.lastUs = Math.max(Math.floor(this.seconds() * 1e6), this.lastUs + 1);
      t = this.lastUs / 1e6;
    }
    this.lastTs = t;
    return t;
  }

  /** An NTP step, a VM restore or a manual change: the wall clock jumps by `ms` (back when negative). */
  step(ms: number): void {
    this.offsetMs += ms;
    this.lastTs = 0;
    this.lastUs = Number.NEGATIVE_INFINITY;
  }
}
