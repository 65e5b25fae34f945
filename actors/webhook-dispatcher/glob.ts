/**
 * Entity globs (`*` any run of characters, dots included; `?` exactly one; everything else literal),
 * matched without RegExp. A backtracking RegExp made from a user's glob (`*?*?*?…zzq`) took 20 s per
 * entity id on the dispatcher's thread; this matcher takes at most pattern × text steps.
 *
 * Two pointers walk pattern and text; on a mismatch the walk goes back only to the most recent `*`, which
 * then swallows one more character. Returning to an earlier star is never needed: whatever an earlier star
 * could absorb, the later one can absorb too, so the work is bounded by O(pattern × text), not exponential.
 *
 * @example
 * matchGlob("sensor.*_temp?", "sensor.office_temp1") // true
 */

/** Counts loop steps when given (tests bound the work, not the wall clock). */
export interface GlobStats {
  steps: number;
}

const STAR = 42; // "*"
const ANY = 63; // "?"

/** Whether `text` matches `glob` as a whole. Linear in each argument, O(glob × text) at worst. */
export function matchGlob(glob: string, text: string, stats?: GlobStats): boolean {
  const m = glob.length;
  const n = text.length;
  let p = 0;
  let t = 0;
  let star = -1; // position of the last `*` seen in the pattern
  let mark = 0; // text position that star currently stops before
  let steps = 0;
  while (t < n) {
    steps++;
    const c = p < m ? glob.charCodeAt(p) : -1;
    if (c === STAR) {
      star = p++;
      mark = t;
    } else if (c !== -1 && (c === ANY || c === text.charCodeAt(t))) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      if (stats) stats.steps += steps;
      return false;
    }
  }
  while (p < m && glob.charCodeAt(p) === STAR) p++;
  if (stats) stats.steps += steps + 1;
  return p === m;
}
