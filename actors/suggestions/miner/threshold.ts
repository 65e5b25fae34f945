/**
 * Threshold habits: "the heating is switched on when the living-room temperature is below 18 °C". For
 * each matching action the detector records the current reading of every sensor of the related kind; it
 * also samples every such sensor once an hour as the baseline. A sensor explains the habit when nearly all
 * actions happened beyond a threshold that the baseline rarely crosses.
 */

import type { LocalClock } from "../../../runtime/kernel/local-time.ts";
import { actionStep, automationYaml, stableId } from "./automation.ts";
import { ByEntityState } from "./by-entity-state.ts";
import { domainOf, nameFromId, verbFor } from "./entities.ts";
import { evidence, pushBounded, round } from "./evidence.ts";
import { pastTense } from "./time-of-day.ts";
import type { MinerOptions, SensorKind, Suggestion } from "./types.ts";
import { ValueCounts } from "./value-counts.ts";

interface Rule {
  kind: SensorKind;
  direction: "below" | "above";
  matches(entityId: string, state: string): boolean;
  unit: string;
  step: number;
}

const HEATER = /heat|radiator|boiler|warm/;
const RULES: Rule[] = [
  {
    kind: "temperature",
    direction: "below",
    unit: "°C",
    step: 0.5,
    matches: (e, s) =>
      (domainOf(e) === "climate" && s === "heat") ||
      ((domainOf(e) === "switch" || domainOf(e) === "input_boolean") && s === "on" && HEATER.test(e)),
  },
  {
    kind: "temperature",
    direction: "above",
    unit: "°C",
    step: 0.5,
    matches: (e, s) => (domainOf(e) === "climate" && s === "cool") || (domainOf(e) === "fan" && s === "on"),
  },
  {
    kind: "illuminance",
    direction: "below",
    unit: "lx",
    step: 5,
    matches: (e, s) => domainOf(e) === "light" && s === "on",
  },
  {
    kind: "humidity",
    direction: "above",
    unit: "%",
    step: 1,
    matches: (e, s) => domainOf(e) === "fan" && s === "on",
  },
];

/**
 * The sensor kinds some rule could use, given the entities present: a home without fans needs no
 * humidity readings. The history source leaves the other sensors on disk.
 */
export function sensorKindsUsedBy(entityIds: Iterable<string>): Set<SensorKind> {
  const kinds = new Set<SensorKind>();
  for (const e of entityIds)
    for (const rule of RULES)
      if (["on", "heat", "cool"].some((s) => rule.matches(e, s))) kinds.add(rule.kind);
  return kinds;
}

/** Readings older than this at the time of an action are not used. */
const STALE_MS = 3 * 3_600_000;
/** Baseline: most readings must lie on the other side of the threshold. */
const MAX_BASE_RATE = 0.35;
const MIN_HIT_RATE = 0.85;
const HOUR_MS = 3_600_000;

/** A sensor's latest reading; `index` is its place in `sensors` (the order readings first came). */
interface Sensor {
  id: string;
  kind: SensorKind;
  index: number;
  value: number;
  ts: number;
}

/** A sensor's readings at an action's occurrences (the first `maxSamplesPerKey`), and their days. */
interface Hits {
  ruleIndex: number;
  entityId: string;
  state: string;
  sensor: string;
  values: ValueCounts;
  days: Set<number>;
}

/** A rule an (entity, state) action matches, with its hits by sensor index. */
interface Plan {
  rule: Rule;
  ruleIndex: number;
  bySensor: (Hits | undefined)[];
}

export class ThresholdDetector {
  private readonly readings = new Map<string, Sensor>();
  private readonly sensors: Sensor[] = [];
  private readonly baseline = new Map<string, number[]>();
  /** Every (rule, action, sensor) seen, in the order first seen: on ties, the first one found wins. */
  private readonly hits: Hits[] = [];
  /**
   * entity → state → the rules it matches, decided once per action kind: an action is checked against
   * dozens of sensors, and building a key string per (action, sensor) made 3.2M strings over a
   * 2.7M-event store.
   */
  private readonly plans = new ByEntityState<Plan[]>();
  private nextHour = Number.NaN;

  constructor(
    private readonly opts: MinerOptions,
    private readonly clock: LocalClock,
  ) {}

  /** A numeric reading of a sensor of a known kind. */
  reading(entityId: string, kind: SensorKind, value: number, ts: number): void {
    if (ts >= this.nextHour || Number.isNaN(this.nextHour)) this.tick(ts);
    const r = this.readings.get(entityId);
    if (r) {
      r.value = value;
      r.ts = ts;
    } else {
      const sensor = { id: entityId, kind, index: this.sensors.length, value, ts };
      this.readings.set(entityId, sensor);
      this.sensors.push(sensor);
    }
  }

  /** Samples every sensor's current value at each hour boundary passed, for the baseline. */
  tick(ts: number): void {
    if (Number.isNaN(this.nextHour)) this.nextHour = (Math.floor(ts / HOUR_MS) + 1) * HOUR_MS;
    // Skip empty stretches in one step: a quiet week adds no samples, not a loop per hour.
    if (ts - this.nextHour > 48 * HOUR_MS) this.nextHour = (Math.floor(ts / HOUR_MS) + 1) * HOUR_MS;
    while (ts >= this.nextHour) {
      for (const r of this.sensors) {
        if (this.nextHour - r.ts > STALE_MS) continue;
        let list = this.baseline.get(r.id);
        if (!list) {
          list = [];
          this.baseline.set(r.id, list);
        }
        pushBounded(list, r.value, this.opts.maxSamplesPerKey);
      }
      this.nextHour += HOUR_MS;
    }
  }

