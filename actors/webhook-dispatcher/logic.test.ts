import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { EventSource, StateChange } from "../../runtime/events/messages.ts";
import { type Fire, Matcher, Side, stepThreshold } from "./logic.ts";
import type { Rule, Trigger } from "./rules.ts";

let seq = 0;
const rule = (id: string, when: Trigger, enabled = true): Rule => ({
  id,
  name: id,
  url: "http://127.0.0.1/hook",
  secret: "0123456789abcdef",
  enabled,
  when,
  createdAt: 1,
  updatedAt: 1,
});
const ev = (entity_id: string, state: string): StateChange => ({
  entity_id,
  state,
  attributes: "{}",
  last_changed: ++seq * 1000,
  last_updated: seq * 1000,
  context_id: null,
  context_parent_id: null,
  context_user_id: null,
});
const run = (m: Matcher, events: StateChange[]): string[] => {
  const out: Fire[] = [];
  m.matchStates(events, out);
  return out.map((f) => `${f.rule.id}:${f.subject}:${f.event?.state}`);
};

describe("Matcher selectors", () => {
  test("exact entity, domain, glob with literal domain, glob with wildcard domain and catch-all each select their entities", () => {
    const m = new Matcher();
    m.setRules([
      rule("exact", { kind: "state", entity: "light.kitchen" }),
      rule("domain", { kind: "state", domain: "binary_sensor" }),
      rule("glob", { kind: "state", entity: "sensor.*_temperature" }),
      rule("anydomain", { kind: "state", entity: "*.garage_*" }),
      rule("all", { kind: "state" }),
      rule("off", { kind: "state", entity: "light.kitchen" }, false),
    ]);
    expect(run(m, [ev("light.kitchen", "on")])).toEqual(["exact:light.kitchen:on", "all:light.kitchen:on"]);
    expect(run(m, [ev("binary_sensor.garage_door", "on")])).toEqual([
      "domain:binary_sensor.garage_door:on",
      "anydomain:binary_sensor.garage_door:on",
      "all:binary_sensor.garage_door:on",
    ]);
    expect(run(m, [ev("sensor.office_temperature", "21")])).toEqual([
      "glob:sensor.office_temperature:21",
      "all:sensor.office_temperature:21",
    ]);
    expect(run(m, [ev("switch.pump", "on")])).toEqual(["all:switch.pump:on"]);
  });

  test("reloading rules applies to entities already cached", () => {
    const m = new Matcher();
    m.setRules([rule("a", { kind: "state", entity: "light.a" })]);
    expect(run(m, [ev("light.b", "on")])).toEqual([]);
    m.setRules([rule("b", { kind: "state", entity: "light.*" })]);
    expect(run(m, [ev("light.b", "off"), ev("light.a", "off")])).toEqual(["b:light.b:off", "b:light.a:off"]);
  });
});

describe("Matcher transitions", () => {
  test("from/to fire only on a real change between those states; attribute-only updates do not fire", () => {
    const m = new Matcher();
    m.setRules([
      rule("opened", { kind: "state", entity: "binary_sensor.door", from: "off", to: "on" }),
      rule("to_on", { kind: "state", entity: "binary_sensor.door", to: "on" }),
    ]);
    const states = ["off", "on", "on", "off", "unavailable", "on", "off", "on"];
    const fired = run(
      m,
      states.map((s) => ev("binary_sensor.door", s)),
    );
    expect(fired).toEqual([
      "opened:binary_sensor.door:on",
      "to_on:binary_sensor.door:on",
      "to_on:binary_sensor.door:on", // unavailable -> on: not from "off"
      "opened:binary_sensor.door:on",
      "to_on:binary_sensor.door:on",
    ]);
  });

  test("previous states survive a restart through restore()", () => {
    const a = new Matcher();
    const r = rule("opened", { kind: "state", entity: "binary_sensor.door", from: "off", to: "on" });
    a.setRules([r]);
    run(a, [ev("binary_sensor.door", "off")]);
    const dirty = a.takeDirty();
    expect([...dirty.seen]).toEqual([["binary_sensor.door", { state: "off", lastUs: seq * 1000 }]]);
    const b = new Matcher();
    b.restore(dirty.seen, dirty.sides, a.watermarkUs);
    b.setRules([r]);
    expect(run(b, [ev("binary_sensor.door", "on")])).toEqual(["opened:binary_sensor.door:on"]);
  });

  test("each entity's changes are evaluated once, in time order: older or repeated changes are skipped", () => {
    const m = new Matcher();
    m.setRules([rule("to_on", { kind: "state", entity: "light.a", to: "on" })]);
    const off = ev("light.a", "off");
    const on = ev("light.a", "on");
    const off2 = ev("light.a", "off");
    expect(run(m, [off, on])).toEqual(["to_on:light.a:on"]);
    // The same batch again, then an old change arriving late: neither is evaluated, state stays "on".
    expect(run(m, [off, on])).toEqual([]);
    expect(run(m, [off2, off])).toEqual([]);
    expect(m.skipped).toBe(3);
    expect(run(m, [ev("light.a", "on")])).toEqual(["to_on:light.a:on"]);
    expect(m.watermarkUs).toBe(seq * 1000);
  });
});

