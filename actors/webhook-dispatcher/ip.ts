/**
 * Host names and IP literals in one canonical form, and what kind of network an address belongs to.
 * Webhook targets are compared in this form, so `0x7f000001`, `2130706433`, `0177.0.0.1`, `127.1` and
 * `[::ffff:127.0.0.1]` are all the one address 127.0.0.1, and an allowlist cannot be walked around by
 * spelling an address differently.
 */
import { isIP } from "node:net";

/** A host as the policy compares it: an IP address in canonical text, or a lowercase name. */
export type CanonicalHost =
  | { kind: "ip"; family: 4 | 6; text: string; cls: AddressClass }
  | { kind: "name"; text: string };

/**
 * - `public`: everything not listed below.
 * - `private`: RFC 1918, shared address space (100.64/10), IPv6 unique-local and site-local.
 * - `loopback`, `link-local` (169.254/16, fe80::/10: cloud metadata lives here), `unspecified` (0/8, ::),
 *   `multicast`, `reserved` (240/4, broadcast, documentation and benchmarking ranges, IPv4-compatible ::/96).
 */
export type AddressClass =
  | "public"
  | "private"
  | "loopback"
  | "link-local"
  | "unspecified"
  | "multicast"
  | "reserved";

const HOST_MAX = 255;

function parsePart(part: string): number | undefined {
  let radix = 10;
  let digits = part;
  if (/^0[xX]/.test(part)) {
    radix = 16;
    digits = part.slice(2);
    if (digits === "") return 0; // as WHATWG URL and inet_aton read "0x"
  } else if (part.length > 1 && part[0] === "0") {
    radix = 8;
    digits = part.slice(1);
  }
  const ok = radix === 16 ? /^[0-9a-fA-F]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!ok.test(digits)) return undefined;
  const value = Number.parseInt(digits, radix);
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * inet_aton's forms, as WHATWG URL also reads them: `a.b.c.d`, `a.b.c` (c fills 16 bits), `a.b` (b fills
 * 24), `a` (32), each part decimal, octal with a leading 0, or hex with 0x; one trailing dot allowed.
 * Returns the address as an unsigned 32-bit number, or undefined when `text` is not such a literal.
 */
export function parseIPv4Loose(text: string): number | undefined {
  if (text.length === 0 || text.length > HOST_MAX) return undefined;
  const parts = text.split(".");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  if (parts.length === 0 || parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    if (part === "") return undefined;
    const v = parsePart(part);
    if (v === undefined) return undefined;
    values.push(v);
  }
  const last = values.pop() as number;
  if (values.some((v) => v > 255)) return undefined;
  if (last >= 256 ** (4 - values.length)) return undefined;
  let address = 0;
  for (let i = 0; i < values.length; i++) address += values[i] * 256 ** (3 - i);
  return address + last;
}

/** Whether `text` looks numeric to a URL parser (its last label is a number), so it must be an IPv4. */
const endsInNumber = (text: string): boolean => {
  const labels = text.replace(/\.$/, "").split(".");
  return /^(0[xX][0-9a-fA-F]*|[0-9]+)$/.test(labels[labels.length - 1] ?? "");
};

/** An IPv6 literal (no brackets, no zone) as eight 16-bit groups, or undefined. */
export function parseIPv6(text: string): number[] | undefined {
  if (text.length > 64 || isIP(text) !== 6 || text.includes("%")) return undefined;
  let head = text;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(head);
  if (v4) {
    const a = v4[1].split(".").map(Number);
    tail.push((a[0] << 8) | a[1], (a[2] << 8) | a[3]);
    head = head.slice(0, -v4[1].length);
    if (head.endsWith(":") && !head.endsWith("::")) head = head.slice(0, -1);
  }
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const gap = head.indexOf("::");
  let out: number[];
  if (gap >= 0) {
    const left = groups(head.slice(0, gap));
    const right = [...groups(head.slice(gap + 2)), ...tail];
    out = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  } else out = [...groups(head), ...tail];
  return out.length === 8 && out.every((g) => g >= 0 && g <= 0xffff) ? out : undefined;
}

