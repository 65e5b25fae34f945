import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { createMiner } from "./miner.ts";
import { DEFAULT_MINER_OPTIONS, type MinerEvent } from "./types.ts";
import { validateAutomationYaml } from "./validate.ts";

const DAY = 86_400_000;
const START = Date.UTC(2026, 9, 5);

const ENTITIES = [
  "light.a",
  "light.b",
  "switch.heater",
  "fan.bath",
  "climate.hall",
  "cover.blind",
  "lock.front",
  "binary_sensor.door",
  "binary_sensor.motion",
  "person.x",
  "person.y",
  "sensor.room_temperature",
  "sensor.lux_illuminance",
  "sensor.bath_humidity",
];
const STATES = [
  "on",
  "off",
  "heat",
  "cool",
  "open",
  "closed",
  "locked",
  "unlocked",
  "home",
  "not_home",
  "unavailable",
];

const row = fc.record({
  entity: fc.constantFrom(...ENTITIES),
  state: fc.constantFrom(...STATES),
  value: fc.double({ min: -10, max: 1000, noNaN: true }),
  day: fc.integer({ min: 0, max: 13 }),
  minute: fc.integer({ min: 0, max: 1439 }),
  jitterMs: fc.integer({ min: 0, max: 40_000 }),
  automated: fc.boolean(),
});

/** A habit repeated on some days: off, then a trigger, then the action a few seconds later. */
const habit = fc.record({
  action: fc.constantFrom("light.a", "switch.heater", "fan.bath", "cover.blind", "lock.front"),
  trigger: fc.constantFrom("binary_sensor.door", "binary_sensor.motion"),
  minute: fc.integer({ min: 15, max: 1439 }),
  days: fc.uniqueArray(fc.integer({ min: 0, max: 13 }), { minLength: 4, maxLength: 14 }),
  delayMs: fc.integer({ min: 1000, max: 25_000 }),
});

const ON: Record<string, [string, string]> = {
  "light.a": ["off", "on"],
  "switch.heater": ["off", "on"],
  "fan.bath": ["off", "on"],
  "cover.blind": ["closed", "open"],
  "lock.front": ["locked", "unlocked"],
};

/** Random histories (noise plus repeated habits), so detectors fire on arbitrary shapes of data. */
const history = fc
  .tuple(fc.array(row, { maxLength: 300 }), fc.array(habit, { maxLength: 3 }))
  .map(([rows, habits]) => {
    const events: MinerEvent[] = rows.map((r) => ({
      entityId: r.entity,
      state: r.entity.startsWith("sensor.") ? String(r.value) : r.state,
      value: r.entity.startsWith("sensor.") ? r.value : null,
      ts: START + r.day * DAY + r.minute * 60_000 + r.jitterMs,
      automated: r.automated,
    }));
    for (const h of habits) {
      const [off, on] = ON[h.action];
      for (const d of h.days) {
        const t = START + d * DAY + h.minute * 60_000;
        const at = (entityId: string, state: string, ts: number) =>
          events.push({ entityId, state, value: null, ts, automated: false });
        at(h.action, off, t - 10 * 60_000);
        at(h.trigger, "off", t - 5 * 60_000);
        at(h.trigger, "on", t);
        at(h.action, on, t + h.delayMs);
      }
    }
    return events.sort((a, b) => a.ts - b.ts);
  });

describe("miner on arbitrary histories", () => {
  test("never throws, stays deterministic, and every suggestion's YAML validates", () => {
    let produced = 0;
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 200 }), (events, chunk) => {
        const opts = { ...DEFAULT_MINER_OPTIONS, from: START, to: START + 14 * DAY, minOccurrences: 3 };
        const whole = createMiner(opts);
        whole.feed(events);
        const a = whole.finish();
        const chunked = createMiner(opts);
        for (let i = 0; i < events.length; i += chunk) chunked.feed(events.slice(i, i + chunk));
        const b = chunked.finish();
        produced += a.length;
        expect(b.map((s) => s.id)).toEqual(a.map((s) => s.id));
        for (const s of a) {
          expect(validateAutomationYaml(s.yaml)).toMatchObject({ ok: true });
          expect(s.evidence.confidence).toBeGreaterThanOrEqual(0);
          expect(s.evidence.confidence).toBeLessThanOrEqual(1);
          expect(s.id).toMatch(/^[0-9a-f]{16}$/);
        }
        expect(new Set(a.map((s) => s.id)).size).toBe(a.length);
      }),
      { numRuns: 150 },
    );
    // The property is only worth something if the random histories do make the detectors fire.
    expect(produced).toBeGreaterThan(0);
  }, 30_000);
});