/** A reference model of one threshold: fires when the value passes the threshold while armed. */
function reference(values: number[], above: number, h: number): number[] {
  const fires: number[] = [];
  let armed: boolean | undefined;
  values.forEach((v, i) => {
    if (v > above) {
      if (armed === true) fires.push(i);
      armed = false;
    } else if (v <= above - h || armed === undefined) armed = true;
  });
  return fires;
}

describe("threshold hysteresis", () => {
  const value = fc.double({ min: -100, max: 100, noNaN: true });

  test("fires exactly where the reference model does (above)", () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 200 }),
        value,
        fc.double({ min: 0, max: 20, noNaN: true }),
        (vs, above, h) => {
          let side: Side = Side.unknown;
          const fires: number[] = [];
          vs.forEach((v, i) => {
            const s = stepThreshold(side, v, { above, hysteresis: h });
            side = s.side;
            if (s.fire) fires.push(i);
          });
          expect(fires).toEqual(reference(vs, above, h));
        },
      ),
    );
  });

  test("below mirrors above: negating values and threshold gives the same fires", () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 200 }),
        value,
        fc.double({ min: 0, max: 20, noNaN: true }),
        (vs, t, h) => {
          const fires = (spec: { above?: number; below?: number }, xs: number[]) => {
            let side: Side = Side.unknown;
            return xs.flatMap((v, i) => {
              const s = stepThreshold(side, v, { ...spec, hysteresis: h });
              side = s.side;
              return s.fire ? [i] : [];
            });
          };
          expect(
            fires(
              { below: -t },
              vs.map((v) => -v),
            ),
          ).toEqual(fires({ above: t }, vs));
        },
      ),
    );
  });

  test("noise narrower than the hysteresis band fires at most once per crossing", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -0.49, max: 0.49, noNaN: true }), { minLength: 1, maxLength: 300 }),
        (noise) => {
          const m = new Matcher();
          m.setRules([rule("hot", { kind: "state", entity: "sensor.t", above: 25, hysteresis: 1 })]);
          // Start well below, then hover around the threshold: one crossing, however noisy.
          const fired = run(m, [ev("sensor.t", "20"), ...noise.map((n) => ev("sensor.t", String(25 + n)))]);
          const crossed = noise.some((n) => 25 + n > 25);
          expect(fired.length).toBe(crossed ? 1 : 0);
        },
      ),
    );
  });

  test("non-numeric states give no verdict and keep the side", () => {
    const m = new Matcher();
    m.setRules([rule("hot", { kind: "state", entity: "sensor.t", above: 25 })]);
    expect(
      run(
        m,
        ["20", "unavailable", "30", "unknown", "31", "10", "", "26"].map((s) => ev("sensor.t", s)),
      ),
    ).toEqual(["hot:sensor.t:30", "hot:sensor.t:26"]);
  });

  test("a sensor already past the threshold when watching starts does not fire until it crosses again", () => {
    const m = new Matcher();
    m.setRules([rule("hot", { kind: "state", entity: "sensor.t", above: 25 })]);
    expect(
      run(
        m,
        ["30", "31", "20", "27"].map((s) => ev("sensor.t", s)),
      ),
    ).toEqual(["hot:sensor.t:27"]);
  });
});

describe("Matcher enrichment and health", () => {
  test("enrichment thresholds fire once per crossing per source/metric", () => {
    const m = new Matcher();
    m.setRules([
      rule("dirty", {
        kind: "enrichment",
        source: "carbon",
        metric: "intensity",
        above: 200,
        hysteresis: 20,
      }),
    ]);
    const out: Fire[] = [];
    for (const [i, v] of [150, 210, 205, 190, 230, 175, 201].entries()) {
      m.matchEnrichment("carbon", "intensity", v, i, out);
    }
    m.matchEnrichment("carbon", "forecast", 999, 9, out);
    expect(out.map((f) => `${f.subject}:${f.value}`)).toEqual([
      "enrichment:carbon/intensity:210",
      "enrichment:carbon/intensity:201",
    ]);
  });

  test("health rules match entity glob and status", () => {
    const m = new Matcher();
    m.setRules([rule("stale", { kind: "health", entity: "sensor.*", status: "stale" })]);
    const out: Fire[] = [];
    m.matchHealth("sensor.a", "stale", 1, {}, out);
    m.matchHealth("sensor.a", "ok", 2, {}, out);
    m.matchHealth("light.a", "stale", 3, {}, out);
    expect(out.map((f) => f.subject)).toEqual(["health:sensor.a:stale"]);
  });
});

