/**
 * What the miner reads and what it proposes. The miner is a pure fold over events in time order: it keeps
 * bounded aggregates (per entity, per pair), never the events themselves, so a month of history streams
 * through it in chunks.
 */

/** One stored state change, reduced to what mining needs. */
export interface MinerEvent {
  entityId: string;
  state: string;
  /** Numeric reading when the state parses as a number (sensors), else null. */
  value: number | null;
  /** Milliseconds since the Unix epoch (last_updated). */
  ts: number;
  /** True when Home Assistant caused it from an automation or script (context has a parent). */
  automated: boolean;
}

export type SuggestionKind = "time_of_day" | "co_occurrence" | "left_on" | "threshold";

/** Why the miner believes a suggestion: how often, on which days, how sure. */
export interface Evidence {
  /** Occurrences that support the suggestion. */
  count: number;
  /** Local dates (YYYY-MM-DD) with at least one occurrence, ascending; at most `MAX_EVIDENCE_DAYS`. */
  days: string[];
  /** Distinct days with an occurrence (may exceed days.length when the list is capped). */
  dayCount: number;
  /** 0..1: share of opportunities where the pattern held. */
  confidence: number;
  /** Kind-specific figures (median time, delay, threshold, base rates). */
  detail: Record<string, number | string>;
}

/** A Home Assistant automation as a plain object, in current syntax (triggers / conditions / actions). */
export interface Automation {
  alias: string;
  description: string;
  triggers: Record<string, unknown>[];
  conditions: Record<string, unknown>[];
  actions: Record<string, unknown>[];
  mode: "single" | "restart" | "queued" | "parallel";
}

export interface Suggestion {
  /** Stable: hash of kind + entities + quantised parameters; a dismissed id is never proposed again. */
  id: string;
  /** Hash of kind + entities + action, without parameters; with `param` it lets a dismissal cover drift. */
  family: string;
  /** The one tunable figure of the pattern (minute of day, threshold, delay), compared across runs. */
  param: number;
  kind: SuggestionKind;
  title: string;
  explanation: string;
  entities: string[];
  evidence: Evidence;
  automation: Automation;
  /** The automation as Home Assistant YAML, ready to paste into automations.yaml. */
  yaml: string;
}

export interface MinerOptions {
  /** Start and end of the mined history (ms); days without events still count as opportunities. */
  from: number;
  to: number;
  /** IANA time zone of the home, for time-of-day patterns (e.g. "Europe/Berlin"). */
  timeZone: string;
  /** Fewest occurrences (distinct days for daily patterns) before anything is proposed. */
  minOccurrences: number;
  /** Smallest share of opportunities where the pattern must hold. */
  minConfidence: number;
  /** How soon after a trigger an action counts as following it (co-occurrence). */
  coWindowMs: number;
  /** How long a device must stay on with nobody home to count as left on. */
  leftOnMinMs: number;
  /** Bound on samples kept per entity and pair, so one chatty entity cannot grow memory. */
  maxSamplesPerKey: number;
  /** Friendly names for titles; falls back to a name derived from the entity id. */
  nameOf?: (entityId: string) => string | undefined;
  /** Sensor kinds from attributes (device_class / unit); falls back to entity-id words. */
  sensorKindOf?: (entityId: string) => SensorKind | undefined;
}

export type SensorKind = "temperature" | "illuminance" | "humidity";

export const MAX_EVIDENCE_DAYS = 62;

export const DEFAULT_MINER_OPTIONS: Omit<MinerOptions, "from" | "to"> = {
  timeZone: "UTC",
  minOccurrences: 5,
  minConfidence: 0.6,
  coWindowMs: 30_000,
  leftOnMinMs: 30 * 60_000,
  maxSamplesPerKey: 5000,
};
