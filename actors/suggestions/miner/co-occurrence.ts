/**
 * Co-occurrences: "after binary_sensor.front_door opens, light.hallway is turned on within 30 s". The
 * detector keeps the triggers of the last window (bounded) and, for each manual action, credits every
 * distinct trigger seen shortly before it. A pair is proposed when the action follows the trigger on most
 * occasions (support) and far more often than the action's own rate would explain by chance (lift).
 */

import type { LocalClock } from "../../../runtime/kernel/local-time.ts";
import { actionStep, automationYaml, stableId } from "./automation.ts";
import { ByEntityState } from "./by-entity-state.ts";
import { nameFromId, verbFor } from "./entities.ts";
import { evidence, round } from "./evidence.ts";
import { RoundedMedians } from "./rounded-medians.ts";
import { pastTense } from "./time-of-day.ts";
import type { MinerOptions, Suggestion } from "./types.ts";

const MIN_LIFT = 5;
/** Bound on triggers remembered within one window (a storm of motion sensors cannot grow memory). */
const MAX_RECENT = 1024;

interface Pair {
  count: number;
  /** Distinct local days, in the order first seen (a Set per pair cost more than the pairs' counts). */
  days: number[];
  /** Slot in `delays`: the median delay in seconds over the pair's first `maxSamplesPerKey` credits. */
  delaySlot: number;
}

/** Pair keys are trigger id * PAIR_BASE + action id: numbers, not strings built per pair per action. */
const PAIR_BASE = 2 ** 26;

export class CoOccurrenceDetector {
  /**
   * entity → state → key id; names ("entity\0state") and entities by key id. Shared by triggers and
   * actions. Nested maps, so finding a key builds no string per event.
   */
  private readonly keyIds = new ByEntityState<number>();
  private readonly keyNames: string[] = [];
  private readonly keyEntity: number[] = [];
  private readonly entityIds = new Map<string, number>();
  private readonly recentKey: number[] = [];
  private readonly recentTs: number[] = [];
  private head = 0;
  private readonly triggers = new Map<number, number>();
  private readonly actions = new Map<number, number>();
  private readonly pairs = new Map<number, Pair>();
  /** Every pair's delays (ms) as binned seconds: the reported median is in whole seconds. */
  private readonly delays: RoundedMedians;
  /** The action that last credited each key id: "credit each trigger once per action" without a Set. */
  private readonly creditedBy: number[] = [];
  private actionSeq = 0;

  constructor(
    private readonly opts: MinerOptions,
    private readonly clock: LocalClock,
  ) {
    this.delays = new RoundedMedians(1000, opts.coWindowMs);
  }

  private keyOf(entityId: string, state: string): number {
    let id = this.keyIds.get(entityId, state);
    if (id === undefined) {
      const name = `${entityId}\u0000${state}`;
      id = this.keyNames.length;
      if (id >= PAIR_BASE) throw new Error(`co-occurrence: more than ${PAIR_BASE} distinct entity states`);
      let entity = this.entityIds.get(entityId);
      if (entity === undefined) {
        entity = this.entityIds.size;
        this.entityIds.set(entityId, entity);
      }
      this.keyIds.set(entityId, state, id);
      this.keyNames.push(name);
      this.keyEntity.push(entity);
      this.creditedBy.push(-1);
    }
    return id;
  }

  trigger(entityId: string, state: string, ts: number): void {
    const key = this.keyOf(entityId, state);
    this.triggers.set(key, (this.triggers.get(key) ?? 0) + 1);
    this.evict(ts);
    if (this.recentKey.length - this.head >= MAX_RECENT) this.head++;
    this.recentKey.push(key);
    this.recentTs.push(ts);
  }

