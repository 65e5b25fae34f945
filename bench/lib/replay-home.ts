/**
 * A day of a real-looking home as the store receives it, for measuring bytes per event on something other
 * than the synthetic bench stream: the simulator's home (sim/home.ts: its entities, their states and
 * attributes) reporting at the cadences such devices have, with what HA does around them:
 * - a state is written only when its text or attributes change (HA drops identical writes);
 * - every write gets a fresh random ULID context made a moment before it (HA's `Context()`), except
 * - automation runs: a motion sensor turning on triggers `automation.<light>_on_motion`, whose run has
 *   its own context (parent: the motion event's) shared by the automation's `last_triggered` update and
 *   the light it turns on a few hundred ms later — as HA records a run;
 * - now and then a person switches a light in the app: a context with their user id.
 * Deterministic for a seed.
 */
import type { StateChange } from "../../runtime/events/messages.ts";
import { advance, buildHome, type SimEntity, seededRandom } from "../../sim/home.ts";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** Mean seconds between reports, per kind (sensors report on a timer; others change on events). */
const CADENCE_S: Record<string, number> = {
  temperature: 90,
  humidity: 120,
  power: 30,
  energy: 60,
  motion: 600,
  door: 1800,
  switch: 3600,
  climate: 60,
  person: 7200,
  weather: 600,
  light: 5400,
};
const USERS = ["8d4a1f0c6b2e4a3f9e7d5c1b0a987654", "3c2b1a09f8e7d6c5b4a3928170f6e5d4"];

export interface ReplayOptions {
  entities: number;
  hours: number;
  seed: number;
  startUs: number;
}

/** The home's state changes over `hours`, in time order. */
export function replayHome(opts: ReplayOptions): StateChange[] {
  const random = seededRandom(opts.seed);
  const home = buildHome(opts.entities, random, opts.startUs);
  const ulid = (us: number) => {
    let ms = Math.floor(us / 1000);
    let text = "";
    for (let i = 0; i < 10; i++) {
      text = CROCKFORD[ms % 32] + text;
      ms = Math.floor(ms / 32);
    }
    for (let i = 0; i < 16; i++) text += CROCKFORD[Math.floor(random() * 32)];
    return text;
  };
  const out: StateChange[] = [];
  const attrsText = new Map<SimEntity, string>();
  const emit = (
    e: SimEntity,
    us: number,
    changed: boolean,
    ctx: { id: string; parent: string | null; user: string | null },
  ) => {
    const attributes = JSON.stringify(e.attributes);
    if (!changed && attrsText.get(e) === attributes) return false;
    attrsText.set(e, attributes);
    e.lastUpdatedUs = us;
    if (changed) e.lastChangedUs = us;
    out.push({
      entity_id: e.entity_id,
      state: e.state,
      attributes,
      last_changed: e.lastChangedUs,
      last_updated: us,
      context_id: ctx.id,
      context_parent_id: ctx.parent,
      context_user_id: ctx.user,
    });
    return true;
  };
  // Each motion sensor drives one light (by position), through one automation entity each.
  const lights = home.entities.filter((e) => e.kind === "light");
  const motions = home.entities.filter((e) => e.kind === "motion");
  const automation = new Map<SimEntity, { auto: SimEntity; light: SimEntity }>();
  motions.forEach((m, i) => {
    const light = lights[i % Math.max(1, lights.length)];
    if (!light) return;
    const auto: SimEntity = {
      ...light,
      entity_id: `automation.${light.entity_id.slice(6)}_on_motion`,
      kind: "switch",
      state: "on",
      attributes: {
        friendly_name: `${light.name} on motion`,
        last_triggered: null,
        mode: "restart",
        current: 0,
      },
    };
    automation.set(m, { auto, light });
  });
  // Everyone's first state at the start, then each entity's reports as a Poisson process, merged by time.
  const next: { at: number; e: SimEntity }[] = [];
  const endUs = opts.startUs + opts.hours * 3_600_000_000;
  const gap = (e: SimEntity) => -Math.log(1 - random()) * (CADENCE_S[e.kind] ?? 600) * 1e6;
  for (const e of home.entities) {
    advance(e, random);
    emit(e, opts.startUs + Math.floor(random() * 1e6), true, {
      id: ulid(opts.startUs),
      parent: null,
      user: null,
    });
    next.push({ at: opts.startUs + gap(e), e });
  }
  for (const { auto } of automation.values())
    emit(auto, opts.startUs + 1_000_000, true, { id: ulid(opts.startUs), parent: null, user: null });
  for (;;) {
    let k = 0;
    for (let i = 1; i < next.length; i++) if (next[i].at < next[k].at) k = i;
    const { at, e } = next[k];
    if (at >= endUs) break;
    next[k] = { at: at + gap(e), e };
    const us = Math.floor(at);
    if (us <= e.lastUpdatedUs) continue;
    const made = us - Math.floor(random() * 3000); // HA makes the context a moment before the write
    const before = e.state;
    const changed = advance(e, random) && e.state !== before;
    const user = e.kind === "light" && random() < 0.5 ? USERS[Math.floor(random() * USERS.length)] : null;
    const ctx = { id: ulid(made), parent: null, user };
    if (!emit(e, us, changed, ctx)) continue;
    const rule = automation.get(e);
    if (rule && e.state === "on") {
      const run = { id: ulid(us + 2000), parent: ctx.id, user: null };
      rule.auto.attributes.last_triggered = new Date((us + 2000) / 1000).toISOString();
      emit(rule.auto, us + 3000, false, run);
      const light = rule.light;
      const lightUs = us + 150_000 + Math.floor(random() * 300_000);
      if (light.state !== "on" && lightUs > light.lastUpdatedUs) {
        light.state = "on";
        light.attributes.brightness = 200;
        light.attributes.color_mode = "brightness";
        emit(light, lightUs, true, run);
      }
    }
  }
  return out.sort((a, b) => a.last_updated - b.last_updated);
}
