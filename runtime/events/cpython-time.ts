/**
 * How CPython (and so Home Assistant) turns a `time.time()` float into microseconds, ISO text and JSON.
 * HA stamps states with the raw double (`core.py` `async_set_internal`): the compressed `lu`/`lc` of
 * subscribe_entities and history carry that double, while `last_updated` ISO text comes from
 * `datetime.fromtimestamp`, which rounds the exact fraction half-to-even to whole µs. `Math.round(s * 1e6)`
 * disagrees with it for about 1 in 8 timestamps; `usFromTimestamp` does not (checked against CPython on
 * 300,000 samples, exact-µs floats and ties included). Shared by the simulator, which plays HA, and the
 * connection client, which must key both paths the same way.
 *
 * @example
 * usFromTimestamp(1764080292.1234565); // 1764080292123456, as CPython: not ...457
 * isoFromUs(1764080292000000);         // "2025-11-25T14:18:12+00:00" (isoformat drops a zero fraction)
 * jsonFloat(1764080292);               // "1764080292.0"
 */

/** Python's `round()` of a double: to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Integer µs since the epoch of a `time.time()` float, as `datetime.fromtimestamp` computes them
 * (`_PyTime_ObjectToTimeval` with `_PyTime_ROUND_HALF_EVEN`): whole seconds plus the fraction times 1e6,
 * rounded half-to-even. For timestamps >= 0; an exact-µs float maps to itself.
 */
export function usFromTimestamp(seconds: number): number {
  const whole = Math.floor(seconds);
  return whole * 1e6 + roundHalfEven((seconds - whole) * 1e6);
}

let isoSecond = Number.NaN;
let isoPrefix = "";

/**
 * `datetime.isoformat()` of a UTC datetime at `us` µs: `2026-11-25T14:18:12.123456+00:00`, and without the
 * fraction when it is zero (`2026-11-25T14:18:12+00:00`), as HA's `last_updated` text.
 */
export function isoFromUs(us: number): string {
  const second = Math.floor(us / 1e6);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  const frac = us - second * 1e6;
  return frac === 0 ? `${isoPrefix}+00:00` : `${isoPrefix}.${String(frac).padStart(6, "0")}+00:00`;
}

/** HA's ISO text of a `time.time()` float (`dt_util.utc_from_timestamp(t).isoformat()`). */
export const isoFromTimestamp = (seconds: number): string => isoFromUs(usFromTimestamp(seconds));

/**
 * A float as HA's JSON writes it (orjson; CPython's `repr` agrees in this range): the shortest text that
 * reads back as the same double, with `.0` on whole numbers. Exact for 1e-4 <= |x| < 1e16, which holds
 * every timestamp; outside it the exponent notation may differ.
 */
export function jsonFloat(x: number): string {
  return Number.isInteger(x) ? `${x}.0` : String(x);
}
