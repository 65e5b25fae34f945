/**
 * Compact encodings of event fields: context ids (ULIDs as 16 bytes) and numeric states.
 * Both are exact: decoding gives back the very text that came in, or the encoder declines.
 */

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < CROCKFORD.length; i++) DIGIT[CROCKFORD.charCodeAt(i)] = i;

/**
 * Writes a canonical (upper-case, 26-char, first digit ≤ 7) ULID into `out` as its 128 bits, big-endian.
 * Returns false (and leaves the text to be stored as is) for anything else, so decoding is always exact.
 */
export function encodeUlid(text: string, out: Uint8Array): boolean {
  if (text.length !== 26) return false;
  const first = text.charCodeAt(0);
  if (first < 48 || first > 55) return false;
  // 26 digits * 5 bits = 130 bits; the top 2 bits are zero (first digit ≤ 7). Shift bits in, byte by byte.
  let acc = 0;
  let bits = -2;
  let j = 0;
  for (let i = 0; i < 26; i++) {
    const c = text.charCodeAt(i);
    const d = c < 128 ? DIGIT[c] : -1;
    if (d < 0) return false;
    acc = (acc << 5) | d;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  return j === 16;
}

/** The ULID text of 16 bytes written by `encodeUlid`. */
export function decodeUlid(bytes: Uint8Array): string {
  let text = "";
  let acc = 0;
  let bits = 2; // two leading zero bits make 130 = 26 * 5
  for (let i = 0; i < 16; i++) {
    acc = (acc << 8) | bytes[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      text += CROCKFORD[(acc >> bits) & 31];
      acc &= (1 << bits) - 1;
    }
  }
  return text;
}

/** The millisecond timestamp a ULID carries (its first 10 digits), or null when the text is not a ULID. */
export function ulidTimeMs(text: string): number | null {
  if (text.length !== 26) return null;
  let ms = 0;
  for (let i = 0; i < 10; i++) {
    const c = text.charCodeAt(i);
    const d = c < 128 ? DIGIT[c] : -1;
    if (d < 0) return null;
    ms = ms * 32 + d;
  }
  return ms;
}

/** How a context id is stored in `events.c` / `events.cp`: 16 bytes for a ULID, else the text itself. */
export function encodeContextId(text: string): Uint8Array | string {
  const out = new Uint8Array(16);
  return encodeUlid(text, out) ? out : text;
}

/** Inverse of `encodeContextId` for a value read from `events.c` / `events.cp`. */
export function decodeContextId(stored: unknown): string | null {
  if (stored === null || stored === undefined) return null;
  if (stored instanceof Uint8Array) return decodeUlid(stored);
  return String(stored);
}

/**
 * The number a state text stands for, when the text is exactly how that number prints (`"21.5"`, `"-3"`,
 * `"1e+21"`); NaN otherwise. Such states are stored as the number alone and printed back identically.
 */
export function canonicalNumber(state: string): number {
  const n = state.length;
  if (n === 0 || n > 24) return Number.NaN;
  const c = state.charCodeAt(0);
  // Quick reject of the common non-numeric states ("on", "unavailable", ...): must start with - or a digit.
  if (c !== 45 && (c < 48 || c > 57)) return Number.NaN;
  const value = Number(state);
  return Number.isFinite(value) && String(value) === state ? value : Number.NaN;
}

/** A number as a float for Influx and charts, or null when the state is not numeric at all. */
export function looseNumber(state: string): number | null {
  // An empty state is no number (Number("") is 0, and charCodeAt of "" is NaN, which passes every range test).
  if (state.length === 0) return null;
  const c = state.charCodeAt(0);
  if (c !== 45 && c !== 43 && c !== 46 && (c < 48 || c > 57)) return null;
  const value = Number(state);
  return Number.isFinite(value) ? value : null;
}
