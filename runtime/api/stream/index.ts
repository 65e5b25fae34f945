/**
 * `GET /api/v1/stream`: Server-Sent Events of live state changes, filterable by entity and domain.
 * Events: `ready` (the filter in force), `state` (a StoredEvent as JSON, `id` = its time in ms), `ping`
 * when idle, and a final `overflow` when the client fell `api.sseQueueMax` events behind: the stream then
 * ends and the client should catch up from `/api/v1/events?from=<last id>` and reconnect. At most
 * `api.sseMaxClients` streams are open at once; one more is a 503 before the stream starts.
 */

import { Elysia, sse } from "elysia";
import type { ApiDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { knownQuery } from "../fields.ts";
import { StreamQuery } from "./model.ts";
import { HEARTBEAT_MS, streamFilter } from "./service.ts";

export function stream(deps: Pick<ApiDeps, "live" | "config">, heartbeatMs = HEARTBEAT_MS) {
  return new Elysia({ detail: { tags: ["stream"] } }).get(
    "/api/v1/stream",
    async function* ({ query, request }) {
      const filter = streamFilter(query);
      const sub = deps.live.trySubscribe(filter, deps.config.api.sseMaxClients);
      // Thrown before the first event, so the client gets a plain JSON error, not a stream.
      if (!sub)
        throw new ApiError(503, `the live stream already has ${deps.config.api.sseMaxClients} clients`, {
          expected:
            "fewer open streams (close other dashboard tabs or clients), or a higher HOMEIQ_API_SSE_MAX_CLIENTS; retry later",
        });
      // A client that goes away ends its subscription at once, even while the generator waits.
      request.signal?.addEventListener("abort", () => sub.close(), { once: true });
      try {
        yield sse({
          event: "ready",
          data: {
            entityIds: [...filter.entityIds],
            domains: [...filter.domains],
            queueMax: deps.config.api.sseQueueMax,
          },
        });
        for (;;) {
          const item = await sub.next(heartbeatMs);
          if (item === null) return;
          if (item.type === "idle") yield sse({ event: "ping", data: { at: Date.now() } });
          else if (item.type === "event")
            yield sse({ event: "state", id: item.event.ts, data: item.event.data });
          else {
            yield sse({
              event: "overflow",
              data: {
                error: `this client fell ${item.queueMax} events behind and was cut off`,
                lastId: item.lastTs,
                expected:
                  "read faster, narrow the stream with ?entity= or ?domain=, or raise HOMEIQ_API_SSE_QUEUE_MAX; catch up from /api/v1/events?from=<lastId> and reconnect",
              },
            });
            return;
          }
        }
      } finally {
        sub.close();
      }
    },
    {
      query: StreamQuery,
      beforeHandle: knownQuery(StreamQuery),
      detail: {
        summary: "Live state changes as Server-Sent Events (ready, state, ping, final overflow)",
      },
    },
  );
}
