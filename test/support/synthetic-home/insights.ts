/**
 * A synthetic home history with planted truths, for the insight tests and the benchmark: devices whose
 * power step is known, a sensor that goes stale, a three-step automation chain, a flapping window sensor,
 * a low battery — and noise around each of them (a switch that draws nothing, an untracked fridge cycling on
 * the home meter, jittery sensors, a battery just above the limit, a switch used a few times an hour).
 * Deterministic for a seed.
 */
import type { InsightEvent } from "../../../runtime/store/insights/types.ts";
import { seededRandom } from "../../../sim/home.ts";

export const PLANTED = {
  homePower: "sensor.home_power",
  baseW: 180,
  noiseW: 20,
  /** Devices measured on the home meter, with their true draw. */
  steps: { "switch.kettle": 2000, "climate.bedroom": 1200, "light.living": 60 } as Record<string, number>,
  /** Toggles often, draws nothing: must come out as not measurable. */
  silentSwitch: "switch.garden_relay",
  /** Measured on its own sensor. */
  tv: { entity: "switch.tv", sensor: "sensor.tv_power", onW: 110, standbyW: 8 },
  /** Untracked load on the home meter. */
  fridgeW: 90,
  staleSensor: "sensor.attic_temperature",
  staleForMs: 6 * 3600_000,
  unavailable: "light.porch",
  unavailableForMs: 2 * 3600_000,
  lowBattery: "sensor.front_door_battery",
  lowBatteryPct: 15,
  okBattery: "sensor.window_battery",
  flapping: "binary_sensor.hall_window",
  flapForMs: 40 * 60_000,
  calmSwitch: "switch.coffee",
  chain: [
    "binary_sensor.hall_motion",
    "automation.hall_light",
    "light.hall",
    "automation.hall_fan",
    "switch.hall_fan",
  ],
  userAction: { entity: "light.study", user: "user-anna" },
} as const;

/** The seeded RNG (mulberry32) the simulator uses too: one implementation for all synthetic data. */
export const seeded = seededRandom;

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A ULID as Home Assistant makes context ids: 10 digits of milliseconds, 16 random digits. */
export function ulid(ms: number, rnd: () => number): string {
  let time = "";
  let t = Math.floor(ms);
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let random = "";
  for (let i = 0; i < 16; i++) random += CROCKFORD[Math.floor(rnd() * 32)];
  return time + random;
}

export interface SyntheticHome {
  events: InsightEvent[];
  from: number;
  now: number;
  names: Map<string, string>;
  /** Context ids of the planted chain's three contexts, in causal order. */
  chainContexts: string[];
}

/**
 * @param extraSensors  regular background sensors (every ~60 s ± 10 s) to bring the home up to size
 */
