/**
 * Bounded stand-ins for a window's values, for the folds (./health-fold.ts, ./energy-fold.ts): values go
 * into log-spaced bins, 2% wide, so a bin's value is within 1% of every value in it, and the counts are
 * kept per day so the window can move on. Memory grows with the bins in use (a steady reporter's gaps or a
 * meter's levels fill a few dozen a day), not with the values.
 */

const DAY = 86400_000;
const GAMMA = 1.02;
const LOG_GAMMA = Math.log(GAMMA);
/** Magnitudes below this count as 0 (a 1 mW reading, a 1 µs gap). */
const TINY = 1e-3;
/** Keeps a bin's index of every magnitude from TINY up positive, so the sign can carry the value's. */
const OFFSET = 1 - Math.ceil(Math.log(TINY) / LOG_GAMMA);

/** The bin of a value (any sign): ordered as the values are; 0 holds the values too small to tell from 0. */
export function binOf(x: number): number {
  const m = Math.abs(x);
  if (!(m >= TINY)) return 0;
  const b = Math.ceil(Math.log(m) / LOG_GAMMA) + OFFSET;
  return x > 0 ? b : -b;
}

/** The value that stands for a bin: within (GAMMA - 1) / (GAMMA + 1) < 1% of every value in it. */
export function binValue(bin: number): number {
  if (bin === 0) return 0;
  const m = (2 * GAMMA ** (Math.abs(bin) - OFFSET)) / (GAMMA + 1);
  return bin > 0 ? m : -m;
}

/** Weights (counts, or durations) by bin, per day. */
export class DayHistogram {
  private readonly days = new Map<number, Map<number, number>>();

  add(ts: number, value: number, weight = 1): void {
    const day = Math.floor(ts / DAY);
    let bins = this.days.get(day);
    if (!bins) {
      bins = new Map();
      this.days.set(day, bins);
    }
    const bin = binOf(value);
    bins.set(bin, (bins.get(bin) ?? 0) + weight);
  }

  /** Forgets the days before the one holding `from`. */
  trim(from: number): void {
    const day = Math.floor(from / DAY);
    for (const d of this.days.keys()) if (d < day) this.days.delete(d);
  }

  /** The days from the one holding `from` on, merged: bins ascending with their weights. */
  since(from: number): Merged {
    const day = Math.floor(from / DAY);
    const merged = new Map<number, number>();
    for (const [d, bins] of this.days)
      if (d >= day) for (const [bin, w] of bins) merged.set(bin, (merged.get(bin) ?? 0) + w);
    return new Merged(merged);
  }

  /** Bins held over all days (for a bytes estimate: ~40 bytes each). */
  get entries(): number {
    let n = 0;
    for (const bins of this.days.values()) n += bins.size + 1;
    return n;
  }
}

/** A merged histogram's questions. */
export class Merged {
  readonly bins: number[];
  readonly total: number;

  constructor(private readonly weights: Map<number, number>) {
    this.bins = [...weights.keys()].sort((a, b) => a - b);
    let total = 0;
    for (const b of this.bins) total += weights.get(b) as number;
    this.total = total;
  }

  /** Adds a weight to a value's bin (e.g. the newest reading's open span). */
  add(value: number, weight: number): Merged {
    const bin = binOf(value);
    const weights = new Map(this.weights);
    weights.set(bin, (weights.get(bin) ?? 0) + weight);
    return new Merged(weights);
  }

  /** Of counts: the q-quantile as quantileSorted interpolates it over the values in order. */
  quantile(q: number): number {
    if (!this.total) return Number.NaN;
    const pos = (this.total - 1) * Math.min(1, Math.max(0, q));
    const lo = Math.floor(pos);
    const a = this.valueAtRank(lo);
    return a + (this.valueAtRank(Math.ceil(pos)) - a) * (pos - lo);
  }

  /** Of durations: the lowest value whose cumulative weight reaches q of the total (energy.ts timeWeightedQuantile). */
  weightedQuantile(q: number): number {
    if (!this.total) return Number.NaN;
    let acc = 0;
    for (const b of this.bins) {
      acc += this.weights.get(b) as number;
      if (acc >= q * this.total) return binValue(b);
    }
    return binValue(this.bins[this.bins.length - 1]);
  }

  /** The value of rank r (0-based) among the values in order. */
  private valueAtRank(r: number): number {
    let seen = 0;
    for (const b of this.bins) {
      seen += this.weights.get(b) as number;
      if (r < seen) return binValue(b);
    }
    return Number.NaN;
  }
}
