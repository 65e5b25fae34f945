/**
 * Recurring time-of-day actions: "light.kitchen is turned on around 07:00 on weekdays". For every
 * (entity, target state) the detector keeps the local day and minute of each manual action. At the end it
 * finds the busiest 30-minute window of the day, and proposes a time trigger when that window is both
 * specific (far denser than the entity's average: lift) and regular (it holds on most eligible days).
 */

import { clockTime, isWeekend, type LocalClock, weekdayOf } from "../../../runtime/kernel/local-time.ts";
import { actionStep, automationYaml, stableId } from "./automation.ts";
import { ByEntityState } from "./by-entity-state.ts";
import { nameFromId, verbFor } from "./entities.ts";
import { evidence, median, pushBounded, round } from "./evidence.ts";
import type { MinerOptions, Suggestion } from "./types.ts";

const BIN_MIN = 5;
const BINS = 1440 / BIN_MIN;
const WINDOW_BINS = 6; // 30 minutes
const MAX_WINDOWS = 2;

interface Found {
  set: DaySet;
  days: number[];
  opportunities: number;
  minute: number;
  lift: number;
  total: number;
}
/** How much denser than the entity's daily average the window must be. */
const MIN_LIFT = 5;

type DaySet = "daily" | "weekdays" | "weekends";
const WEEKDAY_LIST = ["mon", "tue", "wed", "thu", "fri"];
const WEEKEND_LIST = ["sat", "sun"];

export class TimeOfDayDetector {
  /** Each (entity, state)'s packed day*1440+minute samples, in the order first seen. */
  private readonly samples: { entityId: string; state: string; packed: number[] }[] = [];
  /** The same lists by (entity, state): finding one builds no key string per action. */
  private readonly lists = new ByEntityState<number[]>();
  dropped = 0;

  constructor(
    private readonly opts: MinerOptions,
    private readonly clock: LocalClock,
  ) {}

  action(entityId: string, state: string, ts: number): void {
    let list = this.lists.get(entityId, state);
    if (!list) {
      list = [];
      this.lists.set(entityId, state, list);
      this.samples.push({ entityId, state, packed: list });
    }
    const { day, minute } = this.clock.local(ts);
    if (!pushBounded(list, day * 1440 + minute, this.opts.maxSamplesPerKey)) this.dropped++;
  }

  finish(): Suggestion[] {
    const out: Suggestion[] = [];
    for (const { entityId, state, packed } of this.samples) {
      if (packed.length < this.opts.minOccurrences) continue;
      for (const found of this.windows(packed)) out.push(this.suggest(entityId, state, found));
    }
    return out;
  }

  /** Local days on which minute `minute` lies inside [from, to]: the opportunities for the pattern. */
  private eligibleDays(minute: number): { weekdays: number; weekends: number } {
    const first = this.clock.local(this.opts.from).day - 1;
    const last = this.clock.local(this.opts.to).day + 1;
    let weekdays = 0;
    let weekends = 0;
    for (let d = first; d <= last; d++) {
      const instant = this.clock.instantOf(d, minute);
      if (instant < this.opts.from || instant > this.opts.to) continue;
      if (isWeekend(d)) weekends++;
      else weekdays++;
    }
    return { weekdays, weekends };
  }

  /**
   * Up to MAX_WINDOWS habits per (entity, state) — a light turned on at 07:00 and again at 19:00 — found
   * densest first; each found window (and its neighbourhood) is masked before looking for the next.
   */
  private windows(packed: number[]) {
    const hist = new Int32Array(BINS);
    for (const p of packed) hist[Math.floor((p % 1440) / BIN_MIN)]++;
    const out: Found[] = [];
    // A dense but irregular window (random evening use) is masked too, so a regular one behind it shows.
    for (let i = 0; i < MAX_WINDOWS + 1 && out.length < MAX_WINDOWS; i++) {
      const found = this.best(packed, hist);
      if (!found) break;
      if (found.result) out.push(found.result);
      for (let b = -WINDOW_BINS; b < 2 * WINDOW_BINS; b++) hist[(found.start + b + BINS) % BINS] = 0;
    }
    return out;
  }

