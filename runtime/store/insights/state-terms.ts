/**
 * Search terms against the state dictionary, bounded. A search's entity groups each need their remaining
 * terms in a state's text; matched naively that is groups × states × terms `includes` calls (1.7 s for one
 * request at 500 entities and 100k distinct states). Here a term is tested against a state at most once
 * per search, a group's first term is one already scanned when it can be (so each distinct term scans the
 * dictionary at most once) and its other terms test only the states left, and only the newest
 * `statesMax` states are looked at.
 *
 * @example
 * const m = new StateTermMatcher(states.length, 100_000, (s) => lower[s]);
 * const sids = m.statesWithAll(["on", "kitchen"]);
 */
export class StateTermMatcher {
  /** The oldest state id looked at. */
  readonly lowest: number;
  private readonly span: number;
  /** Per term, per state: 0 not tested yet, 1 holds the term, 2 does not. */
  private readonly memo = new Map<string, { seen: Uint8Array; all: number[] | null }>();

  constructor(
    private readonly count: number,
    statesMax: number,
    private readonly lowerState: (s: number) => string | undefined,
  ) {
    this.lowest = Math.max(0, count - statesMax);
    this.span = count - this.lowest;
  }

  /** Whether states older than `lowest` exist and a term was matched (so they were skipped). */
  get truncated(): boolean {
    return this.lowest > 0 && this.memo.size > 0;
  }

  /** Ids of the states (newest statesMax) whose lower-case text holds every term, ascending. */
  statesWithAll(terms: readonly string[]): number[] {
    if (terms.length === 0) return [];
    let first = terms[0];
    for (const t of terms) {
      const all = this.memo.get(t)?.all;
      const best = this.memo.get(first)?.all;
      if (all && (!best || all.length < best.length)) first = t;
    }
    let sids = this.allWith(first);
    for (const term of terms) if (term !== first) sids = sids.filter((s) => this.holds(term, s));
    return sids;
  }

  private entry(term: string) {
    let m = this.memo.get(term);
    if (!m) {
      m = { seen: new Uint8Array(this.span), all: null };
      this.memo.set(term, m);
    }
    return m;
  }

  private holds(term: string, s: number): boolean {
    const { seen } = this.entry(term);
    const i = s - this.lowest;
    if (seen[i] === 0) seen[i] = this.lowerState(s)?.includes(term) ? 1 : 2;
    return seen[i] === 1;
  }

  private allWith(term: string): number[] {
    const m = this.entry(term);
    if (!m.all) {
      const all: number[] = [];
      for (let s = this.lowest; s < this.count; s++) if (this.holds(term, s)) all.push(s);
      m.all = all;
    }
    return m.all;
  }
}
