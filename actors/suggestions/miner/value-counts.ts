/**
 * A multiset of numbers as sorted distinct values with their counts, in two typed arrays. Threshold hits
 * record a sensor's reading at every matching action; readings repeat (a sensor reports in steps), so over
 * a 2.7M-event store 3.2M recorded readings were 228K distinct (value, key) pairs: ~2.7 MB here instead of
 * ~26 MB as number lists. Quantiles and counts over it equal those over the full list.
 *
 * `-0` is counted as `0` (they compare equal, and a list's order between them was an accident of arrival).
 *
 * @example
 * const c = new ValueCounts();
 * for (const v of [18, 17.5, 18, 21]) c.add(v);
 * c.quantile(0.5); // 18
 * c.countWhere((v) => v <= 18); // 3
 */
export class ValueCounts {
  private values = new Float64Array(4);
  private counts = new Uint32Array(4);
  private distinct = 0;
  private n = 0;

  /** Values added so far, repeats included. */
  get size(): number {
    return this.n;
  }

  /** Adds one finite value (readings are parsed numbers; NaN never reaches here). */
  add(x: number): void {
    const v = x + 0; // -0 becomes 0
    let lo = 0;
    let hi = this.distinct;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.values[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    this.n++;
    if (lo < this.distinct && this.values[lo] === v) {
      this.counts[lo]++;
      return;
    }
    if (this.distinct === this.values.length) {
      const values = new Float64Array(this.values.length * 2);
      values.set(this.values);
      this.values = values;
      const counts = new Uint32Array(this.counts.length * 2);
      counts.set(this.counts);
      this.counts = counts;
    }
    this.values.copyWithin(lo + 1, lo, this.distinct);
    this.counts.copyWithin(lo + 1, lo, this.distinct);
    this.values[lo] = v;
    this.counts[lo] = 1;
    this.distinct++;
  }

  /** The q-quantile (0..1) by nearest rank, as `quantile` in evidence.ts over the same values. */
  quantile(q: number): number {
    let rank = Math.min(this.n - 1, Math.max(0, Math.ceil(q * this.n) - 1));
    for (let i = 0; i < this.distinct; i++) {
      if (rank < this.counts[i]) return this.values[i];
      rank -= this.counts[i];
    }
    return Number.NaN; // empty: the detector never asks then (it needs minOccurrences values)
  }

  /** How many of the values (repeats included) satisfy `test`. */
  countWhere(test: (v: number) => boolean): number {
    let count = 0;
    for (let i = 0; i < this.distinct; i++) if (test(this.values[i])) count += this.counts[i];
    return count;
  }
}