export const ipv4Text = (a: number): string =>
  `${(a >>> 24) & 255}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;

/** RFC 5952 text: lowercase, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function ipv6Text(g: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: readonly number[]) => a.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

const inV4 = (a: number, base: string, bits: number): boolean => {
  const b = parseIPv4Loose(base) as number;
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
};

export function classifyIPv4(a: number): AddressClass {
  if (inV4(a, "0.0.0.0", 8)) return "unspecified";
  if (inV4(a, "127.0.0.0", 8)) return "loopback";
  if (inV4(a, "169.254.0.0", 16)) return "link-local";
  if (inV4(a, "10.0.0.0", 8) || inV4(a, "172.16.0.0", 12) || inV4(a, "192.168.0.0", 16)) return "private";
  if (inV4(a, "100.64.0.0", 10)) return "private";
  if (inV4(a, "224.0.0.0", 4)) return "multicast";
  if (
    inV4(a, "240.0.0.0", 4) ||
    inV4(a, "192.0.0.0", 24) ||
    inV4(a, "192.0.2.0", 24) ||
    inV4(a, "198.18.0.0", 15) ||
    inV4(a, "198.51.100.0", 24) ||
    inV4(a, "203.0.113.0", 24)
  )
    return "reserved";
  return "public";
}

const v4Of = (hi: number, lo: number): number => hi * 65536 + lo;

/** IPv6 ranges; NAT64 (64:ff9b::/96) and 6to4 (2002::/16) are judged by the IPv4 address they carry. */
export function classifyIPv6(g: readonly number[]): AddressClass {
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return "unspecified";
  if (zeros(0, 7) && g[7] === 1) return "loopback";
  if (zeros(0, 5) && g[5] === 0xffff) return classifyIPv4(v4Of(g[6], g[7]));
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return classifyIPv4(v4Of(g[6], g[7]));
  if (g[0] === 0x2002) return classifyIPv4(v4Of(g[1], g[2]));
  if (zeros(0, 6)) return "reserved"; // IPv4-compatible (deprecated)
  if ((g[0] & 0xffc0) === 0xfe80) return "link-local";
  if ((g[0] & 0xfe00) === 0xfc00 || (g[0] & 0xffc0) === 0xfec0) return "private";
  if ((g[0] & 0xff00) === 0xff00) return "multicast";
  if ((g[0] === 0x100 && zeros(1, 4)) || (g[0] === 0x2001 && g[1] === 0xdb8)) return "reserved";
  return "public";
}

/**
 * A URL hostname, config entry or resolved address in canonical form: brackets and one trailing dot
 * dropped, names lowercased, every IPv4 spelling to dotted decimal, IPv4-mapped IPv6 to its IPv4.
 * Undefined for text no host can be (a numeric-looking name that is not a valid address, bad IPv6).
 */
export function canonicalHost(raw: string): CanonicalHost | undefined {
  let h = raw.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h.length === 0 || h.length > HOST_MAX) return undefined;
  if (h.includes(":")) {
    const g = parseIPv6(h);
    if (!g) return undefined;
    if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
      const a = v4Of(g[6], g[7]);
      return { kind: "ip", family: 4, text: ipv4Text(a), cls: classifyIPv4(a) };
    }
    return { kind: "ip", family: 6, text: ipv6Text(g), cls: classifyIPv6(g) };
  }
  if (h.endsWith(".")) h = h.slice(0, -1);
  if (h.length === 0) return undefined;
  if (endsInNumber(h)) {
    const a = parseIPv4Loose(h);
    if (a === undefined) return undefined;
    return { kind: "ip", family: 4, text: ipv4Text(a), cls: classifyIPv4(a) };
  }
  return { kind: "name", text: h };
}
