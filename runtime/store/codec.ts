/**
 * Compact encodings of event fields: context ids (ULIDs as their random bits) and numeric states.
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

/**
 * How a context id is stored in `events.c` / `events.cp` since schema version 5, next to the row's
 * last_updated (µs): a ULID is its 80 random bits (10 bytes) followed, when its millisecond time differs
 * from the row's, by that difference as a zigzag varint (at most 5 bytes) — HA makes a context just before
 * the state it causes, so the difference is usually 0 and the id costs 10 bytes. A ULID further away (over
 * ~199 days) is its random bytes, a 0 byte and its 6 bytes of time; anything else is the text itself.
 * Every ULID form begins with its random bytes, so lookups compare a byte range (`contextRowsSql`).
 * Lengths tell the forms apart: 10..15 compact, 17 far, 16 as rows before version 5 hold it (time first).
 */
export function encodeContextId(text: string, rowUs: number): Uint8Array | string {
  return packContextId(text, rowUs, new Uint8Array(16), contextBuffers());
}

/** Buffers for `packContextId`, one per compact length (10..15 bytes), then the far form's 17. */
export const contextBuffers = (): Uint8Array[] => [
  ...Array.from({ length: 6 }, (_, i) => new Uint8Array(10 + i)),
  new Uint8Array(17),
];

/**
 * `encodeContextId` into buffers the caller keeps (the writer's hot path allocates nothing): the result
 * is one of `compact` (from `contextBuffers`; `full` is scratch), valid until the next call with them.
 */
export function packContextId(
  text: string,
  rowUs: number,
  full: Uint8Array,
  compact: Uint8Array[],
): Uint8Array | string {
  if (!encodeUlid(text, full)) return text;
  const delta = ulidMsOf(full) - Math.floor(rowUs / 1000);
  const zig = delta >= 0 ? delta * 2 : -delta * 2 - 1;
  if (!(zig < 2 ** 35)) {
    const far = compact[6];
    for (let i = 0; i < 10; i++) far[i] = full[6 + i];
    far[10] = 0;
    for (let i = 0; i < 6; i++) far[11 + i] = full[i];
    return far;
  }
  let tail = 0;
  for (let z = zig; z > 0; z = Math.floor(z / 128)) tail++;
  const out = compact[tail];
  for (let i = 0; i < 10; i++) out[i] = full[6 + i];
  let z = zig;
  for (let i = 10; i < out.length; i++) {
    const low = z % 128;
    z = Math.floor(z / 128);
    out[i] = z > 0 ? low | 128 : low;
  }
  return out;
}

/**
 * Inverse of `encodeContextId` for a value read from `events.c` / `events.cp` of a row whose
 * last_updated is `rowUs`.
 */
export function decodeContextId(stored: unknown, rowUs: number): string | null {
  if (stored === null || stored === undefined) return null;
  if (!(stored instanceof Uint8Array)) return String(stored);
  if (stored.length === 16) return decodeUlid(stored);
  if (stored.length === 17) {
    const full = new Uint8Array(16);
    full.set(stored.subarray(11, 17), 0);
    full.set(stored.subarray(0, 10), 6);
    return decodeUlid(full);
  }
  if (stored.length < 10 || stored.length > 15) return null;
  let zig = 0;
  let scale = 1;
  for (let i = 10; i < stored.length; i++) {
    zig += (stored[i] & 127) * scale;
    scale *= 128;
  }
  const delta = zig % 2 === 0 ? zig / 2 : -(zig + 1) / 2;
  // Straight to text (a reader decodes one per row): 10 digits of time, then 80 random bits as 16.
  const ms = Math.floor(rowUs / 1000) + delta;
  const out = ULID_CODES;
  // 48 bits of time in 32-bit integer steps: the low 30 bits as 6 digits, the high 18 as 4.
  let lo = ms % 2 ** 30;
  let hi = (ms - lo) / 2 ** 30;
  for (let i = 9; i >= 4; i--) {
    out[i] = CROCKFORD_CODES[lo & 31];
    lo >>>= 5;
  }
  for (let i = 3; i >= 0; i--) {
    out[i] = CROCKFORD_CODES[hi & 31];
    hi >>>= 5;
  }
  fiveBytes(stored, 0, out, 10);
  fiveBytes(stored, 5, out, 18);
  return ASCII.decode(out);
}

