/**
 * The heavy analyses as functions of a reader, its config and the time: entity health and energy impact
 * over `insights.historyDays` of raw history, read one entity at a time. The insights worker runs them on
 * its own connection and timers; tests run them on a seeded store.
 */
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { InsightsReader } from "../store/insights-reader.ts";
import { type EnergyReport, energyImpact, SWITCHABLE_DOMAINS } from "./energy.ts";
import { type EntityHealth, type HealthStatus, judgeSeries, SEVERITY } from "./health.ts";
import {
  type EnergyHistory,
  type EntityMeta,
  energyHistoryOf,
  healthSeries,
  pairEnergyInputs,
} from "./inputs.ts";
import { domainOf } from "./types.ts";

type Settings = HomeIQConfig["insights"];

export interface HealthReport {
  computedAt: number;
  /** Entities judged (every entity with an event in the history window). */
  entities: number;
  counts: Record<HealthStatus, number>;
  /** Entities with an issue, worst first, then longest-standing first. */
  unhealthy: EntityHealth[];
}

export function healthReport(
  reader: InsightsReader,
  s: Settings,
  now: number,
  meta: ReadonlyMap<string, EntityMeta> = new Map(),
): HealthReport {
  const counts = { ok: 0, unavailable: 0, unknown: 0, stale: 0, flapping: 0, low_battery: 0 };
  const unhealthy: EntityHealth[] = [];
  let entities = 0;
  reader.eachEntityColumns(now - s.historyDays * 86400_000, now + 1, (columns) => {
    const v = judgeSeries(
      columns.entity_id,
      meta.get(columns.entity_id)?.name ?? null,
      healthSeries(columns),
      {
        now,
        staleFactor: s.staleFactor,
        minStaleMs: s.minStaleMs,
        minIntervals: s.minIntervals,
        regularityMax: s.regularityMax,
        lowBatteryPct: s.lowBatteryPct,
        flapWindowMs: s.flapWindowMs,
        flapChanges: s.flapChanges,
        flapFactor: s.flapFactor,
      },
    );
    entities++;
    counts[v.status]++;
    if (v.status !== "ok") unhealthy.push(v);
  });
  unhealthy.sort(
    (a, b) =>
      SEVERITY.indexOf(a.status as never) - SEVERITY.indexOf(b.status as never) ||
      a.since - b.since ||
      a.entity_id.localeCompare(b.entity_id),
  );
  return { computedAt: now, entities, counts, unhealthy };
}

export function energyReport(
  reader: InsightsReader,
  s: Settings,
  now: number,
  meta: ReadonlyMap<string, EntityMeta> = new Map(),
): EnergyReport & { computedAt: number } {
  const from = now - s.historyDays * 86400_000;
  const histories = new Map<string, EnergyHistory>();
  reader.eachEntityColumns(
    from,
    now + 1,
    (columns) => {
      const history = energyHistoryOf(columns);
      if (history) histories.set(columns.entity_id, history);
    },
    (id) => SWITCHABLE_DOMAINS.has(domainOf(id)) || domainOf(id) === "sensor",
    // Sensors only when they report power: the rest of a week of sensor readings is never built.
    (id, last) =>
      domainOf(id) !== "sensor" || last.unit_of_measurement === "W" || last.unit_of_measurement === "kW",
  );
  const { devices, home } = pairEnergyInputs(histories, meta, s.homePowerEntity);
  const report = energyImpact(devices, home, {
    from,
    to: now,
    windowMs: s.energyWindowMs,
    settleMs: s.energySettleMs,
    minEvents: s.energyMinEvents,
    minStepW: s.energyMinStepW,
  });
  return { computedAt: now, ...report };
}
