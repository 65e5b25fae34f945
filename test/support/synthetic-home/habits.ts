/**
 * A synthetic, seeded history for tests and the benchmark: a home with planted habits and plenty of noise.
 * Planted (when `planted` is set), all in UTC:
 * - light.kitchen turned on ~07:00 (±8 min) on ~90% of weekdays, off ~08:00; random evening use.
 * - binary_sensor.front_door opens ~6 times a day; light.hallway follows within 2-20 s 85% of the time.
 * - person.alice and person.bob leave ~08:30 and return ~17:30 on weekdays; light.living_room is left on
 *   when they leave on about half of those days.
 * - climate.living_room set to heat when sensor.living_room_temperature drops below ~17.8 °C (daily swing
 *   16.5-23.5 °C), back off above 21 °C.
 * Noise: lights/switches toggled at random times, motion sensors firing, temperature/humidity/power
 * sensors drifting every 5 minutes, a climate entity switched at random, persons wandering (noise mode).
 */
import { seededRandom } from "../../../sim/home.ts";

export interface SyntheticEvent {
  entity_id: string;
  state: string;
  ts: number;
  automated: boolean;
  attributes: Record<string, unknown>;
}

export interface SyntheticOptions {
  /** First UTC midnight of the history. */
  start: number;
  days: number;
  /** Total entities (planted ones included); the rest are noise. */
  entities: number;
  seed: number;
  planted: boolean;
  /** Minutes between sensor readings. */
  sensorEveryMin?: number;
}

const DAY = 86_400_000;
const MIN = 60_000;

/** The seeded RNG (mulberry32) the simulator uses too: one implementation for all synthetic data. */
export const seeded = seededRandom;

interface NoiseEntity {
  id: string;
  kind: "toggle" | "motion" | "sensor" | "climate" | "person";
  attributes: Record<string, unknown>;
  /** Events per day (toggle/motion/climate/person) */
  rate: number;
  base: number;
}

function noiseEntities(count: number, planted: boolean): NoiseEntity[] {
  const out: NoiseEntity[] = [];
  const kinds: NoiseEntity["kind"][] = ["sensor", "sensor", "sensor", "toggle", "motion", "sensor", "toggle"];
  for (let i = 0; out.length < count; i++) {
    const kind = kinds[i % kinds.length];
    if (kind === "sensor") {
      const which = i % 3;
      const id =
        which === 0
          ? `sensor.noise_${i}_temperature`
          : which === 1
            ? `sensor.noise_${i}_humidity`
            : `sensor.noise_${i}_power`;
      const attributes =
        which === 0
          ? { device_class: "temperature", unit_of_measurement: "°C" }
          : which === 1
            ? { device_class: "humidity", unit_of_measurement: "%" }
            : { device_class: "power", unit_of_measurement: "W" };
      out.push({ id, kind, attributes, rate: 0, base: which === 0 ? 20 : which === 1 ? 50 : 300 });
    } else if (kind === "toggle") {
      out.push({ id: `${i % 2 ? "light" : "switch"}.noise_${i}`, kind, attributes: {}, rate: 4, base: 0 });
    } else
      out.push({
        id: `binary_sensor.noise_${i}_motion`,
        kind,
        attributes: { device_class: "motion" },
        rate: 30,
        base: 0,
      });
  }
  if (!planted && count >= 4) {
    // Pure noise still has people and heating, just without habits.
    out[0] = { id: "person.noise_a", kind: "person", attributes: {}, rate: 2, base: 0 };
    out[1] = { id: "person.noise_b", kind: "person", attributes: {}, rate: 2, base: 0 };
    out[2] = { id: "climate.noise", kind: "climate", attributes: {}, rate: 3, base: 0 };
    out[3] = { id: "fan.noise", kind: "toggle", attributes: {}, rate: 3, base: 0 };
  }
  return out;
}

const PLANTED_COUNT = 8;