  action(entityId: string, state: string, ts: number): void {
    this.tick(ts);
    const plans = this.plansFor(entityId, state);
    let day: number | undefined;
    for (const plan of plans) {
      for (const r of this.sensors) {
        if (r.kind !== plan.rule.kind || ts - r.ts > STALE_MS) continue;
        let hit = plan.bySensor[r.index];
        if (!hit) {
          hit = {
            ruleIndex: plan.ruleIndex,
            entityId,
            state,
            sensor: r.id,
            values: new ValueCounts(),
            days: new Set(),
          };
          plan.bySensor[r.index] = hit;
          this.hits.push(hit);
        }
        if (hit.values.size < this.opts.maxSamplesPerKey) {
          hit.values.add(r.value);
          day ??= this.clock.local(ts).day;
          hit.days.add(day);
        }
      }
    }
  }

  private plansFor(entityId: string, state: string): Plan[] {
    let plans = this.plans.get(entityId, state);
    if (!plans) {
      const made: Plan[] = [];
      RULES.forEach((rule, ruleIndex) => {
        if (rule.matches(entityId, state)) made.push({ rule, ruleIndex, bySensor: [] });
      });
      this.plans.set(entityId, state, made);
      plans = made;
    }
    return plans;
  }

  finish(): Suggestion[] {
    // Per action, the sensor that separates best (lowest baseline rate) wins.
    const best = new Map<string, { score: number; s: Suggestion }>();
    for (const hit of this.hits) {
      if (hit.values.size < this.opts.minOccurrences || hit.days.size < Math.min(3, this.opts.minOccurrences))
        continue;
      const { entityId, state, sensor } = hit;
      const rule = RULES[hit.ruleIndex];
      const base = this.baseline.get(sensor) ?? [];
      if (base.length < 24) continue;
      const below = rule.direction === "below";
      const raw = hit.values.quantile(below ? 0.9 : 0.1);
      const threshold = (below ? Math.ceil(raw / rule.step) : Math.floor(raw / rule.step)) * rule.step;
      const beyond = (v: number) => (below ? v <= threshold : v >= threshold);
      const hitRate = hit.values.countWhere(beyond) / hit.values.size;
      const baseRate = base.filter(beyond).length / base.length;
      if (hitRate < MIN_HIT_RATE || baseRate > MAX_BASE_RATE) continue;
      const confidence = hitRate - baseRate;
      if (confidence < this.opts.minConfidence) continue;
      const actionKey = `${entityId}\u0000${state}\u0000${rule.direction}`;
      const prior = best.get(actionKey);
      if (prior && prior.score <= baseRate) continue;
      best.set(actionKey, {
        score: baseRate,
        s: this.suggest(rule, entityId, state, sensor, threshold, hit, { hitRate, baseRate, confidence }),
      });
    }
    return [...best.values()].map((b) => b.s);
  }

  private suggest(
    rule: Rule,
    entityId: string,
    state: string,
    sensor: string,
    threshold: number,
    hit: Hits,
    s: { hitRate: number; baseRate: number; confidence: number },
  ): Suggestion {
    const name = this.opts.nameOf?.(entityId) ?? nameFromId(entityId);
    const sensorName = this.opts.nameOf?.(sensor) ?? nameFromId(sensor);
    const verb = verbFor(entityId, state);
    const value = round(threshold, 2);
    const id = stableId("threshold", entityId, state, sensor, rule.direction, value);
    const automation = {
      alias: `${verb.charAt(0).toUpperCase()}${verb.slice(1)} ${name} when ${sensorName} is ${rule.direction} ${value} ${rule.unit}`,
      description: `Suggested by HomeIQ: ${name} was ${pastTense(verb)} ${hit.values.size} times, ${Math.round(s.hitRate * 100)}% of them with ${sensorName} ${rule.direction} ${value} ${rule.unit}.`,
      triggers: [{ trigger: "numeric_state", entity_id: sensor, [rule.direction]: value }],
      conditions: [],
      actions: [actionStep(entityId, state)],
      mode: "single" as const,
    };
    return {
      id,
      family: stableId("threshold", entityId, state, sensor, rule.direction),
      param: value,
      kind: "threshold",
      title: automation.alias,
      explanation: `${name} was ${pastTense(verb)} ${hit.values.size} times; ${Math.round(s.hitRate * 100)}% of those with ${sensorName} ${rule.direction} ${value} ${rule.unit}, while it is ${rule.direction} that only ${Math.round(s.baseRate * 100)}% of the time otherwise. A numeric-state automation would react to the reading itself.`,
      entities: [entityId, sensor],
      evidence: evidence(hit.values.size, hit.days, s.confidence, {
        sensor,
        threshold: value,
        unit: rule.unit,
        direction: rule.direction,
        hitRate: round(s.hitRate, 2),
        baseRate: round(s.baseRate, 2),
      }),
      automation,
      yaml: automationYaml(id, automation),
    };
  }
}
