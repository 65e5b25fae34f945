/**
 * The consolidated metrics view and the Prometheus exposition, without Elysia's Context. Rates come from
 * counter samples taken when the view is asked for, kept over `api.rateWindowMs` (bounded by
 * `RateTracker.maxSamples`), so no timer runs when nobody looks.
 */
import { processMeter } from "../../kernel/cpu.ts";
import { type MetricsHub, type Registry, toPrometheus } from "../../kernel/metrics.ts";
import type { SupervisorView } from "../deps.ts";
import { haState } from "../health/service.ts";
import type { LiveFeed } from "../live.ts";
import type { RealTimeMetrics } from "./model.ts";

const RATE_COUNTERS = ["events_received_total", "events_stored_total", "events_exported_total"] as const;
type RateCounter = (typeof RATE_COUNTERS)[number];
type Sample = { at: number; values: Record<RateCounter, number> };

/** Counter samples over a sliding window, giving per-second rates. */
export class RateTracker {
  static readonly maxSamples = 64;
  private samples: Sample[] = [];

  constructor(private readonly windowMs: number) {}

  /** Records the current totals and returns per-second rates since the oldest sample in the window. */
  observe(at: number, values: Sample["values"]): { perSecond: Sample["values"]; windowSeconds: number } {
    // Keep the newest sample older than the window as the baseline, drop anything older.
    while (this.samples.length > 1 && this.samples[1].at <= at - this.windowMs) this.samples.shift();
    const base = this.samples[0];
    const spacing = this.windowMs / RateTracker.maxSamples;
    const last = this.samples[this.samples.length - 1];
    if (!last || at - last.at >= spacing) this.samples.push({ at, values });
    if (this.samples.length > RateTracker.maxSamples) this.samples.shift();
    const perSecond = { events_received_total: 0, events_stored_total: 0, events_exported_total: 0 };
    if (!base || at <= base.at) return { perSecond, windowSeconds: 0 };
    const seconds = (at - base.at) / 1000;
    for (const name of RATE_COUNTERS)
      perSecond[name] = Math.max(0, (values[name] - base.values[name]) / seconds);
    return { perSecond, windowSeconds: seconds };
  }
}

const processMeters = new WeakMap<Registry, { sample(): void }>();

/** Folds the main thread's own registry, with the process's memory and CPU, into the hub for both views. */
export function refreshHub(metrics: MetricsHub, registry: Registry): void {
  let meter = processMeters.get(registry);
  if (!meter) {
    meter = processMeter(registry);
    processMeters.set(registry, meter);
  }
  meter.sample();
  metrics.update("hub", registry.snapshot());
}

export function realTimeMetrics(
  deps: {
    supervisor: SupervisorView;
    metrics: MetricsHub;
    live: LiveFeed;
    registry: Registry;
    config: { influx: { url?: string | undefined } };
  },
  rates: RateTracker,
  now: number,
): RealTimeMetrics {
  const { metrics } = deps;
  refreshHub(metrics, deps.registry);
  const c = (name: string) => metrics.counter(name);
  const g = (name: string) => metrics.gauge(name);
  const totals = {
    events_received_total: c("events_received_total"),
    events_stored_total: c("events_stored_total"),
    events_exported_total: c("events_exported_total"),
    events_duplicate_total: c("events_duplicate_total"),
    influx_dead_letter_total: c("influx_dead_letter_total"),
    live_dropped_total: c("live_dropped_total"),
  };
  const { perSecond, windowSeconds } = rates.observe(now, totals);
  const status = deps.supervisor.notice("connection", "ha-status") ?? null;
  return {
    at: now,
    rates: {
      receivedPerSecond: perSecond.events_received_total,
      storedPerSecond: perSecond.events_stored_total,
      exportedPerSecond: perSecond.events_exported_total,
      windowSeconds,
    },
    totals,
    influx: { configured: !!deps.config.influx.url },
    lag: { influxEvents: g("influx_lag_events"), influxSeconds: g("influx_lag_seconds") },
    store: { bytes: g("store_bytes"), events: g("store_events") },
    spool: { bytes: g("spool_bytes"), events: g("spool_events") },
    ha: { connected: status ? haState(status) === "connected" : g("ha_connected") === 1, status },
    actors: deps.supervisor.status().map((s) => ({
      name: s.name,
      state: s.state,
      restarts: s.restarts,
      cpuSeconds: metrics.counter("actor_cpu_seconds_total", { actor: s.name }),
    })),
    process: {
      rssBytes: g("process_resident_memory_bytes"),
      cpuSeconds: c("process_cpu_seconds_total"),
      hubCpuSeconds: metrics.counter("actor_cpu_seconds_total", { actor: "hub" }),
    },
    live: { clients: deps.live.clients },
  };
}

/** Prometheus text of every actor's metrics plus the main thread's. */
export function prometheusText(metrics: MetricsHub, registry: Registry): string {
  refreshHub(metrics, registry);
  return toPrometheus(metrics.merged());
}