  private best(packed: number[], hist: Int32Array): { start: number; result: Found | undefined } | undefined {
    let bestStart = 0;
    let bestSum = -1;
    let sum = 0;
    for (let i = 0; i < WINDOW_BINS; i++) sum += hist[i];
    for (let start = 0; start < BINS; start++) {
      if (sum > bestSum) {
        bestSum = sum;
        bestStart = start;
      }
      sum += hist[(start + WINDOW_BINS) % BINS] - hist[start];
    }
    const lift = bestSum / WINDOW_BINS / (packed.length / BINS);
    if (bestSum <= 0 || lift < MIN_LIFT) return undefined;
    const lo = bestStart * BIN_MIN;
    const width = WINDOW_BINS * BIN_MIN;
    // First action inside the window on each day; windows may wrap past midnight.
    const firstByDay = new Map<number, number>();
    for (const p of packed) {
      const minute = p % 1440;
      const offset = (minute - lo + 1440) % 1440;
      if (offset >= width) continue;
      const day = (p - minute) / 1440 - (minute < lo ? 1 : 0);
      const prior = firstByDay.get(day);
      if (prior === undefined || offset < prior) firstByDay.set(day, offset);
    }
    const typical = (lo + Math.round(median([...firstByDay.values()]))) % 1440;
    const eligible = this.eligibleDays(typical);
    const hitDays = [...firstByDay.keys()];
    const weekdayHits = hitDays.filter((d) => !isWeekend(d));
    const weekendHits = hitDays.filter((d) => isWeekend(d));
    const wd = eligible.weekdays ? weekdayHits.length / eligible.weekdays : 0;
    const we = eligible.weekends ? weekendHits.length / eligible.weekends : 0;
    const min = this.opts.minConfidence;
    let set: DaySet;
    let days: number[];
    let opportunities: number;
    if (wd >= min && we >= min) {
      set = "daily";
      days = hitDays;
      opportunities = eligible.weekdays + eligible.weekends;
    } else if (wd >= min && we < min / 2) {
      set = "weekdays";
      days = weekdayHits;
      opportunities = eligible.weekdays;
    } else if (we >= min && wd < min / 2) {
      set = "weekends";
      days = weekendHits;
      opportunities = eligible.weekends;
    } else return { start: bestStart, result: undefined };
    if (days.length < this.opts.minOccurrences) return { start: bestStart, result: undefined };
    // Round to 5 minutes: "~07:00" reads better and keeps the id steady across runs.
    const minute = (Math.round(typical / 5) * 5) % 1440;
    return { start: bestStart, result: { set, days, opportunities, minute, lift, total: packed.length } };
  }

  private suggest(entityId: string, state: string, f: Found): Suggestion {
    const name = this.opts.nameOf?.(entityId) ?? nameFromId(entityId);
    const verb = verbFor(entityId, state);
    const at = clockTime(f.minute);
    const when = f.set === "daily" ? "every day" : f.set === "weekdays" ? "on weekdays" : "on weekends";
    const confidence = f.days.length / Math.max(1, f.opportunities);
    const id = stableId("time_of_day", entityId, state, f.set, f.minute);
    const automation = {
      alias: `${verb.charAt(0).toUpperCase()}${verb.slice(1)} ${name} at ${at.slice(0, 5)} ${when}`,
      description: `Suggested by HomeIQ: ${name} was ${pastTense(verb)} around ${at.slice(0, 5)} on ${f.days.length} of ${f.opportunities} ${f.set === "daily" ? "days" : f.set}.`,
      triggers: [{ trigger: "time", at }],
      conditions:
        f.set === "daily"
          ? []
          : [{ condition: "time", weekday: f.set === "weekdays" ? WEEKDAY_LIST : WEEKEND_LIST }],
      actions: [actionStep(entityId, state)],
      mode: "single" as const,
    };
    const weekdays = [...new Set(f.days.map(weekdayOf))];
    return {
      id,
      family: stableId("time_of_day", entityId, state, f.set),
      param: f.minute,
      kind: "time_of_day",
      title: automation.alias,
      explanation: `${name} was ${pastTense(verb)} within 30 minutes of ${at.slice(0, 5)} on ${f.days.length} of ${f.opportunities} eligible ${f.set === "daily" ? "days" : f.set}, far more often than at other times of day. An automation could do it for you.`,
      entities: [entityId],
      evidence: evidence(f.days.length, f.days, confidence, {
        time: at.slice(0, 5),
        days: f.set,
        weekdaysSeen: weekdays.join(","),
        opportunities: f.opportunities,
        lift: round(f.lift, 1),
        actionsTotal: f.total,
      }),
      automation,
      yaml: automationYaml(id, automation),
    };
  }
}

export function pastTense(verb: string): string {
  if (verb.startsWith("turn ")) return `turned ${verb.slice(5)}`;
  if (verb.startsWith("set to")) return `set to${verb.slice(6)}`;
  if (verb === "close") return "closed";
  return `${verb}ed`;
}
