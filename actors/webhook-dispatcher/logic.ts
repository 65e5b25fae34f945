/**
 * Rule evaluation on the live stream: pure (no I/O, no clock), so tests and the benchmark drive it directly.
 *
 * Cheap at scale: rules are indexed by exact entity id, by domain (domain selectors and globs whose domain
 * part is literal) and a short list of globs with a wildcard domain. The first time an entity id is seen its
 * candidate rules are worked out once and cached in a `Slot`; after that an event costs one Map lookup plus
 * a check of the rules that really select it. Entities no rule selects cost one lookup and nothing else.
 *
 * State kept between events (and persisted by the dispatcher, so a restart neither re-fires nor misses):
 * - per entity some rule selects: its last evaluated state and last_updated. Each entity's changes are
 *   evaluated in time order, once: a change not newer than the last one evaluated (a re-sent batch, a
 *   catch-up overlap, a backfilled gap arriving after newer live changes) is skipped and counted;
 * - per (rule, entity) threshold side (`Side`), which is what makes a noisy sensor fire once per crossing.
 *
 * Fresh changes only: every change is evaluated (so previous states and threshold sides stay true), but a
 * state rule fires only for changes from a source it selects (`sources`, default live only: not the
 * connect snapshot, not a backfilled gap), and a live change only while it is younger than
 * `maxAgeMs`. Suppressed fires are counted by reason (`skippedSource`, `skippedStale`).
 */
import type { EventSource, StateChange } from "../../runtime/events/messages.ts";
import { type EventView, ownString, viewOf } from "../../runtime/events/packed.ts";
import { matchGlob } from "./glob.ts";
import { isGlob, literalDomain, type Rule, sourcesOf } from "./rules.ts";

/** Where a batch of state changes came from and when it is evaluated, for the freshness rules. */
export interface Arrival {
  source: EventSource;
  /** HomeIQ's clock (ms) at evaluation. */
  nowMs: number;
  /** A live change older than this fires nothing; 0 turns the check off. */
  maxAgeMs: number;
}

/** Evaluation without a known arrival (tests, the benchmark): live, no age bound. */
const ANY_AGE: Arrival = { source: "live", nowMs: 0, maxAgeMs: 0 };

/** Threshold side of one (rule, entity): nothing seen yet, armed (quiet side), fired (waiting to re-arm). */
export const Side = { unknown: 0, armed: 1, fired: 2 } as const;
export type Side = (typeof Side)[keyof typeof Side];

export interface ThresholdSpec {
  above?: number;
  below?: number;
  hysteresis?: number;
}

/**
 * One step of a threshold with hysteresis. `above: 25, hysteresis: 1` fires when the value goes from
 * <= 25 to > 25 and re-arms only once it is back at <= 24; `below` mirrors it. The first value seen only
 * establishes the side: a sensor already past the threshold when watching starts does not fire.
 */
export function stepThreshold(side: Side, value: number, t: ThresholdSpec): { side: Side; fire: boolean } {
  const h = t.hysteresis ?? 0;
  let past: boolean;
  let rearm: boolean;
  if (t.above !== undefined) {
    past = value > t.above;
    rearm = value <= t.above - h;
  } else {
    past = value < (t.below as number);
    rearm = value >= (t.below as number) + h;
  }
  if (past) return { side: Side.fired, fire: side === Side.armed };
  if (rearm || side === Side.unknown) return { side: Side.armed, fire: false };
  return { side, fire: false };
}

export type FireKind = "state_changed" | "threshold_crossed" | "enrichment" | "health";

/** A rule that matched: the dispatcher turns it into a delivery. */
export interface Fire {
  rule: Rule;
  kind: FireKind;
  /** Identity of the triggering event (with the rule id, the delivery id): entity_id or enrichment key. */
  subject: string;
  /** Event time: last_updated in microseconds for state changes, ms for enrichment and health. */
  at: number;
  /** Where a state change came from (live, snapshot, backfill); absent for enrichment and health. */
  source?: EventSource;
  event: StateChange | null;
  previous: string | null;
  value: number | null;
  extra?: Record<string, unknown>;
}

