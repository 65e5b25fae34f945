import { describe, expect, setDefaultTimeout, test } from "bun:test";
import fc from "fast-check";
import { parse } from "yaml";
import { type SyntheticEvent, syntheticHistory } from "../../../test/support/synthetic-home/habits.ts";
import { createMiner, mine } from "./miner.ts";
import { DEFAULT_MINER_OPTIONS, type MinerEvent, type MinerOptions, type Suggestion } from "./types.ts";
import { validateAutomationYaml } from "./validate.ts";

// Mining a month of history is seconds of CPU on a busy 2-core box; the default 5 s is too tight.
setDefaultTimeout(30_000);

const DAY = 86_400_000;
const START = Date.UTC(2026, 9, 5); // a Monday
const options = (days: number): MinerOptions => ({
  ...DEFAULT_MINER_OPTIONS,
  from: START,
  to: START + days * DAY,
});

function toMiner(events: SyntheticEvent[]): MinerEvent[] {
  return events.map((e) => {
    const n = Number(e.state);
    return {
      entityId: e.entity_id,
      state: e.state,
      value: Number.isFinite(n) ? n : null,
      ts: e.ts,
      automated: e.automated,
    };
  });
}

const history = (seed: number, planted: boolean, days = 30, entities = 60) =>
  toMiner(syntheticHistory({ start: START, days, entities, seed, planted }));

const find = (all: Suggestion[], kind: Suggestion["kind"], entity: string, titleWord?: string) =>
  all.find(
    (s) => s.kind === kind && s.entities.includes(entity) && (!titleWord || s.title.includes(titleWord)),
  );

describe("miner on a home with planted habits", () => {
  const planted = history(1, true);
  const found = mine(planted, options(30));

  test("finds the weekday 07:00 kitchen light with its evidence and a time trigger on weekdays", () => {
    const s = find(found, "time_of_day", "light.kitchen", "Turn on")!;
    expect(s).toBeDefined();
    expect(s.evidence.detail.time).toBe("07:00");
    expect(s.evidence.detail.days).toBe("weekdays");
    expect(s.evidence.dayCount).toBeGreaterThanOrEqual(15);
    expect(s.evidence.confidence).toBeGreaterThanOrEqual(0.6);
    expect(s.evidence.days.every((d) => ![0, 6].includes(new Date(`${d}T12:00:00Z`).getUTCDay()))).toBe(true);
    const [auto] = parse(s.yaml);
    expect(auto.triggers).toEqual([{ trigger: "time", at: "07:00:00" }]);
    expect(auto.conditions).toEqual([{ condition: "time", weekday: ["mon", "tue", "wed", "thu", "fri"] }]);
    expect(auto.actions).toEqual([{ action: "light.turn_on", target: { entity_id: "light.kitchen" } }]);
    expect(auto.id).toBe(s.id);
  });

  test("finds front door -> hallway light within 30 s as a state trigger", () => {
    const s = find(found, "co_occurrence", "light.hallway")!;
    expect(s).toBeDefined();
    expect(s.entities).toEqual(["binary_sensor.front_door", "light.hallway"]);
    expect(s.evidence.confidence).toBeGreaterThanOrEqual(0.7);
    expect(Number(s.evidence.detail.medianDelaySec)).toBeLessThanOrEqual(20);
    const [auto] = parse(s.yaml);
    expect(auto.triggers).toEqual([{ trigger: "state", entity_id: "binary_sensor.front_door", to: "on" }]);
    expect(auto.actions).toEqual([{ action: "light.turn_on", target: { entity_id: "light.hallway" } }]);
  });

  test("finds the living-room light left on with nobody home and proposes turning it off", () => {
    const s = find(found, "left_on", "light.living_room")!;
    expect(s).toBeDefined();
    expect(s.evidence.count).toBeGreaterThanOrEqual(5);
    expect(Number(s.evidence.detail.absences)).toBe(22);
    const [auto] = parse(s.yaml);
    expect(auto.triggers[0]).toEqual({
      trigger: "state",
      entity_id: ["person.alice", "person.bob"],
      from: "home",
      for: "00:15:00",
    });
    expect(auto.actions).toEqual([{ action: "light.turn_off", target: { entity_id: "light.living_room" } }]);
  });

  test("finds heating switched on below 18 °C as a numeric_state trigger", () => {
    const s = find(found, "threshold", "climate.living_room")!;
    expect(s).toBeDefined();
    expect(s.evidence.detail.threshold).toBe(18);
    expect(s.evidence.detail.sensor).toBe("sensor.living_room_temperature");
    const [auto] = parse(s.yaml);
    expect(auto.triggers).toEqual([
      { trigger: "numeric_state", entity_id: "sensor.living_room_temperature", below: 18 },
    ]);
    expect(auto.actions).toEqual([
      {
        action: "climate.set_hvac_mode",
        target: { entity_id: "climate.living_room" },
        data: { hvac_mode: "heat" },
      },
    ]);
  });

  test("proposes nothing about noise entities", () => {
    expect(found.filter((s) => s.entities.some((e) => e.includes("noise")))).toEqual([]);
  });

  test("every emitted YAML parses (as YAML 1.1, like Home Assistant) and passes the automation validator", () => {
    expect(found.length).toBeGreaterThanOrEqual(4);
    for (const s of found) expect(validateAutomationYaml(s.yaml)).toMatchObject({ ok: true });
    const hallway = find(found, "co_occurrence", "light.hallway")!;
    expect(hallway.yaml).toContain('to: "on"');
    expect(parse(hallway.yaml, { version: "1.1" })[0].triggers[0].to).toBe("on");
  });

  test("is deterministic: the same history gives the same ids and YAML, chunked or not", () => {
    const miner = createMiner(options(30));
    for (let i = 0; i < planted.length; i += 997) miner.feed(planted.slice(i, i + 997));
    const again = miner.finish();
    expect(again.map((s) => [s.id, s.yaml])).toEqual(found.map((s) => [s.id, s.yaml]));
  });

  test("ids stay stable when the history window moves by a day", () => {
    const shifted = mine(
      planted.filter((e) => e.ts >= START + DAY),
      { ...options(30), from: START + DAY },
    );
    const ids = new Set(shifted.map((s) => s.id));
    for (const kind of ["co_occurrence", "left_on", "threshold"] as const)
      for (const s of found.filter((x) => x.kind === kind)) expect(ids.has(s.id)).toBe(true);
  });

  test("ignores actions that automations performed", () => {
    const automated = planted.map((e) => (e.entityId === "light.hallway" ? { ...e, automated: true } : e));
    expect(find(mine(automated, options(30)), "co_occurrence", "light.hallway")).toBeUndefined();
  });
});

