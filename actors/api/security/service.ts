/**
 * Request security without Elysia's Context: token comparison, per-client token buckets, CORS decisions,
 * request ids and the per-request context every log line of a request carries.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { Logger } from "../../../runtime/log.ts";

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

/** Paths that need the bearer token: the API, the Prometheus endpoint and the deep health check. */
export function isProtected(path: string): boolean {
  return path.startsWith("/api/") || path === "/metrics" || path.startsWith("/health/");
}