interface Compiled {
  rule: Rule;
  /** id@updatedAt: an edited rule starts with fresh threshold state. */
  key: string;
  /** The entity selector when it holds wildcards (matched by glob.ts, linear time). */
  glob?: string;
  domain?: string;
  from?: string;
  to?: string;
  threshold?: ThresholdSpec;
  transition: boolean;
}

interface Slot {
  entityId: string;
  version: number;
  rules: Compiled[];
  sides: Uint8Array;
  prev: string | undefined;
  /** last_updated (µs) of the newest change of this entity evaluated. */
  lastUs: number;
  /** Listed in `dirtySlots` (its state changed since the last takeDirty). */
  dirty: boolean;
}

/** What is persisted per watched entity. */
export interface Seen {
  state: string;
  lastUs: number;
}

export interface DirtyState {
  /** entity_id -> last evaluated state and time, for entities some rule selects. */
  seen: Map<string, Seen>;
  /** `${ruleKey}\u0001${subject}` -> Side */
  sides: Map<string, Side>;
}

export const sideKey = (ruleKey: string, subject: string): string => `${ruleKey}\u0001${subject}`;
export const ruleKey = (rule: Rule): string => `${rule.id}@${rule.updatedAt}`;

function compile(rule: Rule): Compiled {
  const w = rule.when;
  const c: Compiled = { rule, key: ruleKey(rule), transition: false };
  if (w.kind === "enrichment") {
    if (w.above !== undefined || w.below !== undefined) c.threshold = w;
    return c;
  }
  if (w.entity !== undefined && isGlob(w.entity)) c.glob = w.entity;
  c.domain = w.domain ?? (w.entity !== undefined ? literalDomain(w.entity) : undefined);
  if (w.kind === "state") {
    if (w.above !== undefined || w.below !== undefined) c.threshold = w;
    c.from = w.from;
    c.to = w.to;
    c.transition = w.from !== undefined || w.to !== undefined;
  }
  return c;
}

const domainOf = (entityId: string): string => {
  const dot = entityId.indexOf(".");
  return dot < 0 ? "" : entityId.slice(0, dot);
};

/** Selector test for health rules and for building slots. */
function selects(c: Compiled, entityId: string): boolean {
  const w = c.rule.when;
  if (w.kind === "enrichment") return false;
  if (c.domain !== undefined && domainOf(entityId) !== c.domain) return false;
  if (c.glob !== undefined) return matchGlob(c.glob, entityId);
  return w.entity === undefined || w.entity === entityId;
}

export class Matcher {
  private version = 0;
  private exact = new Map<string, Compiled[]>();
  private byDomain = new Map<string, Compiled[]>();
  private anyDomain: Compiled[] = [];
  private enrichment = new Map<string, Compiled[]>();
  private health: Compiled[] = [];
  private readonly slots = new Map<string, Slot>();
  private readonly seenState = new Map<string, Seen>();
  /** Changes skipped because they were not newer than their entity's last evaluated change. */
  skipped = 0;
  /** Fires suppressed because the rule does not select the change's source (snapshot, backfill, ...). */
  skippedSource = 0;
  /** Fires suppressed because the live change was older than the arrival's maxAgeMs. */
  skippedStale = 0;
  /** Newest last_updated (µs) evaluated, over all entities: where a catch-up from the store starts. */
  watermarkUs = 0;
  private readonly sideState = new Map<string, Side>();
  private dirty: DirtyState = { seen: new Map(), sides: new Map() };
  /** Slots whose last evaluated change is not yet persisted (no per-event allocation on the hot path). */
  private dirtySlots: Slot[] = [];

  constructor(private readonly cacheMax = 100_000) {}

