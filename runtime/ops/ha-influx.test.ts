/**
 * Reading Home Assistant's and Node-RED's InfluxDB lines, one shape at a time, and hostile lines: the reader
 * never throws and always answers point, skipped-with-reason or ignored.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { goFloat } from "../../test/support/ops/ha-influx-history.ts";
import {
  type HaInfluxMapping,
  type LineReading,
  looksLikeUnit,
  mergePart,
  pointState,
  readLine,
  SKIP_REASONS,
  toMicros,
} from "./ha-influx.ts";

const NS: HaInfluxMapping = { precision: "ns" };
const T_NS = "1793512800123456789";
const T_US = 1_793_512_800_123_456;

/** The state change a single line maps to (entity, µs, state, attributes), or the skip. */
function mapped(line: string, opts: HaInfluxMapping = NS) {
  const r = readLine(line, opts);
  if (r.kind !== "point") return r;
  const st = pointState(r.part);
  return {
    entity: r.entityId,
    us: r.us,
    readAs: r.readAs,
    state: st?.state,
    attributes: { ...st?.attributes },
  };
}

describe("readLine: Home Assistant's influxdb integration", () => {
  test("a numeric sensor: unit from the measurement, `_str` attributes, global tags dropped, ns to µs", () => {
    expect(
      mapped(
        `°C,domain=sensor,entity_id=living_temperature,source=HA device_class_str="temperature",friendly_name_str="Living room",value=21.5 ${T_NS}`,
      ),
    ).toEqual({
      entity: "sensor.living_temperature",
      us: T_US,
      readAs: "unit",
      state: "21.5",
      attributes: { device_class: "temperature", friendly_name: "Living room", unit_of_measurement: "°C" },
    });
  });

  test("an on/off entity without a unit: measurement is the entity id, `state` wins over its `value`", () => {
    expect(
      mapped(
        `binary_sensor.front_door,domain=binary_sensor,entity_id=front_door device_class_str="door",state="on",value=1.0 ${T_NS}`,
      ),
    ).toMatchObject({ entity: "binary_sensor.front_door", readAs: "entity", state: "on" });
  });

  test("a text state, numeric attributes as numbers (HA writes them as floats), lists as HA's text", () => {
    expect(
      mapped(
        `light.hall,domain=light,entity_id=hall brightness=128.0,state="on",supported_color_modes_str="['brightness']",value=1.0 ${T_NS}`,
      ),
    ).toMatchObject({
      state: "on",
      attributes: { brightness: 128, supported_color_modes: "['brightness']" },
    });
  });

  test("escapes: commas, spaces and equals in measurement, tags, field keys and strings", () => {
    expect(
      mapped(
        `UV\\ index,domain=sensor,entity_id=uv,room=Living\\ room\\,\\ east friendly\\ name_str="Hall, \\"big\\" = light \\\\o/",value=3 ${T_NS}`,
        { precision: "ns", tagAttributes: ["room"] },
      ),
    ).toEqual({
      entity: "sensor.uv",
      us: T_US,
      readAs: "unit",
      state: "3",
      attributes: {
        "friendly name": 'Hall, "big" = light \\o/',
        room: "Living room, east",
        unit_of_measurement: "UV index",
      },
    });
  });

  test("measurement_attr domain__device_class: the device class from the measurement, the unit from its field", () => {
    expect(
      mapped(`sensor__temperature,domain=sensor,entity_id=t unit_of_measurement_str="°C",value=20 ${T_NS}`),
    ).toMatchObject({
      readAs: "device-class",
      attributes: { device_class: "temperature", unit_of_measurement: "°C" },
    });
    expect(mapped(`sensor,domain=sensor,entity_id=t value=20 ${T_NS}`)).toMatchObject({
      readAs: "domain",
      attributes: {},
    });
  });

  test("a text attribute ending in digits keeps its text, not HA's float copy; state_/value_ are attributes", () => {
    expect(
      mapped(
        `sensor.wifi,domain=sensor,entity_id=wifi channel=36,channel_str="Ch 36",state="Room 22",state__str="x",value_=4 ${T_NS}`,
      ),
    ).toMatchObject({ state: "Room 22", attributes: { channel: "Ch 36", state: "x", value: 4 } });
  });

  test("influx_inspect export: Go's exponent floats, integer and boolean fields, the DDL header ignored", () => {
    expect(mapped(`Wh,domain=sensor,entity_id=e value=${goFloat(1_234_017.25)} ${T_NS}`)).toMatchObject({
      state: "1234017.25",
    });
    expect(goFloat(1_234_017.25)).toBe("1.23401725e+06");
    expect(mapped(`x,entity_id=sensor.n value=7i,u=3u,on=t ${T_NS}`)).toMatchObject({
      state: "7",
      attributes: { u: 3, on: true },
    });
    for (const line of ["# DML", "CREATE DATABASE home_assistant WITH NAME autogen", "", "   "])
      expect(readLine(line, NS)).toEqual({ kind: "ignored" });
  });

  test("the parts of one change on separate lines merge into it", () => {
    const parts = [
      `%,domain=sensor,entity_id=h device_class_str="humidity" ${T_NS}`,
      `%,domain=sensor,entity_id=h friendly_name=2.5 ${T_NS}`,
      `%,domain=sensor,entity_id=h friendly_name_str="PM2.5" ${T_NS}`,
      `%,domain=sensor,entity_id=h value=41 ${T_NS}`,
    ].map((l) => readLine(l, NS) as Extract<LineReading, { kind: "point" }>);
    expect(pointState(parts[0].part)).toBeNull();
    for (const p of parts.slice(1)) mergePart(parts[0].part, p.part);
    expect(pointState(parts[0].part)).toEqual({
      state: "41",
      attributes: { device_class: "humidity", friendly_name: "PM2.5", unit_of_measurement: "%" },
    });
  });
});

