/**
 * The heavy analyses: entity health and energy impact over `insights.historyDays` of raw history, from the
 * folded history the insights actor keeps (./fold.ts), or from a full read of the window one entity at a
 * time (the reference the fold is tested against).
 */
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import { domainOf } from "../../runtime/store/insights/types.ts";
import type { InsightsReader } from "../../runtime/store/insights-reader.ts";
import { type EnergyReport, energyImpact, SWITCHABLE_DOMAINS } from "./energy.ts";
import type { HistoryFold } from "./fold.ts";
import {
  type EntityHealth,
  type HealthFacts,
  type HealthOptions,
  type HealthSeries,
  type HealthStatus,
  judgeFacts,
  judgeSeries,
  SEVERITY,
} from "./health.ts";
import type { HealthFold } from "./health-fold.ts";
import {
  type EnergyHistory,
  type EntityMeta,
  energyHistoryOf,
  healthSeries,
  pairEnergyInputs,
} from "./inputs.ts";

type Settings = HomeIQConfig["insights"];

export interface HealthReport {
  computedAt: number;
  /** Entities judged (every entity with an event in the history window). */
  entities: number;
  counts: Record<HealthStatus, number>;
  /** Entities with an issue, worst first, then longest-standing first. */
  unhealthy: EntityHealth[];
}

/** The health judge's options from the settings, at `now`. */
function healthOptions(s: Settings, now: number): HealthOptions {
  return {
    now,
    staleFactor: s.staleFactor,
    minStaleMs: s.minStaleMs,
    minIntervals: s.minIntervals,
    regularityMax: s.regularityMax,
    lowBatteryPct: s.lowBatteryPct,
    flapWindowMs: s.flapWindowMs,
    flapChanges: s.flapChanges,
    flapFactor: s.flapFactor,
  };
}

/** Judges each entity (by its series or its facts) and tallies the verdicts. */
function tallyHealth(
  each: (judge: (entityId: string, what: HealthSeries | HealthFacts) => void) => void,
  s: Settings,
  now: number,
  meta: ReadonlyMap<string, EntityMeta>,
): HealthReport {
  const counts = { ok: 0, unavailable: 0, unknown: 0, stale: 0, flapping: 0, low_battery: 0 };
  const unhealthy: EntityHealth[] = [];
  let entities = 0;
  const opts = healthOptions(s, now);
  each((entityId, what) => {
    const name = meta.get(entityId)?.name ?? null;
    const v =
      "gapQuantile" in what
        ? judgeFacts(entityId, name, what, opts)
        : judgeSeries(entityId, name, what, opts);
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

/**
 * Health from a full read of the window (one entity at a time): the reference the folded history
 * (healthOfFold) must equal, kept for the tests and the benchmark.
 */
export function healthReport(
  reader: InsightsReader,
  s: Settings,
  now: number,
  meta: ReadonlyMap<string, EntityMeta> = new Map(),
): HealthReport {
  return tallyHealth(
    (judge) =>
      reader.eachEntityColumns(now - s.historyDays * 86400_000, now + 1, (columns) =>
        judge(columns.entity_id, healthSeries(columns)),
      ),
    s,
    now,
    meta,
  );
}

/** Health from the folded history; the fold must hold exactly the window's rows at `now` (trimmed). */
export function healthOfFold(
  fold: HistoryFold,
  s: Settings,
  now: number,
  meta: ReadonlyMap<string, EntityMeta>,
  stateText: (state: number, value: number) => string,
): HealthReport {
  return tallyHealth(
    (judge) => {
      for (const f of fold.each()) judge(f.entityId, f.healthSeries(stateText));
    },
    s,
    now,
    meta,
  );
}

/**
 * Health from the bounded summary the insights actor keeps (./health-fold.ts): the same judge over facts
 * that are exact but for the summary's documented approximations (gap quantiles within 1%, the window's
 * front edge by whole hours and days).
 */
export function healthOfSummary(
  fold: HealthFold,
  s: Settings,
  now: number,
  meta: ReadonlyMap<string, EntityMeta>,
): HealthReport {
  const from = now - s.historyDays * 86400_000;
  return tallyHealth(
    (judge) => {
      for (const f of fold.each()) judge(f.entityId, f.facts(from));
    },
    s,
    now,
    meta,
  );
}

/** Energy impact from each entity's energy history (in the store's entity order). */
function energyFrom(
  histories: ReadonlyMap<string, EnergyHistory>,
  s: Settings,
  now: number,
  meta: ReadonlyMap<string, EntityMeta>,
): EnergyReport & { computedAt: number } {
  const { devices, home } = pairEnergyInputs(histories, meta, s.homePowerEntity);
  const report = energyImpact(devices, home, {
    from: now - s.historyDays * 86400_000,
    to: now,
    windowMs: s.energyWindowMs,
    settleMs: s.energySettleMs,
    minEvents: s.energyMinEvents,
    minStepW: s.energyMinStepW,
  });
  return { computedAt: now, ...report };
}

/** Energy from a full read of the window: the reference energyOfFold must equal. */
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
  return energyFrom(histories, s, now, meta);
}

/** Energy from the folded history; the fold must hold exactly the window's rows at `now` (trimmed). */
export function energyOfFold(
  fold: HistoryFold,
  s: Settings,
  now: number,
  meta: ReadonlyMap<string, EntityMeta>,
): EnergyReport & { computedAt: number } {
  const histories = new Map<string, EnergyHistory>();
  for (const f of fold.each()) {
    if (f.switchable) histories.set(f.entityId, { kind: "states", states: f.onOff() });
    else if (f.sensor) {
      const series = f.power();
      if (series) histories.set(f.entityId, { kind: "power", series });
    }
  }
  return energyFrom(histories, s, now, meta);
}
