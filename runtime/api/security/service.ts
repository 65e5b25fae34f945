/**
 * Request security without Elysia's Context: token comparison, per-client token buckets, CORS decisions,
 * request ids and the per-request context every log line of a request carries.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { Logger } from "../../kernel/log.ts";
import type { IngressInfo } from "./ingress.ts";

/** Compares a presented token with the real one in time independent of where they differ. */
export function tokenMatches(presented: string | null | undefined, token: string): boolean {
  // Hashing first gives equal-length inputs, so neither the length nor the content leaks through timing.
  const a = createHash("sha256")
    .update(presented ?? "")
    .digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b) && presented !== undefined && presented !== null;
}

/** The token from `Authorization: Bearer <token>`, or null. */
export function bearerToken(header: string | null): string | null {
  if (!header) return null;
  const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
  return match ? match[1] : null;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-ID when it is a sane token, else a fresh one (a bad id is replaced, not echoed). */
export function requestIdFor(header: string | null, make: () => string = randomUUID): string {
  return header && REQUEST_ID.test(header) ? header : make();
}

export interface RequestContext {
  id: string;
  /** Logger whose lines carry `cid: id`. */
  log: Logger;
  startedAt: number;
  /** Set when the request came through Home Assistant's ingress listener (ingress.ts). */
  ingress?: IngressInfo;
}

const contexts = new WeakMap<Request, RequestContext>();

export function attachRequestContext(request: Request, ctx: RequestContext): void {
  contexts.set(request, ctx);
}

export function requestContext(request: Request): RequestContext | undefined {
  return contexts.get(request);
}

/**
 * Token buckets per client: `perMinute` requests of burst, refilled continuously. At most `maxClients`
 * buckets are kept; the least recently seen client is forgotten first (it starts again with a full bucket).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxClients: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `client`; returns 0 when allowed, else the ms until a token is available. */
  take(client: string): number {
    const now = this.now();
    let bucket = this.buckets.get(client);
    if (bucket) {
      this.buckets.delete(client);
      bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((now - bucket.at) * this.perMinute) / 60000);
      bucket.at = now;
    } else {
      bucket = { tokens: this.perMinute, at: now };
      if (this.buckets.size >= this.maxClients) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    }
    this.buckets.set(client, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 60000) / this.perMinute);
  }

  get clients(): number {
    return this.buckets.size;
  }
}

/** Whether a browser origin may call the API; the list is empty (closed) unless configured. */
export function originAllowed(origin: string | null, allowed: readonly string[]): boolean {
  if (!origin || allowed.length === 0) return false;
  return allowed.includes("*") || allowed.includes(origin);
}

/** How many rounds of percent-decoding a path gets before it is judged (`%252F` -> `%2F` -> `/`). */
const DECODE_ROUNDS = 3;

/**
 * The path as the access decision sees it: percent-decoded until stable (so `%2F` is a slash and `%61` an
 * `a`), lower case, runs of slashes collapsed, no trailing slash. Null when it does not decode, still holds
 * a `%` after DECODE_ROUNDS, or has a `.`/`..` segment, a backslash or a NUL: such a path is never public.
 */
export function canonicalPath(path: string): string | null {
  let decoded = path;
  for (let round = 0; decoded.includes("%"); round++) {
    if (round === DECODE_ROUNDS) return null;
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      return null;
    }
  }
  if (decoded.includes("\\") || decoded.includes("\0")) return null;
  const segments = decoded
    .toLowerCase()
    .split("/")
    .filter((s) => s !== "");
  if (segments.some((s) => s === "." || s === "..")) return null;
  return `/${segments.join("/")}`;
}

/**
 * Who may call what, default deny. Public: the exact paths in `publicPaths` and the dashboard's files,
 * which are every path whose first segment no protected route uses. Every other registered route is
 * protected by its first segment (`/api`, `/health`, `/metrics`, ...), so a route added later needs the
 * token without anyone listing it; a route whose first segment is a parameter or wildcard protects
 * everything but `publicPaths`. Both the raw path and its canonical form must be public.
 *
 * @example
 * const policy = new AccessPolicy(["/health"], ["/", "/*"]);
 * policy.protectRoutes(app.routes);
 * policy.isPublic("/metrics/"); // false once /metrics is a route
 */
export class AccessPolicy {
  private readonly publicPaths: ReadonlySet<string>;
  private readonly dashboardRoutes: ReadonlySet<string>;
  private readonly reserved = new Set<string>();
  private reserveAll = false;

  constructor(publicPaths: readonly string[], dashboardRoutes: readonly string[]) {
    this.publicPaths = new Set(publicPaths.map((p) => canonicalPath(p) ?? p));
    this.dashboardRoutes = new Set(dashboardRoutes);
  }

  /** Protects every route that is neither a public path nor the dashboard's (call with `app.routes`). */
  protectRoutes(routes: readonly { path: string }[]): void {
    for (const { path } of routes) {
      if (this.dashboardRoutes.has(path) || this.publicPaths.has(canonicalPath(path) ?? "")) continue;
      const first = path.split("/").find((s) => s !== "") ?? "";
      if (first === "" || first.startsWith(":") || first.includes("*")) this.reserveAll = true;
      else this.reserved.add(first.toLowerCase());
    }
  }

  /** Whether a request path may be served without the token. */
  isPublic(path: string): boolean {
    const canonical = canonicalPath(path);
    if (canonical === null) return false;
    // The raw form too: a router that decodes less than canonicalPath must not find a protected route.
    const raw = `/${path
      .toLowerCase()
      .split("/")
      .filter((s) => s !== "")
      .join("/")}`;
    return this.publicView(canonical) && this.publicView(raw);
  }

  private publicView(path: string): boolean {
    if (this.publicPaths.has(path)) return true;
    if (this.reserveAll) return false;
    const end = path.indexOf("/", 1);
    return !this.reserved.has(path.slice(1, end < 0 ? undefined : end));
  }
}
