/**
 * Many streams' medians, rounded to whole units — `Math.round(median(xs) / unit)` per stream — without
 * keeping the streams. Co-occurrence pairs need only their median delay in seconds, yet a busy home
 * credits thousands of pairs thousands of times each: as number lists, 10,858 pairs held 23.2M delays
 * (~190 MB) over a 2.7M-event store; here they take 31 bins x 12 bytes each (~4 MB).
 *
 * Each stream ("slot") bins its values by rounded unit (`Math.round(x / unit)`, 0..maxValue/unit) with the
 * bin's count, smallest and largest value, all slots in one set of typed arrays. That is enough for the
 * exact result: an odd count's middle value rounds to its bin; for an even count, the two middle values
 * either share a bin (their mean rounds to it too, as rounding is monotonic) or lie in different bins, where
 * they are the largest of one and the smallest of the next non-empty one. Values a bin cannot hold exactly
 * (outside the bins, such as a negative delay from out-of-order input, or not exact as a float32) are kept
 * aside as they are and merged in at the end.
 *
 * @example
 * const delays = new RoundedMedians(1000, 30_000);
 * const slot = delays.open();
 * for (const d of [1200, 1800, 2600]) delays.add(slot, d);
 * delays.result(slot); // 2 (median 1800 ms ≈ 2 s)
 */

/** One rounded unit's values in a slot, in sorted order of units. */
interface Group {
  key: number;
  count: number;
  min: number;
  max: number;
}

export class RoundedMedians {
  private readonly bins: number;
  private sizes = new Uint32Array(0);
  /** Per slot and bin, at `slot * bins + bin`. A bin's min and max are unset while its count is 0. */
  private counts = new Uint32Array(0);
  private mins = new Float32Array(0);
  private maxs = new Float32Array(0);
  private slots = 0;
  /** Values kept aside, by slot; empty for delays of in-order events with whole-millisecond times. */
  private readonly aside = new Map<number, number[]>();

  constructor(
    private readonly unit: number,
    maxValue: number,
  ) {
    this.bins = Math.max(1, Math.round(maxValue / unit) + 1);
  }

  /** A new, empty stream; returns its slot. */
  open(): number {
    if (this.slots === this.sizes.length) this.grow(Math.max(64, this.slots * 2));
    return this.slots++;
  }

  /** Values added to a slot so far. */
  size(slot: number): number {
    return this.sizes[slot];
  }

  /** Adds a value; -0 counts as 0 (a list's order between them was an accident of arrival). */
  add(slot: number, value: number): void {
    const x = value + 0;
    this.sizes[slot]++;
    const k = Math.round(x / this.unit);
    // Negative values (and NaN) are kept aside: bins hold only units that round to +0 and up.
    if (!(x >= 0) || k >= this.bins || Math.fround(x) !== x) {
      const list = this.aside.get(slot);
      if (list) list.push(x);
      else this.aside.set(slot, [x]);
      return;
    }
    const i = slot * this.bins + k;
    if (this.counts[i] === 0 || x < this.mins[i]) this.mins[i] = x;
    if (this.counts[i] === 0 || x > this.maxs[i]) this.maxs[i] = x;
    this.counts[i]++;
  }

  /** `Math.round(median / unit)` over the slot's values; NaN when it has none (as `median([])` gives). */
  result(slot: number): number {
    const n = this.sizes[slot];
    if (n === 0) return Number.NaN;
    const groups = this.groups(slot);
    const mid = n >> 1;
    if (n % 2) return this.at(groups, mid).key;
    const a = this.at(groups, mid - 1);
    const b = this.at(groups, mid);
    if (Object.is(a.key, b.key)) return a.key;
    // In different groups, a is the last of its group and b the first of its: both are known exactly.
    return Math.round((a.value + b.value) / 2 / this.unit);
  }

  /** The group holding 0-based rank `rank`, and the value there when it is the group's first or last. */
  private at(groups: Group[], rank: number): { key: number; value: number } {
    let r = rank;
    for (const g of groups) {
      if (r < g.count) return { key: g.key, value: r === 0 ? g.min : r === g.count - 1 ? g.max : Number.NaN };
      r -= g.count;
    }
    throw new Error(`rounded medians: rank ${rank} beyond the slot's values`);
  }

  /** The slot's bins merged with its values kept aside, as groups in ascending order of rounded unit. */
  private groups(slot: number): Group[] {
    const aside = [...(this.aside.get(slot) ?? [])].sort((a, b) => a - b);
    const out: Group[] = [];
    let j = 0;
    const keyOf = (x: number) => Math.round(x / this.unit);
    // Object.is: -0 (a small negative value) is its own unit before 0, and NaN matches NaN, so every call
    // takes at least the value it was called for.
    const take = (key: number) => {
      while (j < aside.length && Object.is(keyOf(aside[j]), key)) {
        const x = aside[j++];
        const last = out[out.length - 1];
        if (last && Object.is(last.key, key)) {
          last.count++;
          if (x < last.min) last.min = x;
          if (x > last.max) last.max = x;
        } else out.push({ key, count: 1, min: x, max: x });
      }
    };
    while (j < aside.length && !(aside[j] >= 0)) take(keyOf(aside[j]));
    for (let k = 0; k < this.bins; k++) {
      const i = slot * this.bins + k;
      if (this.counts[i] > 0)
        out.push({ key: k, count: this.counts[i], min: this.mins[i], max: this.maxs[i] });
      take(k);
    }
    while (j < aside.length) take(keyOf(aside[j]));
    return out;
  }

  private grow(capacity: number): void {
    const sizes = new Uint32Array(capacity);
    sizes.set(this.sizes);
    this.sizes = sizes;
    const counts = new Uint32Array(capacity * this.bins);
    counts.set(this.counts);
    this.counts = counts;
    const mins = new Float32Array(capacity * this.bins);
    mins.set(this.mins);
    this.mins = mins;
    const maxs = new Float32Array(capacity * this.bins);
    maxs.set(this.maxs);
    this.maxs = maxs;
  }
}