export function syntheticHome(opts: {
  seed: number;
  days: number;
  now: number;
  extraSensors?: number;
  /** Mean update interval of the extra sensors (default 60 s). */
  extraIntervalMs?: number;
}): SyntheticHome {
  const rnd = seeded(opts.seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const now = opts.now;
  const from = now - opts.days * 86400_000;
  const events: InsightEvent[] = [];
  const ctx = (ts: number) => ulid(ts, rnd);
  const push = (entity_id: string, state: string, ts: number, extra: Partial<InsightEvent> = {}) =>
    events.push({
      entity_id,
      state,
      value: state !== "" && Number.isFinite(Number(state)) ? Number(state) : null,
      ts: Math.round(ts),
      context_id: ctx(ts),
      context_parent_id: null,
      context_user_id: null,
      ...extra,
    });

  // Device schedules: [on, off) intervals.
  const on = new Map<string, [number, number][]>();
  const schedule = (entity: string, perDay: number, minMs: number, maxMs: number, onState = "on") => {
    const list: [number, number][] = [];
    let t = from + rnd() * (86400_000 / perDay);
    while (t < now - 3600_000) {
      const len = minMs + rnd() * (maxMs - minMs);
      if (t + len >= now - 60_000) break; // every event lies in the past
      list.push([t, t + len]);
      push(entity, onState, t);
      push(entity, "off", t + len);
      t += len + (rnd() * 2 * 86400_000) / perDay;
    }
    on.set(entity, list);
  };
  schedule("switch.kettle", 6, 150_000, 240_000);
  schedule("climate.bedroom", 3, 20 * 60_000, 60 * 60_000, "heat");
  schedule("light.living", 8, 10 * 60_000, 90 * 60_000);
  schedule(PLANTED.silentSwitch, 10, 5 * 60_000, 20 * 60_000);
  schedule(PLANTED.tv.entity, 3, 30 * 60_000, 120 * 60_000);
  const isOn = (entity: string, t: number) => {
    const list = on.get(entity) ?? [];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid][0] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && t < list[lo - 1][1];
  };

  // The home meter every 10 s: base + noise + planted steps + an untracked fridge (15 min on / 25 off).
  for (let t = from; t < now; t += 10_000) {
    let w = PLANTED.baseW + PLANTED.noiseW * gauss();
    for (const [entity, step] of Object.entries(PLANTED.steps)) if (isOn(entity, t)) w += step;
    if (t % (40 * 60_000) < 15 * 60_000) w += PLANTED.fridgeW;
    if (isOn(PLANTED.tv.entity, t)) w += PLANTED.tv.onW;
    else w += PLANTED.tv.standbyW;
    push(PLANTED.homePower, w.toFixed(1), t, {
      attributes: { unit_of_measurement: "W", device_class: "power" },
    });
  }
  for (let t = from; t < now; t += 15_000) {
    const w = (isOn(PLANTED.tv.entity, t) ? PLANTED.tv.onW : PLANTED.tv.standbyW) + 2 * gauss();
    push(PLANTED.tv.sensor, w.toFixed(1), t, {
      attributes: { unit_of_measurement: "W", device_class: "power" },
    });
  }

  // Regular temperature sensors; the attic one falls silent staleForMs before now.
  const regular = (entity: string, until: number, meanMs = 60_000) => {
    for (let t = from + rnd() * meanMs; t < until; t += meanMs * (0.83 + rnd() / 3))
      push(entity, (20 + 2 * gauss()).toFixed(1), t, { attributes: { unit_of_measurement: "°C" } });
  };
  regular(PLANTED.staleSensor, now - PLANTED.staleForMs);
  regular("sensor.kitchen_temperature", now);
  for (let i = 0; i < (opts.extraSensors ?? 0); i++)
    regular(`sensor.room_${i}_temperature`, now, opts.extraIntervalMs);

  // The porch light went unavailable; the door sensor's battery ran down; the window one is at 25 %.
  push(PLANTED.unavailable, "off", from + 1000);
  push(PLANTED.unavailable, "unavailable", now - PLANTED.unavailableForMs);
  push(PLANTED.unavailable, "unavailable", now - PLANTED.unavailableForMs / 2); // attribute-only update
  const battery = (entity: string, start: number, end: number) => {
    const n = Math.max(2, opts.days * 4);
    for (let i = 0; i < n; i++)
      push(entity, String(Math.round(start + ((end - start) * i) / (n - 1))), from + (i * (now - from)) / n, {
        attributes: { device_class: "battery", unit_of_measurement: "%" },
      });
  };
  battery(PLANTED.lowBattery, 40, 10);
  battery(PLANTED.okBattery, 30, 25);

  // A window contact that bounces every 2 min for the last 40 min; a coffee switch used 4 times an hour.
  push(PLANTED.flapping, "off", from + 5000);
  for (let t = now - PLANTED.flapForMs, s = true; t < now - 30_000; t += 120_000, s = !s)
    push(PLANTED.flapping, s ? "on" : "off", t);
  for (let i = 0; i < 4; i++) push(PLANTED.calmSwitch, i % 2 ? "off" : "on", now - 3000_000 + i * 600_000);

  // The three-step chain: motion -> automation.hall_light turns light.hall on -> automation.hall_fan
  // turns switch.hall_fan on. Contexts: m (motion), a1 (parent m), a2 (parent a1).
  const t0 = now - 5 * 3600_000;
  const [motion, auto1, light, auto2, fan] = PLANTED.chain;
  const m = ulid(t0, rnd);
  const a1 = ulid(t0 + 80, rnd);
  const a2 = ulid(t0 + 400, rnd);
  push(motion, "on", t0, { context_id: m });
  push(auto1, "on", t0 + 80, { context_id: a1, context_parent_id: m });
  push(light, "on", t0 + 150, { context_id: a1, context_parent_id: m });
  push(auto2, "on", t0 + 400, { context_id: a2, context_parent_id: a1 });
  push(fan, "on", t0 + 470, { context_id: a2, context_parent_id: a1 });
  // Near-miss noise: a motion event a second later in its own context, a user turning the living light on.
  push(motion, "off", t0 + 1000);
  push(PLANTED.userAction.entity, "on", t0 + 2000, {
    context_id: ulid(t0 + 2000, rnd),
    context_user_id: PLANTED.userAction.user,
  });

  events.sort((a, b) => a.ts - b.ts);
  const names = new Map<string, string>([
    ["switch.kettle", "Kettle"],
    ["light.hall", "Hall light"],
    [PLANTED.flapping, "Hall window"],
    [PLANTED.homePower, "Home power"],
  ]);
  return { events, from, now, names, chainContexts: [m, a1, a2] };
}
