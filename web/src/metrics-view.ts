/**
 * What the overview shows, from two API answers: `/api/v1/real-time-metrics` (totals, rates, lag, store,
 * HA) and `/health/deep` (each actor's mailbox depth and every edge's outstanding messages).
 * Pure mapping so the views stay free of response layout details.
 */
import type { DeepHealth } from "../../runtime/api/health/model.ts";
import type { RealTimeMetrics } from "../../runtime/api/metrics/model.ts";

/** What the overview says when no InfluxDB is configured (instead of "Exported 0"). */
export const INFLUX_NOT_CONFIGURED = "InfluxDB not configured — set HOMEIQ_INFLUX_URL to mirror events";

export interface ActorView {
  name: string;
  state: string;
  restarts: number;
  /** CPU time of the actor's thread; 0 where the OS does not report it per thread. */
  cpuSeconds: number;
  lastError: string | null;
  mailboxDepth: number | null;
  /** Edges this actor sends on, with messages sent and not yet acknowledged. */
  outbound: { edge: string; outstanding: number }[];
}

export interface MetricsView {
  at: number;
  received: number;
  stored: number;
  exported: number;
  duplicates: number;
  deadLetters: number;
  liveDropped: number;
  receivedRate: number;
  storedRate: number;
  exportedRate: number;
  ha: {
    state: string;
    url: string | null;
    since: number | null;
    version: string | null;
    error: string | null;
  };
  /** False when HOMEIQ_INFLUX_URL is unset: nothing is mirrored, so export figures mean nothing. */
  influxConfigured: boolean;
  influxLagEvents: number;
  influxLagSeconds: number;
  storeBytes: number;
  storeEvents: number;
  spoolEvents: number;
  liveClients: number;
  rssBytes: number;
  cpuSeconds: number;
  health: DeepHealth["status"] | null;
  actors: ActorView[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

function haView(m: RealTimeMetrics): MetricsView["ha"] {
  const s = isObj(m.ha.status) ? m.ha.status : {};
  const since =
    typeof s.since === "number" ? s.since : typeof s.since === "string" ? Date.parse(s.since) : null;
  return {
    state: text(s.state) ?? (m.ha.connected ? "connected" : "unknown"),
    url: text(s.url),
    since: since !== null && Number.isFinite(since) ? since : null,
    version: text(s.haVersion),
    error: text(s.lastError),
  };
}

export function toMetricsView(m: RealTimeMetrics, deep: DeepHealth | null): MetricsView {
  const byName = new Map((deep?.actors ?? []).map((a) => [a.name, a]));
  const edges = deep?.edges ?? [];
  return {
    at: m.at,
    received: m.totals.events_received_total,
    stored: m.totals.events_stored_total,
    exported: m.totals.events_exported_total,
    duplicates: m.totals.events_duplicate_total,
    deadLetters: m.totals.influx_dead_letter_total,
    liveDropped: m.totals.live_dropped_total,
    receivedRate: m.rates.receivedPerSecond,
    storedRate: m.rates.storedPerSecond,
    exportedRate: m.rates.exportedPerSecond,
    ha: haView(m),
    // An older server without the field has always reported export figures: read it as configured.
    influxConfigured: m.influx?.configured ?? true,
    influxLagEvents: m.lag.influxEvents,
    influxLagSeconds: m.lag.influxSeconds,
    storeBytes: m.store.bytes,
    storeEvents: m.store.events,
    spoolEvents: m.spool.events,
    liveClients: m.live.clients,
    rssBytes: m.process.rssBytes,
    cpuSeconds: m.process.cpuSeconds,
    health: deep?.status ?? null,
    actors: m.actors.map((a) => {
      const d = byName.get(a.name);
      return {
        name: a.name,
        state: a.state,
        restarts: a.restarts,
        cpuSeconds: a.cpuSeconds,
        lastError: d?.lastError ?? null,
        mailboxDepth: d ? d.mailboxDepth : null,
        outbound: edges.filter((e) => e.edge.startsWith(`${a.name}->`)),
      };
    }),
  };
}
