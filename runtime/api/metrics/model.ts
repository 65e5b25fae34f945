/** Schema of the consolidated real-time view (documented in the OpenAPI document). */
import { t } from "elysia";

const perSecond = (what: string) => t.Number({ description: `${what} per second over the rate window` });

export const RealTimeMetrics = t.Object({
  at: t.Number({ description: "when this view was taken, ms since the Unix epoch" }),
  rates: t.Object({
    receivedPerSecond: perSecond("state changes taken from Home Assistant"),
    storedPerSecond: perSecond("state changes newly stored"),
    exportedPerSecond: perSecond("points accepted by InfluxDB"),
    windowSeconds: t.Number({ description: "span the rates cover; 0 on the first request" }),
  }),
  totals: t.Object({
    events_received_total: t.Number(),
    events_stored_total: t.Number(),
    events_exported_total: t.Number(),
    events_duplicate_total: t.Number(),
    influx_dead_letter_total: t.Number(),
    live_dropped_total: t.Number(),
  }),
  influx: t.Object({
    configured: t.Boolean({
      description: "whether influx.url (HOMEIQ_INFLUX_URL) is set; without it no events are mirrored",
    }),
  }),
  lag: t.Object({ influxEvents: t.Number(), influxSeconds: t.Number() }),
  store: t.Object({ bytes: t.Number(), events: t.Number() }),
  spool: t.Object({ bytes: t.Number(), events: t.Number() }),
  ha: t.Object({
    connected: t.Boolean(),
    status: t.Unknown({ description: "the connection actor's latest ha-status notice, or null" }),
  }),
  actors: t.Array(
    t.Object({
      name: t.String(),
      state: t.String(),
      restarts: t.Integer(),
      cpuSeconds: t.Number({
        description:
          "CPU time of the actor's thread, all its restarts included (0 where the OS does not report per-thread time)",
      }),
    }),
  ),
  process: t.Object({
    rssBytes: t.Number({ description: "resident memory of the HomeIQ process (all actors share it)" }),
    cpuSeconds: t.Number({ description: "CPU time of the HomeIQ process since start, all threads" }),
    hubCpuSeconds: t.Number({ description: "CPU time of the main thread (API, supervisor, live feed)" }),
  }),
  live: t.Object({ clients: t.Integer() }),
});
export type RealTimeMetrics = typeof RealTimeMetrics.static;
