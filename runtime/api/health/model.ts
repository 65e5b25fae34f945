/** Schemas of the health endpoints (documented in the OpenAPI document). */
import { t } from "elysia";

export const Liveness = t.Object({
  status: t.Literal("ok"),
  uptimeSeconds: t.Number({ description: "seconds since the API started" }),
});
export type Liveness = typeof Liveness.static;

export const ActorHealth = t.Object({
  name: t.String(),
  state: t.String({ description: "starting, running, restarting, failed, stopping or stopped" }),
  restarts: t.Integer(),
  lastError: t.Optional(t.String()),
  lastErrorAt: t.Optional(t.Number()),
  startedAt: t.Optional(t.Number()),
  mailboxDepth: t.Number({ description: "messages waiting in the actor's mailbox" }),
  mailboxOldestAgeMs: t.Number({
    description:
      "ms the oldest message sent to the actor and not yet acknowledged has waited (0: none waits)",
  }),
  heldUp: t.Optional(
    t.Boolean({
      description: "true while the actor waits for credit to send downstream (held up, not stuck)",
    }),
  ),
});
export type ActorHealth = typeof ActorHealth.static;

export const DeepHealth = t.Object({
  status: t.UnionEnum(["ok", "degraded", "failed"], {
    description:
      "failed: an actor gave up restarting; degraded: an actor is not running, an actor's oldest waiting message is older than supervisor.stuckAfterMs, HA is not connected, or the store is over its bound holding (or has dropped) events InfluxDB has not received",
  }),
  reasons: t.Array(t.String(), {
    description: "what makes the status degraded or failed, one line per cause",
  }),
  actors: t.Array(ActorHealth),
  edges: t.Array(t.Object({ edge: t.String(), outstanding: t.Number() }), {
    description: "messages sent and not yet acknowledged per mailbox edge",
  }),
  ha: t.Unknown({ description: "the connection actor's latest ha-status notice, or null before its first" }),
  influx: t.Object({ lagEvents: t.Number(), lagSeconds: t.Number() }),
  store: t.Object({
    bytes: t.Number({ description: "bytes events.db uses (the batcher's store_bytes gauge)" }),
    events: t.Number({ description: "rows in the raw tier (the batcher's store_events gauge)" }),
    holdingUnexported: t.Boolean({
      description: "events.db is over store.maxBytes holding raw events InfluxDB has not acknowledged",
    }),
    droppedUnexported: t.Number({
      description: "raw events dropped before InfluxDB received them (since start; the disk bound won)",
    }),
  }),
  live: t.Object({ clients: t.Integer() }),
});
export type DeepHealth = typeof DeepHealth.static;
