/**
 * The miner: one pass over events in time order, dispatching each to the detectors that care. Feed it
 * chunks (`feed`), then `finish()` for the suggestions, best first. Deterministic: the same events and
 * options always give the same suggestions, ids and YAML; no clock, no randomness, no network.
 *
 * @example
 * const miner = createMiner({ ...DEFAULT_MINER_OPTIONS, from, to, timeZone: "Europe/Berlin" });
 * for await (const chunk of source) miner.feed(chunk);
 * const suggestions = miner.finish();
 */

import { LocalClock } from "../../../runtime/kernel/local-time.ts";
import { CoOccurrenceDetector } from "./co-occurrence.ts";
import { canBeLeftOn, domainOf, isAction, sensorKindFromId, triggerState } from "./entities.ts";
import { LeftOnDetector } from "./left-on.ts";
import { ThresholdDetector } from "./threshold.ts";
import { TimeOfDayDetector } from "./time-of-day.ts";
import type { MinerEvent, MinerOptions, SensorKind, Suggestion } from "./types.ts";
import { validateAutomation } from "./validate.ts";

export interface Miner {
  /** Events must arrive in ascending `ts` across all chunks (ties in any order). */
  feed(events: readonly MinerEvent[]): void;
  finish(): Suggestion[];
  /** Events seen so far, and samples dropped at `maxSamplesPerKey`. */
  readonly stats: { events: number; dropped: number; outOfOrder: number };
}

const KIND_ORDER = { co_occurrence: 0, time_of_day: 1, threshold: 2, left_on: 3 } as const;

export function createMiner(opts: MinerOptions): Miner {
  const clock = new LocalClock(opts.timeZone);
  const timeOfDay = new TimeOfDayDetector(opts, clock);
  const co = new CoOccurrenceDetector(opts, clock);
  const leftOn = new LeftOnDetector(opts, clock);
  const threshold = new ThresholdDetector(opts, clock);
  const last = new Map<string, string>();
  const stats = { events: 0, dropped: 0, outOfOrder: 0 };
  let lastTs = Number.NEGATIVE_INFINITY;

  /** What the miner does with an entity, decided once per entity rather than per event. */
  interface Role {
    sensorKind: SensorKind | null;
    isSensor: boolean;
    isPerson: boolean;
    leftOn: boolean;
  }
  const roles = new Map<string, Role>();
  const roleOf = (entityId: string): Role => {
    let role = roles.get(entityId);
    if (!role) {
      const domain = domainOf(entityId);
      const isSensor = domain === "sensor";
      role = {
        isSensor,
        sensorKind: isSensor ? (opts.sensorKindOf?.(entityId) ?? sensorKindFromId(entityId) ?? null) : null,
        isPerson: domain === "person",
        leftOn: canBeLeftOn(entityId),
      };
      roles.set(entityId, role);
    }
    return role;
  };

  return {
    stats,
    feed(events) {
      for (const e of events) {
        stats.events++;
        if (e.ts < lastTs) stats.outOfOrder++;
        else lastTs = e.ts;
        const role = roleOf(e.entityId);
        if (role.isSensor) {
          // Sensor states are readings, never actions; no need to remember them.
          if (role.sensorKind && e.value !== null)
            threshold.reading(e.entityId, role.sensorKind, e.value, e.ts);
          continue;
        }
        const previous = last.get(e.entityId);
        if (previous === e.state) continue; // attribute-only change
        last.set(e.entityId, e.state);
        if (role.isPerson) leftOn.person(e.entityId, e.state, e.ts);
        if (role.leftOn) leftOn.device(e.entityId, e.state, e.ts);
        if (triggerState(e.entityId, previous, e.state)) co.trigger(e.entityId, e.state, e.ts);
        if (!e.automated && isAction(e.entityId, previous, e.state)) {
          timeOfDay.action(e.entityId, e.state, e.ts);
          co.action(e.entityId, e.state, e.ts);
          threshold.action(e.entityId, e.state, e.ts);
        }
      }
    },
    finish() {
      stats.dropped = timeOfDay.dropped;
      const all = [...co.finish(), ...timeOfDay.finish(), ...threshold.finish(), ...leftOn.finish()];
      for (const s of all) {
        const problems = validateAutomation(s.automation);
        if (problems.length)
          throw new Error(`miner produced an invalid automation for ${s.id}: ${problems.join("; ")}`);
      }
      return all.sort(
        (a, b) =>
          b.evidence.confidence - a.evidence.confidence ||
          KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
          (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      );
    },
  };
}

/** Mines an array of events in one go (tests and small histories). */
export function mine(events: readonly MinerEvent[], opts: MinerOptions): Suggestion[] {
  const miner = createMiner(opts);
  miner.feed(events);
  return miner.finish();
}