describe("miner on pure noise", () => {
  // Six noise homes drawn by fast-check from a pinned seed, so every run checks the same homes: drawn
  // afresh, one in some hundreds of thousands of homes holds a habit by pure chance (the test below) and
  // CI would fail on luck.
  test("proposes nothing for noise homes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (seed) => {
        expect(mine(history(seed, false, 21, 30), options(21))).toEqual([]);
      }),
      { numRuns: 6, seed: 20261130 },
    );
  }, 30_000);

  test("a habit that noise happens to hold is proposed at the bar, as it would be from a person", () => {
    // Noise home 698774: light/switch noise_13 went off between 07:00 and 08:00 on 12 of 21 days, by chance.
    // The miner judges the pattern (lift >= 5, on >= 60% of eligible days), not its cause.
    const found = mine(history(698774, false, 21, 30), options(21));
    expect(found.map((s) => [s.kind, s.entities[0], s.evidence.confidence])).toEqual([
      ["time_of_day", expect.stringContaining("noise_13"), 0.6],
    ]);
  });

  test("proposes nothing from an empty history", () => {
    expect(mine([], options(30))).toEqual([]);
  });
});

describe("miner with two habits on one entity", () => {
  test("finds both the 07:00 weekday and the 19:00 daily switch-on of the same light", () => {
    const events: MinerEvent[] = [];
    const at = (ts: number, state: string) =>
      events.push({ entityId: "light.desk", state, value: null, ts, automated: false });
    for (let d = 0; d < 21; d++) {
      const day = START + d * DAY;
      const weekday = ![0, 6].includes(new Date(day).getUTCDay());
      if (weekday) {
        at(day + 7 * 3_600_000 + (d % 5) * 60_000, "on");
        at(day + 8 * 3_600_000, "off");
      }
      at(day + 19 * 3_600_000 + (d % 7) * 60_000, "on");
      at(day + 23 * 3_600_000, "off");
    }
    const found = mine(events, options(21)).filter(
      (s) => s.kind === "time_of_day" && s.title.includes("Turn on"),
    );
    expect(found.map((s) => [s.evidence.detail.time, s.evidence.detail.days]).sort()).toEqual([
      ["07:00", "weekdays"],
      ["19:05", "daily"],
    ]);
  });
});

describe("miner in a local time zone", () => {
  test("reports a 07:00 Berlin habit as 07:00, not the UTC hour", () => {
    const events: MinerEvent[] = [];
    for (let d = 0; d < 14; d++) {
      // 07:00 in Berlin (CEST, UTC+2 until 25 Oct 2026, then CET UTC+1).
      const local = START + d * DAY + 7 * 3_600_000;
      const offset = new Date(local).getTime() >= Date.UTC(2026, 9, 25, 1) ? 3_600_000 : 7_200_000;
      events.push({
        entityId: "light.bed",
        state: "off",
        value: null,
        ts: local - offset - 60_000,
        automated: false,
      });
      events.push({ entityId: "light.bed", state: "on", value: null, ts: local - offset, automated: false });
    }
    const [s] = mine(events, { ...options(14), timeZone: "Europe/Berlin" });
    expect(s.evidence.detail.time).toBe("07:00");
    expect(s.evidence.detail.days).toBe("daily");
  });
});
