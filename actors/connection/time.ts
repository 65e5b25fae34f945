/**
 * Home Assistant timestamps to microseconds since the epoch. HA sends ISO text with µs precision
 * (`2026-11-25T14:18:12.123456+00:00`) in state objects and float seconds (`1764080292.123456`) in the
 * compressed history format; both must map to the same integer so (entity_id, last_updated) keys match.
 */
import { usFromTimestamp } from "../../runtime/events/cpython-time.ts";

/** The last second seen (19 chars, never empty once set) and its epoch ms: seconds repeat across events. */
let cachedPrefix = "\u0000";
let cachedMs = 0;

const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;

/** Parses HA's ISO timestamp text to integer µs; returns NaN when the text is not a timestamp. */
export function usFromIso(text: string): number {
  // Fast path: HA always writes UTC as +00:00 with 6 fractional digits; seconds repeat across events.
  if (text.length === 32 && text.charCodeAt(19) === 46 && text.endsWith("+00:00")) {
    if (!text.startsWith(cachedPrefix)) {
      const prefix = text.slice(0, 19);
      const ms = Date.parse(`${prefix}Z`);
      if (Number.isNaN(ms)) return Number.NaN;
      cachedPrefix = prefix;
      cachedMs = ms;
    }
    let frac = 0;
    for (let i = 20; i < 26; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return Number.NaN;
      frac = frac * 10 + d;
    }
    return cachedMs * 1000 + frac;
  }
  const m = ISO.exec(text);
  if (!m) return Number.NaN;
  const ms = Date.parse(`${m[1]}${m[3] ?? "Z"}`);
  if (Number.isNaN(ms)) return Number.NaN;
  const frac = m[2] ? Number(m[2].padEnd(6, "0").slice(0, 6)) : 0;
  return ms * 1000 + frac;
}

/**
 * Float seconds (HA's compressed `lu`/`lc`, history's `lu`) to integer µs, rounded exactly as CPython's
 * `datetime.fromtimestamp` rounds the same float into the ISO text HA writes in `state_changed` and
 * `get_states` (runtime/events/cpython-time.ts, shared with the simulator): one change has one key on every
 * path. `Math.round(s * 1e6)` disagrees on ~1 in 8 of HA's raw `time.time()` floats, which duplicated
 * rows where paths overlap. Floats that are whole µs (`us / 1e6`) map back to `us` unchanged.
 */
export const usFromSeconds = usFromTimestamp;

/** µs to HA's ISO text (used for history request bounds). */
export function isoFromUs(us: number): string {
  const ms = Math.floor(us / 1000);
  const frac = us - Math.floor(us / 1e6) * 1e6;
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(frac).padStart(6, "0")}+00:00`;
}
