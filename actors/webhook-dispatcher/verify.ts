/**
 * Signing and verification of HomeIQ webhooks. Receivers import `verify` (it needs only node:crypto, so it
 * runs in Node, Bun and Deno); the dispatcher uses `sign`.
 *
 * Every delivery carries:
 * - `X-HomeIQ-Delivery`: the delivery id (stable across retries and replays: the idempotency key);
 * - `X-HomeIQ-Event`: what happened (`state_changed`, `threshold_crossed`, `enrichment`, `health`, `test`);
 * - `X-HomeIQ-Timestamp`: Unix seconds when this attempt was signed;
 * - `X-HomeIQ-Signature`: `v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
 *
 * @example
 * const body = await request.text();
 * const result = verify({ secret, body, timestamp: request.headers.get("x-homeiq-timestamp"),
 *   signature: request.headers.get("x-homeiq-signature") });
 * if (!result.ok) return new Response(result.reason, { status: 401 });
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const HEADERS = {
  delivery: "X-HomeIQ-Delivery",
  event: "X-HomeIQ-Event",
  timestamp: "X-HomeIQ-Timestamp",
  signature: "X-HomeIQ-Signature",
} as const;

/** `v1=<hex>` over `timestamp + "." + body`; `timestamp` in Unix seconds. */
export function sign(secret: string, timestamp: number | string, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export interface VerifyInput {
  secret: string;
  /** The raw request body, exactly as received (do not re-serialise parsed JSON). */
  body: string;
  /** The X-HomeIQ-Timestamp header. */
  timestamp: string | number | null | undefined;
  /** The X-HomeIQ-Signature header; several comma-separated `v1=` values are accepted (secret rotation). */
  signature: string | null | undefined;
  /** Oldest (and furthest future) signature accepted, in seconds. */
  toleranceSec?: number;
  /** Current time in ms since the epoch; defaults to Date.now(). */
  now?: number;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** Checks a webhook's signature and age; a valid signature outside the tolerance is a replay and fails. */
export function verify(input: VerifyInput): VerifyResult {
  const tolerance = input.toleranceSec ?? 300;
  const now = input.now ?? Date.now();
  const ts = typeof input.timestamp === "number" ? input.timestamp : Number(input.timestamp ?? Number.NaN);
  if (!Number.isInteger(ts)) return { ok: false, reason: "missing or malformed X-HomeIQ-Timestamp" };
  if (Math.abs(now / 1000 - ts) > tolerance)
    return { ok: false, reason: `timestamp outside the ${tolerance} s tolerance (replay or clock skew)` };
  if (!input.signature) return { ok: false, reason: "missing X-HomeIQ-Signature" };
  const expected = Buffer.from(sign(input.secret, ts, input.body));
  for (const part of input.signature.split(",")) {
    const given = Buffer.from(part.trim());
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: "signature does not match" };
}