/** Yields the history one UTC day at a time, each day sorted by time. */
export function* syntheticDays(opts: SyntheticOptions): Generator<SyntheticEvent[]> {
  const rnd = seeded(opts.seed);
  const every = (opts.sensorEveryMin ?? 5) * MIN;
  const noise = noiseEntities(Math.max(0, opts.entities - (opts.planted ? PLANTED_COUNT : 0)), opts.planted);
  const sensorValue = new Map<string, number>(noise.map((n) => [n.id, n.base]));
  for (let d = 0; d < opts.days; d++) {
    const day0 = opts.start + d * DAY;
    const weekday = new Date(day0).getUTCDay();
    const isWeekday = weekday >= 1 && weekday <= 5;
    const out: SyntheticEvent[] = [];
    const push = (entity_id: string, state: string, ts: number, automated = false, attributes = {}) => {
      if (ts >= day0 && ts < day0 + DAY)
        out.push({ entity_id, state, ts: Math.round(ts), automated, attributes });
    };
    // A pair that would run past midnight is left out rather than cut: cutting plants a 23:59 "habit".
    const pair = (id: string, on: string, off: string, at: number, lengthMs: number) => {
      if (at + lengthMs >= day0 + DAY) return;
      push(id, on, at);
      push(id, off, at + lengthMs);
    };

    for (const n of noise) {
      if (n.kind === "sensor") {
        let v = sensorValue.get(n.id)!;
        for (let t = day0; t < day0 + DAY; t += every) {
          v += (rnd() - 0.5) * (n.base / 50) - (v - n.base) * 0.02;
          push(n.id, v.toFixed(1), t + rnd() * 1000, false, n.attributes);
        }
        sensorValue.set(n.id, v);
      } else if (n.kind === "motion") {
        const k = Math.round(n.rate * (0.5 + rnd()));
        for (let j = 0; j < k; j++) pair(n.id, "on", "off", day0 + rnd() * DAY, 30_000 + rnd() * 90_000);
      } else if (n.kind === "toggle") {
        const k = Math.round(n.rate * (0.5 + rnd()));
        const starts = Array.from({ length: k }, () => day0 + rnd() * DAY).sort((a, b) => a - b);
        let free = day0;
        for (const s of starts) {
          if (s < free) continue;
          const len = -Math.log(1 - rnd()) * 20 * MIN;
          pair(n.id, "on", "off", s, len);
          free = s + len + 1000;
        }
      } else if (n.kind === "climate") {
        const k = Math.round(n.rate * (0.5 + rnd()));
        const starts = Array.from({ length: k }, () => day0 + rnd() * DAY).sort((a, b) => a - b);
        let free = day0;
        for (const s of starts) {
          if (s < free) continue;
          const len = rnd() * 90 * MIN;
          pair(n.id, "heat", "off", s, len);
          free = s + len + 1000;
        }
      } else if (n.kind === "person") {
        const leave = day0 + rnd() * DAY * 0.7;
        pair(n.id, "not_home", "home", leave, rnd() * 8 * 3_600_000);
      }
    }

    if (opts.planted) plant(d, day0, isWeekday, rnd, push, pair);
    out.sort((a, b) => a.ts - b.ts);
    yield out;
  }
}

type Push = (
  entity_id: string,
  state: string,
  ts: number,
  automated?: boolean,
  attributes?: Record<string, unknown>,
) => void;

function plant(
  d: number,
  day0: number,
  isWeekday: boolean,
  rnd: () => number,
  push: Push,
  pair: (id: string, on: string, off: string, at: number, lengthMs: number) => void,
): void {
  const H = 3_600_000;
  // 1. Kitchen light at ~07:00 on weekdays.
  if (isWeekday && rnd() < 0.9)
    pair("light.kitchen", "on", "off", day0 + 7 * H + (rnd() - 0.5) * 16 * MIN, 55 * MIN);
  if (rnd() < 0.6) pair("light.kitchen", "on", "off", day0 + 18 * H + rnd() * 4 * H, 20 * MIN);
  // 2. Front door -> hallway light.
  const opens = 4 + Math.floor(rnd() * 5);
  for (let j = 0; j < opens; j++) {
    const t = day0 + 6 * H + rnd() * 16 * H;
    pair("binary_sensor.front_door", "on", "off", t, 10_000 + rnd() * 50_000);
    if (rnd() < 0.85) pair("light.hallway", "on", "off", t + 2000 + rnd() * 18_000, 60_000 + rnd() * 4 * MIN);
  }
  // 3. Persons leave on weekdays; the living-room light is left on about half the time.
  if (isWeekday) {
    const leave = day0 + 8.5 * H + rnd() * 20 * MIN;
    const back = day0 + 17.5 * H + rnd() * 30 * MIN;
    push("light.living_room", "on", leave - 40 * MIN);
    pair("person.alice", "not_home", "home", leave, back - leave);
    pair("person.bob", "not_home", "home", leave + 2 * MIN, back - leave);
    push("light.living_room", "off", rnd() < 0.5 ? back + 5 * MIN : leave - 5 * MIN);
  } else {
    push("person.alice", "home", day0 + 9 * H);
    push("person.bob", "home", day0 + 9 * H);
  }
  // 4. Heating: temperature swings 16.5-23.5 °C with its minimum around 05:00; heat below ~17.8 °C.
  let heating = false;
  const attrs = { device_class: "temperature", unit_of_measurement: "°C" };
  for (let t = day0; t < day0 + DAY; t += 5 * MIN) {
    const phase = ((t - day0) / 86_400_000 - 5 / 24) * 2 * Math.PI;
    const temp = 20 - 3.5 * Math.cos(phase) + (rnd() - 0.5) * 0.4;
    push("sensor.living_room_temperature", temp.toFixed(1), t, false, attrs);
    if (!heating && temp < 17.8 && rnd() < 0.5) {
      heating = true;
      push("climate.living_room", "heat", t + 60_000 + rnd() * 120_000);
    } else if (heating && temp > 21) {
      heating = false;
      push("climate.living_room", "off", t + 60_000);
    }
  }
  if (heating) push("climate.living_room", "off", day0 + DAY - 1000);
  void d;
}

/** The whole history as one array (small histories in tests). */
export function syntheticHistory(opts: SyntheticOptions): SyntheticEvent[] {
  return [...syntheticDays(opts)].flat();
}
