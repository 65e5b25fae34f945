/**
 * Devices left on: "light.living_room stayed on for hours after everyone left". The detector follows the
 * person.* entities; when the last person leaves (nobody "home"), every light, switch and fan that is on
 * is watched; if it stays on for at least `leftOnMinMs` while the home is empty, that counts. Devices
 * switched on while nobody is home (presence simulation, a guest) are not counted: only "left" on.
 */

import type { LocalClock } from "../../../runtime/kernel/local-time.ts";
import { automationYaml, duration, stableId } from "./automation.ts";
import { domainOf, nameFromId } from "./entities.ts";
import { evidence, round } from "./evidence.ts";
import type { MinerOptions, Suggestion } from "./types.ts";

/** How long the home must be empty before the suggested automation acts. */
const AWAY_GRACE_MS = 15 * 60_000;

interface Tally {
  count: number;
  days: Set<number>;
  totalMs: number;
}

export class LeftOnDetector {
  private readonly home = new Map<string, boolean>();
  private readonly on = new Set<string>();
  /** Devices on when the home emptied, with the instant the home emptied. */
  private readonly watching = new Map<string, number>();
  private awaySince: number | undefined;
  /** Empty-home periods that lasted at least leftOnMinMs: the opportunities. */
  private awayPeriods = 0;
  private readonly tallies = new Map<string, Tally>();

  constructor(
    private readonly opts: MinerOptions,
    private readonly clock: LocalClock,
  ) {}

  person(entityId: string, state: string, ts: number): void {
    if (state === "unknown" || state === "unavailable") return;
    this.home.set(entityId, state === "home");
    const empty = this.home.size > 0 && ![...this.home.values()].some(Boolean);
    if (empty && this.awaySince === undefined) {
      this.awaySince = ts;
      for (const device of this.on) this.watching.set(device, ts);
    } else if (!empty && this.awaySince !== undefined) {
      if (ts - this.awaySince >= this.opts.leftOnMinMs) this.awayPeriods++;
      for (const [device, since] of this.watching) this.close(device, since, ts);
      this.watching.clear();
      this.awaySince = undefined;
    }
  }

  device(entityId: string, state: string, ts: number): void {
    if (state === "on") this.on.add(entityId);
    else if (state !== "unknown" && state !== "unavailable") {
      this.on.delete(entityId);
      const since = this.watching.get(entityId);
      if (since !== undefined) {
        this.close(entityId, since, ts);
        this.watching.delete(entityId);
      }
    }
  }

  private close(entityId: string, since: number, until: number): void {
    if (until - since < this.opts.leftOnMinMs) return;
    let t = this.tallies.get(entityId);
    if (!t) {
      t = { count: 0, days: new Set(), totalMs: 0 };
      this.tallies.set(entityId, t);
    }
    t.count++;
    t.days.add(this.clock.local(since).day);
    t.totalMs += until - since;
  }

  finish(): Suggestion[] {
    // An empty home that lasts to the end of the history still counts.
    if (this.awaySince !== undefined) {
      if (this.opts.to - this.awaySince >= this.opts.leftOnMinMs) this.awayPeriods++;
      for (const [device, since] of this.watching) this.close(device, since, this.opts.to);
    }
    const persons = [...this.home.keys()].sort();
    const out: Suggestion[] = [];
    for (const [entityId, t] of this.tallies) {
      const confidence = t.count / Math.max(1, this.awayPeriods);
      // Wasting energy on even a third of the absences is worth an automation.
      if (t.days.size < Math.min(3, this.opts.minOccurrences) || confidence < this.opts.minConfidence / 2)
        continue;
      out.push(this.suggest(entityId, t, persons, confidence));
    }
    return out;
  }

  private suggest(entityId: string, t: Tally, persons: string[], confidence: number): Suggestion {
    const name = this.opts.nameOf?.(entityId) ?? nameFromId(entityId);
    const hours = round(t.totalMs / 3_600_000, 1);
    const id = stableId("left_on", entityId, persons.join(","));
    const automation = {
      alias: `Turn off ${name} when everyone has left`,
      description: `Suggested by HomeIQ: ${name} was left on with nobody home ${t.count} times (${hours} h in total).`,
      triggers: [{ trigger: "state", entity_id: persons, from: "home", for: duration(AWAY_GRACE_MS) }],
      conditions: [
        ...persons.map((p) => ({
          condition: "not",
          conditions: [{ condition: "state", entity_id: p, state: "home" }],
        })),
        { condition: "state", entity_id: entityId, state: "on" },
      ],
      actions: [{ action: `${domainOf(entityId)}.turn_off`, target: { entity_id: entityId } }],
      mode: "single" as const,
    };
    return {
      id,
      family: id,
      param: 0,
      kind: "left_on",
      title: automation.alias,
      explanation: `${name} stayed on after everyone had left on ${t.count} of ${this.awayPeriods} absences (${hours} h in total, on ${t.days.size} days). Turning it off ${AWAY_GRACE_MS / 60_000} minutes after the last person leaves would save that energy.`,
      entities: [entityId, ...persons],
      evidence: evidence(t.count, t.days, confidence, {
        hoursLeftOn: hours,
        absences: this.awayPeriods,
        persons: persons.join(","),
      }),
      automation,
      yaml: automationYaml(id, automation),
    };
  }
}