  /** Replaces the rule set (disabled rules are skipped). State of unchanged rules is kept. */
  setRules(rules: readonly Rule[]): void {
    this.version++;
    this.exact = new Map();
    this.byDomain = new Map();
    this.anyDomain = [];
    this.enrichment = new Map();
    this.health = [];
    const push = <K>(map: Map<K, Compiled[]>, key: K, c: Compiled) => {
      const list = map.get(key);
      if (list) list.push(c);
      else map.set(key, [c]);
    };
    // Forget threshold state of rules that were deleted or edited (an edit changes the rule key).
    const live = new Set(rules.map(ruleKey));
    for (const k of this.sideState.keys())
      if (!live.has(k.slice(0, k.indexOf("\u0001")))) this.sideState.delete(k);
    for (const rule of rules) {
      if (!rule.enabled) continue;
      const c = compile(rule);
      const w = rule.when;
      if (w.kind === "enrichment") push(this.enrichment, `${w.source}/${w.metric}`, c);
      else if (w.kind === "health") this.health.push(c);
      else if (w.entity !== undefined && c.glob === undefined) push(this.exact, w.entity, c);
      else if (c.domain !== undefined) push(this.byDomain, c.domain, c);
      else this.anyDomain.push(c);
    }
  }

  /** Loads persisted state (after a restart) before the first event. */
  restore(seen: Iterable<[string, Seen]>, sides: Iterable<[string, Side]>, watermarkUs = 0): void {
    for (const [entity, s] of seen) this.seenState.set(entity, s);
    this.watermarkUs = Math.max(this.watermarkUs, watermarkUs);
    for (const [key, side] of sides) this.sideState.set(key, side);
  }

  /** State changed since the last call, to persist with the deliveries it produced. */
  takeDirty(): DirtyState {
    const d = this.dirty;
    for (const slot of this.dirtySlots) {
      const seen = { state: slot.prev as string, lastUs: slot.lastUs };
      this.seenState.set(slot.entityId, seen);
      d.seen.set(slot.entityId, seen);
      slot.dirty = false;
    }
    this.dirtySlots = [];
    this.dirty = { seen: new Map(), sides: new Map() };
    return d;
  }

  /** The rules whose selectors pick this entity (cached per entity id). */
  private slot(entityId: string): Slot {
    let slot = this.slots.get(entityId);
    if (slot && slot.version === this.version) return slot;
    const rules: Compiled[] = [];
    for (const c of this.exact.get(entityId) ?? []) if (selects(c, entityId)) rules.push(c);
    for (const c of this.byDomain.get(domainOf(entityId)) ?? []) if (selects(c, entityId)) rules.push(c);
    for (const c of this.anyDomain) if (selects(c, entityId)) rules.push(c);
    const sides = new Uint8Array(rules.length);
    for (let i = 0; i < rules.length; i++) {
      if (rules[i].threshold) sides[i] = this.sideState.get(sideKey(rules[i].key, entityId)) ?? Side.unknown;
    }
    if (!slot && this.slots.size >= this.cacheMax) {
      for (const d of this.dirtySlots)
        this.seenState.set(d.entityId, { state: d.prev as string, lastUs: d.lastUs });
      this.slots.clear();
    }
    const seen = this.seenState.get(entityId);
    const prev = slot ? slot.prev : seen?.state;
    const lastUs = Math.max(slot?.lastUs ?? 0, seen?.lastUs ?? 0);
    // A slot replaced while dirty hands its pending state over, so takeDirty still reports it.
    const dirty = slot?.dirty ?? false;
    if (slot) slot.dirty = false;
    // Kept as a Map key: an own copy of the id, not a substring pinning the whole batch.
    const id = ownString(entityId);
    slot = { entityId: id, version: this.version, rules, sides, prev, lastUs, dirty };
    if (dirty) this.dirtySlots.push(slot);
    this.slots.set(id, slot);
    return slot;
  }

