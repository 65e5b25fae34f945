import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { quantileSorted } from "../../runtime/store/insights/types.ts";
import { PLANTED, syntheticHome } from "../../test/support/synthetic-home/insights.ts";
import { energyImpact, medianInPlace, onOffSeries, type PowerSeries } from "./energy.ts";
import { energyInputs, groupByEntity, metaFromNames } from "./inputs.ts";

const NOW = Date.UTC(2026, 10, 20, 12);
const home = syntheticHome({ seed: 7, days: 4, now: NOW });
const { devices, home: meter } = energyInputs(groupByEntity(home.events), metaFromNames(home.names));
const opts = { from: home.from, to: NOW, windowMs: 120_000, settleMs: 10_000, minEvents: 5, minStepW: 5 };
const report = energyImpact(devices, meter, opts);
const byId = new Map(report.devices.map((d) => [d.entity_id, d]));

describe("energyImpact on a synthetic home with planted steps", () => {
  test("picks the home meter and pairs the TV with its own sensor", () => {
    expect(report.homeSensor).toBe(PLANTED.homePower);
    expect(byId.get(PLANTED.tv.entity)?.sensor).toBe(PLANTED.tv.sensor);
  });

  test("finds each planted step within 3 % and calls it measurable with high confidence", () => {
    for (const [entity, watts] of Object.entries(PLANTED.steps)) {
      const d = byId.get(entity)!;
      expect(d.measurable).toBe(true);
      expect(d.confidence).toBe("high");
      expect(Math.abs((d.stepW ?? 0) - watts)).toBeLessThan(watts * 0.03 + 5);
      expect(d.samples).toBeGreaterThanOrEqual(10);
    }
  });

  test("reports the silent relay as not measurable, with its median shown and no kWh", () => {
    const d = byId.get(PLANTED.silentSwitch)!;
    expect(d.measurable).toBe(false);
    expect(d.confidence).toBe("none");
    expect(d.stepW).toBeNull();
    expect(d.kWh).toBeNull();
    expect(d.samples).toBeGreaterThan(0);
    expect(Math.abs(d.rawMedianW ?? 0)).toBeLessThan(20);
  });

  test("sets overlapping events aside and counts them instead of mixing devices", () => {
    const overlapped = report.devices.reduce((s, d) => s + d.overlapped, 0);
    expect(overlapped).toBeGreaterThan(0);
    // Every kettle transition is accounted for exactly once: measured, overlapped, or without data.
    const kettle = byId.get("switch.kettle")!;
    const transitions = home.events.filter((e) => e.entity_id === "switch.kettle").length - 1;
    expect(kettle.samples + kettle.overlapped + kettle.noData).toBe(transitions);
  });

  test("measures the TV on its own sensor: step and standby draw", () => {
    const tv = byId.get(PLANTED.tv.entity)!;
    expect(Math.abs((tv.stepW ?? 0) - (PLANTED.tv.onW - PLANTED.tv.standbyW))).toBeLessThan(5);
    expect(Math.abs((tv.standbyW ?? 0) - PLANTED.tv.standbyW)).toBeLessThan(2);
    expect(tv.overlapped).toBe(0);
  });

  test("ranks the kettle and heater as top consumers and finds the home's standby floor", () => {
    const top = report.devices.filter((d) => d.measurable).map((d) => d.entity_id);
    expect(top.slice(0, 2).sort()).toEqual(["climate.bedroom", "switch.kettle"]);
    // Floor: base + TV standby, the fridge off most of the time, minus some noise at the 5th percentile.
    expect(report.standbyW!).toBeGreaterThan(PLANTED.baseW - 2 * PLANTED.noiseW);
    expect(report.standbyW!).toBeLessThan(PLANTED.baseW + PLANTED.tv.standbyW + 10);
    const shares = report.devices.reduce((s, d) => s + (d.share ?? 0), 0);
    expect(shares).toBeGreaterThan(0);
    expect(shares + (report.standbyShare ?? 0)).toBeLessThan(1.05);
  });
});