describe("readLine: Node-RED flows", () => {
  test("measurement = entity id, `value` a number, a string or a boolean (on/off)", () => {
    expect(mapped(`sensor.garage_temperature value=8.5 ${T_NS}`)).toMatchObject({
      entity: "sensor.garage_temperature",
      state: "8.5",
      readAs: "entity",
    });
    expect(mapped(`binary_sensor.garage_door value="on" ${T_NS}`)).toMatchObject({ state: "on" });
    expect(mapped(`input_boolean.guest value=false ${T_NS}`)).toMatchObject({ state: "off" });
  });

  test("a fixed measurement with the whole entity id in a tag; other tags dropped, other fields attributes", () => {
    expect(
      mapped(
        `homeassistant,entity_id=light.kitchen,host=nodered state="on",brightness=100i,friendly_name="Kitchen" ${T_NS}`,
      ),
    ).toEqual({
      entity: "light.kitchen",
      us: T_US,
      readAs: "name",
      state: "on",
      attributes: { brightness: 100, friendly_name: "Kitchen" },
    });
  });

  test("timestamps at the precision asked", () => {
    expect(mapped("sensor.a value=1 1793512800", { precision: "s" })).toMatchObject({
      us: 1_793_512_800_000_000,
    });
    expect(mapped("sensor.a value=1 1793512800123", { precision: "ms" })).toMatchObject({
      us: 1_793_512_800_123_000,
    });
    expect(toMicros("-1500", "ns")).toBe(-1);
    expect(toMicros("999", "ns")).toBe(0);
    expect(toMicros("9".repeat(20), "s")).toBeNull();
  });
});

describe("readLine: what is skipped, and why", () => {
  test.each([
    [`°C,domain=sensor,entity_id=x value=21.5,f="open ${T_NS}`, "syntax"],
    [`°C,domain=sensor,entity_id=x value=abc ${T_NS}`, "syntax"],
    [`°C,domain=sensor,entity_id=x  ${T_NS}`, "syntax"],
    [`°C,domain sensor value=1 ${T_NS}`, "syntax"],
    [`°C,domain=sensor value=21.5 ${T_NS}`, "no-entity"],
    [`W,domain=Sensor,entity_id=Bad-Id value=3 ${T_NS}`, "bad-entity-id"],
    [`W,entity_id=kitchen value=3 ${T_NS}`, "bad-entity-id"],
    ["°C,domain=sensor,entity_id=x value=21.5", "no-timestamp"],
    ["°C,domain=sensor,entity_id=x value=21.5 12:00", "bad-timestamp"],
    [`°C,domain=sensor,entity_id=x value=21.5 ${"9".repeat(30)}`, "bad-timestamp"],
  ])("%s → %s", (line, reason) => {
    expect(readLine(line, NS)).toMatchObject({ kind: "skipped", reason });
  });

  test("units: HA's own, currency codes, anything an identifier cannot be; plain names are not", () => {
    for (const u of ["°C", "W", "kWh", "%", "µg/m³", "lx", "min", "EUR", "EUR/kWh", "UV index", "m³/h"])
      expect({ u, unit: looksLikeUnit(u) }).toEqual({ u, unit: true });
    for (const n of ["state", "homeassistant", "units", "ha_states", "temperature"])
      expect({ n, unit: looksLikeUnit(n) }).toEqual({ n, unit: false });
  });

  test("hostile lines never throw: each is a point of a valid entity at a safe time, skipped with a known reason, or ignored", () => {
    const pieces = fc.constantFrom(
      "°C",
      "sensor.a",
      ",",
      " ",
      "=",
      '"',
      "\\",
      "entity_id",
      "domain",
      "sensor",
      "value",
      "state",
      "_str",
      "1",
      "-",
      ".",
      "e",
      "i",
      "t",
      "1793512800123456789",
      "\r",
      "#",
    );
    const line = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.array(pieces, { maxLength: 40 }).map((p) => p.join("")),
    );
    fc.assert(
      fc.property(line, fc.constantFrom("ns", "us", "ms", "s") as fc.Arbitrary<"ns">, (text, precision) => {
        const r = readLine(text, { precision, tagAttributes: ["domain"] });
        if (r.kind === "point") {
          expect(r.entityId).toMatch(/^[a-z0-9_]+\.[a-z0-9_]+$/);
          expect(Number.isSafeInteger(r.us)).toBe(true);
        } else if (r.kind === "skipped") expect(SKIP_REASONS).toContain(r.reason);
        else expect(r).toEqual({ kind: "ignored" });
      }),
      { numRuns: 5000 },
    );
  });
});