  action(entityId: string, state: string, ts: number): void {
    const actionKey = this.keyOf(entityId, state);
    this.actions.set(actionKey, (this.actions.get(actionKey) ?? 0) + 1);
    this.evict(ts);
    const seq = this.actionSeq++;
    const entity = this.keyEntity[actionKey];
    const day = this.clock.local(ts).day;
    // Newest first, so the recorded delay is from the latest occurrence of each trigger.
    for (let i = this.recentKey.length - 1; i >= this.head; i--) {
      const key = this.recentKey[i];
      if (this.creditedBy[key] === seq || this.keyEntity[key] === entity) continue;
      this.creditedBy[key] = seq;
      const pairKey = key * PAIR_BASE + actionKey;
      let pair = this.pairs.get(pairKey);
      if (!pair) {
        pair = { count: 0, days: [], delaySlot: this.delays.open() };
        this.pairs.set(pairKey, pair);
      }
      pair.count++;
      const days = pair.days;
      if (days[days.length - 1] !== day && !days.includes(day)) days.push(day);
      if (this.delays.size(pair.delaySlot) < this.opts.maxSamplesPerKey)
        this.delays.add(pair.delaySlot, ts - this.recentTs[i]);
    }
  }

  private evict(now: number): void {
    while (this.head < this.recentKey.length && now - this.recentTs[this.head] > this.opts.coWindowMs)
      this.head++;
    // Compact now and then so the arrays stay bounded.
    if (this.head > 4096) {
      this.recentKey.splice(0, this.head);
      this.recentTs.splice(0, this.head);
      this.head = 0;
    }
  }

  finish(): Suggestion[] {
    const span = Math.max(1, this.opts.to - this.opts.from);
    const out: Suggestion[] = [];
    for (const [pairKey, pair] of this.pairs) {
      if (pair.count < this.opts.minOccurrences || pair.days.length < Math.min(3, this.opts.minOccurrences))
        continue;
      const triggerId = Math.floor(pairKey / PAIR_BASE);
      const actionId = pairKey - triggerId * PAIR_BASE;
      const triggerCount = this.triggers.get(triggerId) ?? 0;
      const actionCount = this.actions.get(actionId) ?? 0;
      const support = pair.count / Math.max(1, triggerCount);
      // Chance that at least one action falls in a random window of this length.
      const chance = 1 - Math.exp(-(actionCount / span) * this.opts.coWindowMs);
      const lift = support / Math.max(chance, 1e-9);
      if (support < this.opts.minConfidence || lift < MIN_LIFT) continue;
      out.push(
        this.suggest(this.keyNames[triggerId], this.keyNames[actionId], pair, {
          triggerCount,
          actionCount,
          support,
          lift,
        }),
      );
    }
    return out;
  }

  private suggest(
    triggerKey: string,
    actionKey: string,
    pair: Pair,
    s: { triggerCount: number; actionCount: number; support: number; lift: number },
  ): Suggestion {
    const [trigger, triggerState] = triggerKey.split("\u0000");
    const [entityId, state] = actionKey.split("\u0000");
    const name = this.opts.nameOf?.(entityId) ?? nameFromId(entityId);
    const triggerName = this.opts.nameOf?.(trigger) ?? nameFromId(trigger);
    const verb = verbFor(entityId, state);
    const delaySec = this.delays.result(pair.delaySlot);
    const happens = trigger.startsWith("person.")
      ? "arrives home"
      : triggerState === "on"
        ? "turns on"
        : `becomes ${triggerState}`;
    const id = stableId("co_occurrence", trigger, triggerState, entityId, state);
    const automation = {
      alias: `${verb.charAt(0).toUpperCase()}${verb.slice(1)} ${name} when ${triggerName} ${happens}`,
      description: `Suggested by HomeIQ: ${name} was ${pastTense(verb)} within ${Math.round(this.opts.coWindowMs / 1000)} s after ${triggerName} on ${pair.count} of ${s.triggerCount} occasions.`,
      triggers: [{ trigger: "state", entity_id: trigger, to: triggerState }],
      conditions: [],
      actions: [actionStep(entityId, state)],
      mode: "single" as const,
    };
    return {
      id,
      family: id,
      param: 0,
      kind: "co_occurrence",
      title: automation.alias,
      explanation: `When ${triggerName} ${happens}, ${name} is ${pastTense(verb)} a median ${delaySec} s later: ${pair.count} of ${s.triggerCount} times (${Math.round(s.support * 100)}%), on ${pair.days.length} different days. An automation would do it at once.`,
      entities: [trigger, entityId],
      evidence: evidence(pair.count, pair.days, s.support, {
        trigger,
        triggerState,
        medianDelaySec: delaySec,
        triggers: s.triggerCount,
        actions: s.actionCount,
        lift: round(s.lift, 1),
      }),
      automation,
      yaml: automationYaml(id, automation),
    };
  }
}