describe("Matcher freshness", () => {
  const NOW = 1_800_000_000_000; // ms
  const at = (entity_id: string, state: string, agoMs: number): StateChange => ({
    ...ev(entity_id, state),
    last_changed: (NOW - agoMs) * 1000,
    last_updated: (NOW - agoMs) * 1000 + ++seq, // distinct, increasing per call
  });
  const fire = (m: Matcher, source: EventSource, events: StateChange[], maxAgeMs = 60_000) => {
    const out: Fire[] = [];
    m.matchStates(events, out, { source, nowMs: NOW, maxAgeMs });
    return out.map((f) => `${f.rule.id}:${f.subject}:${f.event?.state}:${f.source}`);
  };

  test("snapshot and backfilled changes do not fire; a fresh live one does, with its source; an old live one does not", () => {
    const m = new Matcher();
    m.setRules([rule("door", { kind: "state", entity: "binary_sensor.door", from: "off", to: "on" })]);
    expect(fire(m, "snapshot", [at("binary_sensor.door", "off", 3_600_000)])).toEqual([]);
    // The snapshot still set the previous state: the backfilled off -> on is a real transition, not fired.
    expect(fire(m, "backfill", [at("binary_sensor.door", "on", 120_000)])).toEqual([]);
    expect([m.skippedSource, m.skippedStale]).toEqual([1, 0]);
    expect(
      fire(m, "live", [at("binary_sensor.door", "off", 100_000), at("binary_sensor.door", "on", 90_000)]),
    ).toEqual([]);
    expect([m.skippedSource, m.skippedStale]).toEqual([1, 1]);
    expect(
      fire(m, "live", [at("binary_sensor.door", "off", 2_000), at("binary_sensor.door", "on", 1_000)]),
    ).toEqual(["door:binary_sensor.door:on:live"]);
    // Imports (and anything no rule can select) never fire.
    expect(
      fire(m, "import", [at("binary_sensor.door", "off", 500), at("binary_sensor.door", "on", 400)]),
    ).toEqual([]);
    expect([m.skippedSource, m.skippedStale]).toEqual([2, 1]);
  });

  test("a rule that opts in fires for snapshot and backfilled changes, whatever their age", () => {
    const m = new Matcher();
    m.setRules([
      rule("sync", { kind: "state", domain: "light", sources: ["live", "snapshot"] }),
      rule("gaps", { kind: "state", domain: "light", sources: ["backfill"] }),
      rule("default", { kind: "state", domain: "light" }),
    ]);
    expect(fire(m, "snapshot", [at("light.a", "on", 3_600_000)])).toEqual(["sync:light.a:on:snapshot"]);
    expect(fire(m, "backfill", [at("light.a", "off", 1_800_000)])).toEqual(["gaps:light.a:off:backfill"]);
    expect(fire(m, "live", [at("light.a", "on", 10)])).toEqual([
      "sync:light.a:on:live",
      "default:light.a:on:live",
    ]);
    expect(m.skippedSource).toBe(5); // snapshot: gaps, default; backfill: sync, default; live: gaps
  });

  test("maxAgeMs 0 turns the age check off; a change stamped ahead of HomeIQ's clock is fresh", () => {
    const m = new Matcher();
    m.setRules([rule("all", { kind: "state" })]);
    expect(fire(m, "live", [at("light.b", "on", 86_400_000)], 0)).toEqual(["all:light.b:on:live"]);
    expect(fire(m, "live", [at("light.b", "off", -5_000)])).toEqual(["all:light.b:off:live"]);
  });

  test("a ReDoS glob from the security review costs microseconds per entity, not seconds", () => {
    const m = new Matcher();
    m.setRules([
      rule("redos", { kind: "state", entity: "*?*?*?*?*?*?*?*?*?*?*?*?*?*?zzq" }),
      rule("redos2", { kind: "state", entity: `sensor.${"*a".repeat(12)}*b` }),
    ]);
    const ids = Array.from({ length: 200 }, (_, i) => `sensor.${"a".repeat(40)}_${i}`);
    const started = performance.now();
    expect(
      run(
        m,
        ids.map((id) => ev(id, "1")),
      ),
    ).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1000); // RegExp: 13-20 s for each id
  });
});
