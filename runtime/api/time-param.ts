/**
 * Times in query parameters: milliseconds since the Unix epoch, or an ISO 8601 date-time with an offset
 * (`2026-12-01T00:00:00Z`, `2026-12-01T01:00:00.250+01:00`), the form Home Assistant's own APIs take.
 * The offset is required: a time without one would mean a different instant on every server.
 * A `+` in a URL query decodes to a space, so a space where the offset's sign belongs is read as `+`.
 */

/** Largest epoch-ms a JavaScript Date can hold. */
export const MAX_TIME_MS = 8.64e15;

/** Longest accepted ISO text (nanosecond fraction and an offset fit with room to spare). */
export const ISO_TIME_MAX_LENGTH = 40;

/**
 * Anchored, and no quantifier nests another: matching is linear in the (bounded) input.
 * Groups: year, month, day, hour, minute, second?, fraction?, zone.
 */
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+\- ]\d{2}:?\d{2})$/;

/** What the error for a bad time says is accepted. */
export const TIME_FORMS =
  "milliseconds since the Unix epoch (e.g. 1796083200000) or an ISO 8601 time with a Z or ±hh:mm offset " +
  "(e.g. 2026-12-01T00:00:00Z or 2026-12-01T01:00:00.250+01:00; write + as %2B in a URL)";

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * The epoch ms of an ISO 8601 date-time with offset, or null when it is not one or names no real instant
 * (February 30th, hour 24, an offset beyond ±23:59) or falls outside [0, MAX_TIME_MS].
 *
 * @example parseIsoTime("2026-12-01T01:00:00+01:00") // 1796083200000
 */
export function parseIsoTime(text: string): number | null {
  if (text.length > ISO_TIME_MAX_LENGTH) return null;
  const m = ISO_TIME.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  // Milliseconds: the first three digits of the fraction; finer digits are truncated (HA keeps µs).
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, "0"));
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMin = 0;
  const zone = m[8] as string;
  if (zone !== "Z" && zone !== "z") {
    const digits = zone.slice(1).replace(":", "");
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2));
    if (oh > 23 || om > 59) return null;
    offsetMin = (zone[0] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day);
  local.setUTCHours(hour, minute, second, ms);
  const at = local.getTime() - offsetMin * 60_000;
  return at >= 0 && at <= MAX_TIME_MS ? at : null;
}

/** A validated time parameter as epoch ms (the schema in fields.ts has already checked the text). */
export function timeMs(value: number | string): number {
  if (typeof value === "number") return value;
  const at = parseIsoTime(value);
  if (at === null) throw new RangeError(`not a time: ${JSON.stringify(value.slice(0, ISO_TIME_MAX_LENGTH))}`);
  return at;
}

/** The query keys that carry times. */
type TimeKey = "from" | "to" | "ts";

/** A query with its time keys as epoch ms. */
export type WithTimes<Q> = {
  [K in keyof Q]: K extends TimeKey
    ? Exclude<Q[K], string> | ([Extract<Q[K], string>] extends [never] ? never : number)
    : Q[K];
};

/**
 * The query with `from`, `to` and `ts` turned into epoch ms, for handlers.
 *
 * @example msTimes({ from: "2026-12-01T00:00:00Z", limit: 5 }) // { from: 1796083200000, limit: 5 }
 */
export function msTimes<Q extends object>(query: Q): WithTimes<Q> {
  const out = { ...query } as Record<string, unknown>;
  for (const key of ["from", "to", "ts"] as const) {
    const v = out[key];
    if (typeof v === "string" || typeof v === "number") out[key] = timeMs(v);
  }
  return out as WithTimes<Q>;
}
