/**
 * A real local webhook receiver for tests and the benchmark: Bun.serve on 127.0.0.1, port 0. It checks
 * every signature with `verify()`, records each attempt, and fails the first `failFirst` attempts of each
 * delivery id (optionally with Retry-After) before answering 200.
 */
import { HEADERS, verify } from "../../actors/webhook-dispatcher/verify.ts";

export interface ReceivedAttempt {
  id: string;
  event: string;
  timestamp: string;
  signature: string;
  verified: boolean;
  status: number;
  body: string;
  at: number;
}

export interface ReceiverOptions {
  secret: string;
  failFirst?: number;
  failStatus?: number;
  retryAfter?: string;
  /** Holds each request this long before answering (for concurrency tests). */
  holdMs?: number;
}

export function startReceiver(opts: ReceiverOptions) {
  const attempts: ReceivedAttempt[] = [];
  const perId = new Map<string, number>();
  let concurrent = 0;
  let maxConcurrent = 0;
  const state = { failFirst: opts.failFirst ?? 0 };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      try {
        const body = await req.text();
        const id = req.headers.get(HEADERS.delivery) ?? "";
        const timestamp = req.headers.get(HEADERS.timestamp) ?? "";
        const verified = verify({
          secret: opts.secret,
          body,
          timestamp,
          signature: req.headers.get(HEADERS.signature),
        }).ok;
        const n = (perId.get(id) ?? 0) + 1;
        perId.set(id, n);
        if (opts.holdMs) await Bun.sleep(opts.holdMs);
        const fail = n <= state.failFirst;
        const status = !verified ? 401 : fail ? (opts.failStatus ?? 503) : 200;
        attempts.push({
          id,
          signature: req.headers.get(HEADERS.signature) ?? "",
          event: req.headers.get(HEADERS.event) ?? "",
          timestamp,
          verified,
          status,
          body,
          at: Date.now(),
        });
        const headers: Record<string, string> = {};
        if (fail && opts.retryAfter) headers["retry-after"] = opts.retryAfter;
        return new Response(status === 200 ? "ok" : "no", { status, headers });
      } finally {
        concurrent--;
      }
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/api/webhook/test`,
    attempts,
    state,
    get maxConcurrent() {
      return maxConcurrent;
    },
    /** Delivery ids the receiver accepted (200), in order. */
    delivered: () => attempts.filter((a) => a.status === 200).map((a) => a.id),
    stop: () => server.stop(true),
  };
}