describe("energyInputs pairing", () => {
  test("pairs a device with the one power sensor on the same HA device, whatever its name", () => {
    const byEntity = groupByEntity(
      home.events.map((e) =>
        e.entity_id === PLANTED.tv.sensor ? { ...e, entity_id: "sensor.lounge_plug_w" } : e,
      ),
    );
    const meta = new Map([
      [PLANTED.tv.entity, { name: "TV", device_id: "dev-tv" }],
      ["sensor.lounge_plug_w", { name: null, device_id: "dev-tv" }],
    ]);
    const { devices, home: meter } = energyInputs(byEntity, meta);
    expect(devices.find((d) => d.entity_id === PLANTED.tv.entity)?.ownSensor?.entity_id).toBe(
      "sensor.lounge_plug_w",
    );
    expect(devices.find((d) => d.entity_id === PLANTED.tv.entity)?.name).toBe("TV");
    expect(meter?.entity_id).toBe(PLANTED.homePower);
  });
});

describe("onOffSeries", () => {
  test("classifies each state once: on, off, or neither, by the entity's domain", () => {
    const states = ["heat", "off", "unavailable", "cool", "", "unknown", "on"].map((state, i) => ({
      ts: i * 1000,
      state,
    }));
    expect([...onOffSeries("climate.hall", states).on]).toEqual([1, 0, -1, 1, -1, 1]);
    expect([...onOffSeries("climate.hall", states).ts]).toEqual([0, 1000, 2000, 3000, 4000, 6000]);
    // A switch is on only when its state says "on"; a state that repeats its class is not kept.
    expect([...onOffSeries("switch.tv", states).on]).toEqual([0, -1, 0, -1, 1]);
    expect([...onOffSeries("switch.tv", states).ts]).toEqual([0, 2000, 3000, 4000, 6000]);
  });
});

describe("energyImpact edge cases", () => {
  const flat = (w: number): PowerSeries => ({
    entity_id: "sensor.m",
    ts: Float64Array.from({ length: 1000 }, (_, i) => i * 10_000),
    watts: new Float64Array(1000).fill(w),
  });
  test("a device with no meter anywhere is all noData, never a number", () => {
    const r = energyImpact(
      [
        {
          entity_id: "switch.a",
          name: null,
          states: onOffSeries("switch.a", [
            { ts: 0, state: "off" },
            { ts: 500_000, state: "on" },
          ]),
        },
      ],
      null,
      { ...opts, from: 0, to: 10_000_000 },
    );
    expect(r.devices[0]).toMatchObject({ samples: 0, noData: 1, measurable: false, stepW: null });
    expect(r.totalKWh).toBeNull();
  });
  test("unavailable between two states is not a transition", () => {
    const r = energyImpact(
      [
        {
          entity_id: "switch.a",
          name: null,
          states: onOffSeries("switch.a", [
            { ts: 1000_000, state: "off" },
            { ts: 2000_000, state: "unavailable" },
            { ts: 3000_000, state: "on" },
          ]),
        },
      ],
      flat(100),
      { ...opts, from: 0, to: 9_000_000 },
    );
    expect(r.devices[0].samples + r.devices[0].noData + r.devices[0].overlapped).toBe(0);
    expect(r.totalKWh).toBeCloseTo((100 * 9_000_000) / 3_600_000 / 1000, 3);
  });
});

describe("medianInPlace", () => {
  test("is the median of the sorted values, to the bit, for any readings (ties, signs, zeros, one, none)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ noNaN: true, noDefaultInfinity: true })),
        ),
        fc.nat({ max: 8 }),
        (values, spare) => {
          // Readings sit in the front of a bigger buffer, as in the reused window buffer.
          const buf = new Float64Array(values.length + spare).fill(1e300);
          buf.set(values);
          const expected = quantileSorted(Float64Array.from(values).sort(), 0.5);
          expect(Object.is(medianInPlace(buf, values.length), expected)).toBe(true);
        },
      ),
      { seed: 20261201, numRuns: 2000 },
    );
  });
});
