/** Health answers without Elysia's Context: cheap liveness, and the deep view of every actor. */
import type { MetricsHub } from "../../kernel/metrics.ts";
import type { SupervisorView } from "../deps.ts";
import type { LiveFeed } from "../live.ts";
import type { ActorHealth, DeepHealth, Liveness } from "./model.ts";

export function liveness(startedAt: number, now: number): Liveness {
  return { status: "ok", uptimeSeconds: Math.round((now - startedAt) / 1000) };
}

/** Whether HA is connected, from the connection actor's ha-status notice (absent: not known yet). */
export function haState(notice: unknown): string | undefined {
  return notice && typeof notice === "object" ? String((notice as { state?: unknown }).state) : undefined;
}

/**
 * The deep view. Degraded names each cause in `reasons`: an actor not running, HA not connected, or an actor
 * whose oldest waiting message has waited past `stuckAfterMs` (`supervisor.stuckAfterMs`). That age comes
 * from the supervisor's own reading of shared memory, so it grows even when the actor answers nothing.
 */
export function deepHealth(deps: {
  supervisor: SupervisorView;
  metrics: MetricsHub;
  live: Pick<LiveFeed, "clients">;
  stuckAfterMs: number;
}): DeepHealth {
  const { supervisor, metrics } = deps;
  const actors: ActorHealth[] = supervisor.status().map((s) => ({
    ...s,
    mailboxDepth: metrics.gauge("mailbox_depth", { actor: s.name }),
    mailboxOldestAgeMs: Math.round(s.mailboxOldestAgeMs ?? 0),
  }));
  const edges = new Map<string, number>();
  for (const g of metrics.merged().gauges) {
    if (g.name === "mailbox_outstanding" && g.labels.edge)
      edges.set(g.labels.edge, (edges.get(g.labels.edge) ?? 0) + g.value);
  }
  const ha = supervisor.notice("connection", "ha-status") ?? null;
  // Store size comes from the batcher's gauges, not from the reader: a health check must stay cheap
  // whatever the store holds (the reader's totals() scans the table; 2.3 s at 10M events).
  const store = {
    bytes: metrics.gauge("store_bytes"),
    events: metrics.gauge("store_events"),
    holdingUnexported: metrics.gauge("store_holding_unexported") > 0,
    droppedUnexported: metrics.counter("events_dropped_unexported_total"),
  };
  const failed = actors.some((a) => a.state === "failed");
  const reasons: string[] = [];
  for (const a of actors) {
    if (a.state !== "running") reasons.push(`actor "${a.name}" is ${a.state}`);
    if (a.mailboxOldestAgeMs > deps.stuckAfterMs)
      reasons.push(
        `actor "${a.name}": its oldest message has waited ${a.mailboxOldestAgeMs} ms (supervisor.stuckAfterMs is ${deps.stuckAfterMs})${a.heldUp ? "; it is held up waiting for credit downstream" : ""}`,
      );
  }
  if (ha !== null && haState(ha) !== "connected") reasons.push(`HA is ${haState(ha)}`);
  // Events InfluxDB never got are data loss: degraded from the first one until a restart.
  if (store.holdingUnexported)
    reasons.push(
      "the store is over store.maxBytes holding events InfluxDB has not acknowledged (bring InfluxDB back)",
    );
  if (store.droppedUnexported > 0)
    reasons.push(
      `${store.droppedUnexported} events were dropped before InfluxDB received them (the disk bound won past store.unexportedHoldBytes)`,
    );
  return {
    status: failed ? "failed" : reasons.length > 0 ? "degraded" : "ok",
    reasons,
    actors,
    edges: [...edges].map(([edge, outstanding]) => ({ edge, outstanding })),
    ha,
    influx: {
      lagEvents: metrics.gauge("influx_lag_events"),
      lagSeconds: metrics.gauge("influx_lag_seconds"),
    },
    store,
    live: { clients: deps.live.clients },
  };
}