  /**
   * Evaluates a batch of stored state changes, appending what fired to `out`. An entity no rule selects
   * costs a lookup and its state text; the whole record is read only for entities some rule selects.
   */
  matchStates(events: EventView | readonly StateChange[], out: Fire[], arrival: Arrival = ANY_AGE): void {
    const view = Array.isArray(events) ? viewOf(events as readonly StateChange[]) : (events as EventView);
    const ageCheck = arrival.source === "live" && arrival.maxAgeMs > 0;
    const oldestUs = (arrival.nowMs - arrival.maxAgeMs) * 1000;
    const fired = out.length;
    for (let e = 0; e < view.n; e++) {
      const slot = this.slot(view.entityId(e));
      const lastUpdated = view.lastUpdated(e);
      if (lastUpdated <= slot.lastUs) {
        this.skipped++;
        continue;
      }
      if (lastUpdated > this.watermarkUs) this.watermarkUs = lastUpdated;
      const prev = slot.prev;
      const state = view.state(e);
      // Kept until the entity's next change: an own copy, not a substring pinning the whole batch.
      slot.prev = state === prev ? prev : ownString(state);
      slot.lastUs = lastUpdated;
      const n = slot.rules.length;
      if (n === 0) continue;
      if (!slot.dirty) {
        slot.dirty = true;
        this.dirtySlots.push(slot);
      }
      const event = view.change(e);
      let value: number | undefined;
      for (let i = 0; i < n; i++) {
        const c = slot.rules[i];
        if (c.threshold) {
          if (value === undefined) value = event.state === "" ? Number.NaN : Number(event.state);
          if (!Number.isFinite(value)) continue; // unavailable/unknown: no verdict, side kept
          const step = stepThreshold(slot.sides[i] as Side, value, c.threshold);
          if (step.side !== slot.sides[i]) {
            slot.sides[i] = step.side;
            this.setSide(c.key, event.entity_id, step.side);
          }
          if (step.fire) out.push(this.fire(c, "threshold_crossed", event, prev, value));
        } else if (c.transition) {
          if (prev === event.state) continue;
          if (c.from !== undefined && prev !== c.from) continue;
          if (c.to !== undefined && event.state !== c.to) continue;
          out.push(this.fire(c, "state_changed", event, prev, null));
        } else {
          out.push(this.fire(c, "state_changed", event, prev, null));
        }
      }
    }
    // Evaluated in full above (states and sides move on); what may not fire is taken back out here
    // (fires are few next to events, so this costs nothing per event).
    let kept = fired;
    for (let i = fired; i < out.length; i++) {
      const f = out[i];
      const w = f.rule.when;
      if (w.kind === "state" && !(sourcesOf(w) as readonly string[]).includes(arrival.source))
        this.skippedSource++;
      else if (ageCheck && f.at < oldestUs) this.skippedStale++;
      else {
        f.source = arrival.source;
        out[kept++] = f;
      }
    }
    out.length = kept;
  }

  /** Evaluates one enrichment value (`ts` in ms). */
  matchEnrichment(source: string, metric: string, value: number, ts: number, out: Fire[]): void {
    const rules = this.enrichment.get(`${source}/${metric}`);
    if (!rules) return;
    const subject = `enrichment:${source}/${metric}`;
    for (const c of rules) {
      if (c.threshold) {
        const k = sideKey(c.key, subject);
        const step = stepThreshold(this.sideState.get(k) ?? Side.unknown, value, c.threshold);
        if (step.side !== (this.sideState.get(k) ?? Side.unknown)) this.setSide(c.key, subject, step.side);
        if (!step.fire) continue;
      }
      out.push({
        rule: c.rule,
        kind: "enrichment",
        subject,
        at: ts,
        event: null,
        previous: null,
        value,
        extra: { source, metric },
      });
    }
  }

  /** Evaluates one entity-health verdict (`ts` in ms); see messages.ts for the provisional shape. */
  matchHealth(
    entityId: string,
    status: string,
    ts: number,
    extra: Record<string, unknown>,
    out: Fire[],
  ): void {
    for (const c of this.health) {
      const w = c.rule.when;
      if (w.kind !== "health" || !selects(c, entityId)) continue;
      if (w.status !== undefined && w.status !== status) continue;
      out.push({
        rule: c.rule,
        kind: "health",
        subject: `health:${entityId}:${status}`,
        at: ts,
        event: null,
        previous: null,
        value: null,
        extra: { entity_id: entityId, status, ...extra },
      });
    }
  }

  private setSide(key: string, subject: string, side: Side): void {
    const k = sideKey(key, subject);
    this.sideState.set(k, side);
    this.dirty.sides.set(k, side);
  }

  private fire(
    c: Compiled,
    kind: FireKind,
    event: StateChange,
    prev: string | undefined,
    value: number | null,
  ): Fire {
    return {
      rule: c.rule,
      kind,
      subject: event.entity_id,
      at: event.last_updated,
      event,
      previous: prev ?? null,
      value,
    };
  }
}