const CROCKFORD_CODES = Uint8Array.from(CROCKFORD, (c) => c.charCodeAt(0));
const ULID_CODES = new Uint8Array(26);
const ASCII = new TextDecoder();

/** 40 bits of `b` from `at` as 8 Crockford digits into `out` from `to`. */
function fiveBytes(b: Uint8Array, at: number, out: Uint8Array, to: number): void {
  const b0 = b[at];
  const b1 = b[at + 1];
  const b2 = b[at + 2];
  const b3 = b[at + 3];
  const b4 = b[at + 4];
  const c = CROCKFORD_CODES;
  out[to] = c[b0 >> 3];
  out[to + 1] = c[((b0 & 7) << 2) | (b1 >> 6)];
  out[to + 2] = c[(b1 >> 1) & 31];
  out[to + 3] = c[((b1 & 1) << 4) | (b2 >> 4)];
  out[to + 4] = c[((b2 & 15) << 1) | (b3 >> 7)];
  out[to + 5] = c[(b3 >> 2) & 31];
  out[to + 6] = c[((b3 & 3) << 3) | (b4 >> 5)];
  out[to + 7] = c[b4 & 31];
}

/**
 * What finds a context's rows with `contextRowsSql` (./schema.ts): the range every version-5 form of a
 * ULID lies in, [its 10 random bytes, the next 10 bytes), and its 16 bytes as rows before version 5 hold
 * it; for anything else the text, as the range [text, text + NUL) that holds only the text itself.
 * Matches are candidates: compare the decoded id (80 random bits rarely collide, but never say never).
 */
export function contextKeys(text: string): {
  full: Uint8Array | string;
  lo: Uint8Array | string;
  hi: Uint8Array | string;
} {
  const full = new Uint8Array(16);
  if (!encodeUlid(text, full)) return { full: text, lo: text, hi: `${text}\u0000` };
  const lo = full.slice(6);
  const hi = lo.slice();
  let i = hi.length - 1;
  while (i >= 0 && hi[i] === 255) hi[i--] = 0;
  if (i >= 0) hi[i]++;
  // All ones: no next 10 bytes; 18 bytes of 0xff sort after every form (at most 17 bytes) beginning so.
  return { full, lo, hi: i >= 0 ? hi : new Uint8Array(18).fill(255) };
}

function ulidMsOf(full: Uint8Array): number {
  let ms = 0;
  for (let i = 0; i < 6; i++) ms = ms * 256 + full[i];
  return ms;
}

/** Bits of `raw_events.x` (schema version 5) below the mantissa or state id. */
export const X_BITS = 4;
/** `x` of a number without the short form (`"1e+21"`): the number is in `raw_events.m`. */
export const X_NUMBER = 13;
/** `x & 15`: a text state that reads as a number (`"21.50"`): `s = x >> 4`, the number in `vl`. */
export const X_TEXT_NUMBER = 14;
/** `x & 15`: a text state (`v` NULL), `s = x >> 4`. */
export const X_TEXT = 15;
/** Decimals a short form holds (x & 15 = 0..12). */
const DECIMALS_MAX = 12;
const POW10 = Array.from({ length: DECIMALS_MAX + 1 }, (_, k) => 10 ** k);
/** |mantissa| below this keeps `mantissa * 16 + decimals` an exact JS integer. */
const MANTISSA_MAX = 2 ** 48;

/**
 * The number a stored state holds (`v` of the `events` view), from `raw_events.x` and `vl` (in `raw_events.m`): what the view's
 * SQL gives, computed in JS (the store's readers; cheaper than the view's CASE per row). `x` is a whole
 * number below 2^53 (mantissa below 2^48), so `%` and `/` are exact; `(x >> 4)` in SQL floors.
 */
