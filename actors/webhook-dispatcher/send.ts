/**
 * One signed webhook POST: the target checked and pinned (targets.ts), the response read only as far as
 * `webhooks.responseMaxBytes`. Never throws: every way it can end is an `Outcome`.
 *
 * The body of the answer is not needed (the status decides), but it is read, up to the cap, so the
 * connection can be reused; past the cap the stream is cancelled. A target answering with gigabytes or an
 * endless stream costs at most the cap and never more memory than one chunk.
 */
import { errorMessage } from "../../runtime/kernel/log.ts";
import type { Outcome } from "./delivery.ts";
import { canonicalHost } from "./ip.ts";
import { type Lookup, pinnedUrl, type TargetPolicy } from "./targets.ts";
import { HEADERS, sign } from "./verify.ts";

export type FetchLike = (url: string, init: BunFetchRequestInit) => Promise<Response>;

export interface SendDeps {
  fetch: FetchLike;
  targets: TargetPolicy;
  lookup: Lookup;
  timeoutMs: number;
  responseMaxBytes: number;
}

export interface Sent {
  outcome: Outcome;
  /** Bytes of the answer read (at most responseMaxBytes plus one chunk). */
  responseBytes: number;
  /** The answer was longer than responseMaxBytes and was cut off. */
  truncated: boolean;
}

/** Reads and discards a response body, stopping (and cancelling the stream) once past `max` bytes. */
export async function drainCapped(
  res: Response,
  max: number,
): Promise<{ bytes: number; truncated: boolean }> {
  const reader = res.body?.getReader();
  if (!reader) return { bytes: 0, truncated: false };
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes, truncated: false };
      bytes += value.byteLength;
      if (bytes > max) {
        await reader.cancel().catch(() => undefined);
        return { bytes, truncated: true };
      }
    }
  } catch {
    // The status has arrived; a body that breaks off (timeout, reset) changes nothing about it.
    return { bytes, truncated: false };
  }
}

const aborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });

/** POSTs `body` to `rawUrl`, signed with `secret` at `timestampSec`. */
export async function sendSigned(
  d: SendDeps,
  rawUrl: string,
  secret: string,
  delivery: { id: string; event: string; body: string },
  timestampSec: number,
): Promise<Sent> {
  const signal = AbortSignal.timeout(d.timeoutMs);
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return {
      outcome: { error: `"${rawUrl}" is not a URL`, refused: true },
      responseBytes: 0,
      truncated: false,
    };
  }
  try {
    const target = await Promise.race([d.targets.resolve(url, d.lookup), aborted(signal)]);
    if (!target.ok)
      return { outcome: { error: target.error, refused: true }, responseBytes: 0, truncated: false };
    const isName = canonicalHost(url.hostname)?.kind === "name";
    const res = await d.fetch(pinnedUrl(url, target.address, target.family), {
      method: "POST",
      headers: {
        host: url.host,
        "content-type": "application/json",
        "user-agent": "HomeIQ-Webhooks/1",
        [HEADERS.delivery]: delivery.id,
        [HEADERS.event]: delivery.event,
        [HEADERS.timestamp]: String(timestampSec),
        [HEADERS.signature]: sign(secret, timestampSec, delivery.body),
      },
      body: delivery.body,
      redirect: "manual",
      signal,
      // Connected to the checked address; TLS still verifies the certificate against the name.
      ...(url.protocol === "https:" && isName ? { tls: { serverName: url.hostname } } : {}),
    });
    const read = await drainCapped(res, d.responseMaxBytes);
    return {
      outcome: { status: res.status, retryAfter: res.headers.get("retry-after") },
      responseBytes: read.bytes,
      truncated: read.truncated,
    };
  } catch (error) {
    return { outcome: { error: errorMessage(error) }, responseBytes: 0, truncated: false };
  }
}
