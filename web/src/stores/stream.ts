/**
 * The live stream connection. Mounted while anything shows it (the app shell's status badge), it keeps
 * one fetch-based SSE connection open with the bearer token, feeds events into `$liveEvents`, and
 * reconnects by itself with exponential backoff and jitter. A 401 stops retrying and asks for a token.
 */
import { atom, onMount } from "nanostores";
import { backoffDelay } from "../../../runtime/kernel/clock.ts";
import { api, bearerFor } from "../api.ts";
import { decodeEvents, type LiveEvent } from "../live-event.ts";
import { readSse, type StreamEnd } from "../sse.ts";
import { receiveEvents } from "./live-events.ts";
import { $token, rejectToken } from "./token.ts";

export const STREAM_RETRY_MIN_MS = 500;
export const STREAM_RETRY_MAX_MS = 15000;

export type StreamStatus = "idle" | "connecting" | "open" | "reconnecting" | "unauthorized";

export interface StreamState {
  status: StreamStatus;
  /** Consecutive failed attempts; 0 while open. */
  attempt: number;
  /** When the next attempt starts (ms since epoch), while reconnecting. */
  retryAt: number | null;
  /** Why the last connection ended, or the server's last notice. */
  lastError: string | null;
}

export const $stream = atom<StreamState>({ status: "idle", attempt: 0, retryAt: null, lastError: null });

function describe(end: StreamEnd): string {
  switch (end.kind) {
    case "closed":
      return "the server closed the stream";
    case "unauthorized":
      return "the API token was rejected";
    case "http":
      return `HTTP ${end.status}${end.body ? `: ${end.body}` : ""}`;
    case "network":
      return `network error: ${end.message}`;
  }
}

onMount($stream, () => {
  let stopped = false;
  let controller = new AbortController();
  let wake: (() => void) | null = null;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  // A new token or the network coming back: stop waiting and reconnect now.
  const reconnectNow = () => {
    controller.abort();
    wake?.();
  };
  const unlistenToken = $token.listen(reconnectNow);
  const onOnline = () => wake?.();
  window.addEventListener("online", onOnline);

  async function loop(): Promise<void> {
    let attempt = 0;
    while (!stopped) {
      const token = $token.get().token;
      if (!token) {
        $stream.set({
          status: $token.get().rejected ? "unauthorized" : "idle",
          attempt: 0,
          retryAt: null,
          lastError: null,
        });
        await sleep(3_600_000);
        continue;
      }
      controller = new AbortController();
      let notice: string | null = null;
      $stream.set({ ...$stream.get(), status: attempt === 0 ? "connecting" : "reconnecting", retryAt: null });
      const end = await readSse(
        api.streamUrl(),
        bearerFor(token),
        controller.signal,
        () => {
          attempt = 0;
          $stream.set({ status: "open", attempt: 0, retryAt: null, lastError: null });
        },
        (message) => {
          // Server events: ready (filter in force), state (one StoredEvent), ping (idle keep-alive), and a
          // final overflow when this client fell behind (the stream then ends and we reconnect).
          if (message.event === "state") {
            const batch: LiveEvent[] = [];
            try {
              decodeEvents(JSON.parse(message.data), batch);
            } catch {
              return;
            }
            receiveEvents(batch);
          } else if (message.event === "overflow") {
            notice = "the server cut the stream off because this page fell behind";
            try {
              const data = JSON.parse(message.data) as { error?: unknown };
              if (typeof data.error === "string") notice = data.error;
            } catch {}
          }
        },
      );
      if (stopped) break;
      if (end.kind === "unauthorized") {
        rejectToken();
        attempt = 0;
        continue;
      }
      if (controller.signal.aborted && $token.get().token !== token) {
        attempt = 0;
        continue;
      }
      const delay = backoffDelay(attempt, STREAM_RETRY_MIN_MS, STREAM_RETRY_MAX_MS);
      attempt++;
      $stream.set({
        status: "reconnecting",
        attempt,
        retryAt: Date.now() + delay,
        lastError: notice ?? describe(end),
      });
      await sleep(delay);
    }
  }
  void loop();

  return () => {
    stopped = true;
    unlistenToken();
    window.removeEventListener("online", onOnline);
    controller.abort();
    wake?.();
    $stream.set({ status: "idle", attempt: 0, retryAt: null, lastError: null });
  };
});
