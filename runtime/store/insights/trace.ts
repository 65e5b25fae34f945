/**
 * Automation traces. Home Assistant stamps every state change with a context: `id`, the `parent_id` of the
 * context that caused it (an automation run's context has the triggering state change's context as
 * parent) and the `user_id` when a person did it. Following `parent_id` upwards answers "what caused
 * this"; following it downwards answers "what did this cause". The walk is bounded in depth and in events.
 */
import { domainOf, type InsightEvent } from "./types.ts";

/** Read access to events by context; arrays here, indexed SQL lookups in runtime/store/insights-reader.ts. */
export interface ContextLookup {
  /** Events stamped with this context id, oldest first. */
  byContext(contextId: string): InsightEvent[];
  /** Context ids whose parent is this context id. */
  childContexts(contextId: string): string[];
}

export type StepKind = "user" | "automation" | "state_change" | "unknown";

export interface TraceEventView {
  entity_id: string;
  state: string;
  ts: number;
}

export interface TraceStep {
  context_id: string;
  parent_id: string | null;
  user_id: string | null;
  /** What this context is: a person's action, an automation/script run, a device's own change, or not stored. */
  kind: StepKind;
  /** The automation or script entity that ran in this context, when there is one. */
  automation: string | null;
  /** Ancestors are negative (-1 is the direct cause), the event's own context is 0, effects are positive. */
  depth: number;
  events: TraceEventView[];
}

export interface Trace {
  target: TraceEventView & { context_id: string | null };
  /** From the root cause down to the event's own context. */
  causes: TraceStep[];
  /** Contexts the event's context caused, breadth first. */
  effects: TraceStep[];
  /** The root of the chain in one line: who or what started it. */
  origin: { kind: StepKind; entity_id: string | null; user_id: string | null };
  /** True when maxDepth or maxEvents cut the walk short. */
  truncated: boolean;
}

const AUTOMATION_DOMAINS = new Set(["automation", "script"]);

function view(e: InsightEvent): TraceEventView {
  return { entity_id: e.entity_id, state: e.state, ts: e.ts };
}

function step(
  contextId: string,
  events: InsightEvent[],
  depth: number,
  fallbackParent: string | null,
): TraceStep {
  const first = events[0];
  const parent = first?.context_parent_id ?? fallbackParent;
  const user = events.find((e) => e.context_user_id)?.context_user_id ?? null;
  const automation = events.find((e) => AUTOMATION_DOMAINS.has(domainOf(e.entity_id)))?.entity_id ?? null;
  const kind: StepKind =
    events.length === 0 ? "unknown" : automation ? "automation" : user ? "user" : "state_change";
  return {
    context_id: contextId,
    parent_id: parent,
    user_id: user,
    kind,
    automation,
    depth,
    events: events.map(view),
  };
}

/**
 * Traces one event's causes and effects.
 *
 * @example
 * const t = traceEvent(lightOn, arrayLookup(events), { maxDepth: 8, maxEvents: 200 });
 * t.origin // { kind: "state_change", entity_id: "binary_sensor.hall_motion", user_id: null }
 */
export function traceEvent(
  target: InsightEvent,
  lookup: ContextLookup,
  opts: { maxDepth: number; maxEvents: number },
): Trace {
  let budget = opts.maxEvents;
  let truncated = false;
  const take = (events: InsightEvent[]): InsightEvent[] => {
    if (events.length > budget) truncated = true;
    const kept = events.slice(0, Math.max(0, budget));
    budget -= kept.length;
    return kept;
  };
  const seen = new Set<string>();
  const causes: TraceStep[] = [];
  const effects: TraceStep[] = [];
  if (target.context_id) {
    seen.add(target.context_id);
    const own = take(lookup.byContext(target.context_id));
    causes.push(step(target.context_id, own.length ? own : [target], 0, target.context_parent_id));
    // Upwards: each parent context; a parent that was never stored ends the walk as "unknown".
    let parent = target.context_parent_id;
    for (let depth = -1; parent; depth--) {
      if (-depth > opts.maxDepth || budget <= 0) {
        truncated = true;
        break;
      }
      if (seen.has(parent)) break; // a cycle would be corrupt data; never loop on it
      seen.add(parent);
      const s = step(parent, take(lookup.byContext(parent)), depth, null);
      causes.unshift(s);
      parent = s.events.length ? s.parent_id : null;
    }
    // Downwards, breadth first.
    let frontier = [target.context_id];
    for (let depth = 1; frontier.length; depth++) {
      const next: string[] = [];
      for (const ctx of frontier) {
        for (const child of lookup.childContexts(ctx)) {
          if (seen.has(child)) continue;
          if (depth > opts.maxDepth || budget <= 0) {
            truncated = true;
            continue;
          }
          seen.add(child);
          effects.push(step(child, take(lookup.byContext(child)), depth, ctx));
          next.push(child);
        }
      }
      frontier = next;
    }
  } else {
    causes.push({ ...step("", [target], 0, null), context_id: "" });
  }
  const root = causes[0];
  const rootEvent = root.events.find((e) => !AUTOMATION_DOMAINS.has(domainOf(e.entity_id))) ?? root.events[0];
  return {
    target: { ...view(target), context_id: target.context_id },
    causes,
    effects,
    origin: {
      kind: root.kind,
      entity_id: root.automation ?? rootEvent?.entity_id ?? null,
      user_id: root.user_id,
    },
    truncated,
  };
}

/** A lookup over an in-memory array of events (tests, and small windows already read). */
export function arrayLookup(events: readonly InsightEvent[]): ContextLookup {
  const byContext = new Map<string, InsightEvent[]>();
  const children = new Map<string, Set<string>>();
  for (const e of [...events].sort((a, b) => a.ts - b.ts)) {
    if (!e.context_id) continue;
    const list = byContext.get(e.context_id);
    if (list) list.push(e);
    else byContext.set(e.context_id, [e]);
    if (e.context_parent_id) {
      const set = children.get(e.context_parent_id) ?? new Set<string>();
      set.add(e.context_id);
      children.set(e.context_parent_id, set);
    }
  }
  return {
    byContext: (id) => byContext.get(id) ?? [],
    childContexts: (id) => [...(children.get(id) ?? [])],
  };
}