export function stateValue(x: number, vl: number | null): number | null {
  const k = ((x % 16) + 16) % 16;
  if (k < X_NUMBER) return (x - k) / 16 / POW10[k];
  return k === X_TEXT ? null : vl;
}

/** The `states.s` of a stored state (`s` of the `events` view), or null for a number. */
export function stateId(x: number): number | null {
  const k = ((x % 16) + 16) % 16;
  return k >= X_TEXT_NUMBER ? (x - k) / 16 : null;
}

/**
 * `raw_events.x` for a canonical number state (`canonicalNumber(state)` = `value`): the decimal mantissa
 * times 16 plus the number of decimals (`"21.5"` → 215 * 16 + 1), an integer of 1-4 bytes where the REAL
 * was 8; `(x >> 4) / 10^(x & 15)` gives back the very same double (both sides are exact, and IEEE division
 * rounds correctly). Null when the number has no such form (an exponent, 13+ decimals, 15+ digits).
 */
export function encodeDecimal(state: string, value: number): number | null {
  if (state.indexOf("e") >= 0) return null;
  const dot = state.indexOf(".");
  const k = dot < 0 ? 0 : state.length - dot - 1;
  if (k > DECIMALS_MAX) return null;
  const m = k === 0 ? value : Math.round(value * POW10[k]);
  if (!(Math.abs(m) < MANTISSA_MAX)) return null;
  if ((k === 0 ? m : m / POW10[k]) !== value) return null;
  return m * 16 + k;
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

/**
 * The attributes `text` as a JSON merge patch (RFC 7396, SQLite's `json_patch`) of `baseText`, when that
 * is small and exact: both objects with the same keys in the same order, the changed values none null
 * (a null in a patch deletes the key). Null otherwise: the text is then stored whole. An entity's
 * attributes mostly change in a value or two (a thermostat's current_temperature, a light's brightness),
 * and a whole copy per change was most of a busy home's bytes (bench/store.bench.ts, replayed home).
 */
export function attributesPatch(baseText: string, text: string): string | null {
  let base: unknown;
  let next: unknown;
  try {
    base = JSON.parse(baseText);
    next = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isPlainObject(base) || !isPlainObject(next)) return null;
  const keys = Object.keys(base);
  const nextKeys = Object.keys(next);
  if (keys.length !== nextKeys.length) return null;
  const patch: Record<string, unknown> = {};
  let changed = 0;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (nextKeys[i] !== k) return null;
    const v = next[k];
    if (JSON.stringify(v) === JSON.stringify(base[k])) continue;
    if (v === null) return null;
    patch[k] = v;
    changed++;
  }
  if (changed === 0) return null;
  const out = JSON.stringify(patch);
  return out.length * 2 < text.length ? out : null;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Most row times one entity posting holds (./entity-rows.ts): its BLOB stays under ~1 KB, inside a b-tree page (no overflow page). */
export const POSTING_IDS_MAX = 192;

/** Times `ts` (ascending, distinct) as varint deltas after the first (which is the posting's `lo`). */
export function encodePosting(ts: readonly number[], from: number, to: number): Uint8Array {
  const out = new Uint8Array((to - from) * 7);
  let n = 0;
  for (let i = from + 1; i < to; i++) {
    let d = ts[i] - ts[i - 1];
    while (d >= 128) {
      out[n++] = (d % 128) | 128;
      d = Math.floor(d / 128);
    }
    out[n++] = d;
  }
  return out.subarray(0, n);
}

/** Appends the times of a posting (`lo` and its BLOB) to `out`, ascending. */
export function decodePosting(lo: number, blob: Uint8Array | null, out: number[]): void {
  let t = lo;
  out.push(t);
  if (blob === null) return;
  let d = 0;
  let mul = 1;
  for (let i = 0; i < blob.length; i++) {
    const b = blob[i];
    d += (b & 127) * mul;
    if (b < 128) {
      t += d;
      out.push(t);
      d = 0;
      mul = 1;
    } else mul *= 128;
  }
}
