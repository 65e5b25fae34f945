/**
 * The `--from ha-influxdb` import into a real store: the fixtures' history comes back as HA had it (within
 * what the integration keeps), an export's one-field-per-line form merges to the same changes, re-imports
 * and overlaps with live data are counted duplicates, bounds refuse before writing, and hostile bytes in
 * random chunks never throw, never hang, and store only whole lines, every line counted.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import fc from "fast-check";
import {
  type HaChange,
  HOSTILE_LINES,
  haPoint,
  history,
  pyRepr,
} from "../../test/support/ops/ha-influx-history.ts";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import type { ImportCheckResult, StateChange } from "../events/messages.ts";
import { openStoreReader, type StoredEvent } from "../store/reader.ts";
import { openStoreWriter, type StoreWriter } from "../store/writer.ts";
import { readLine } from "./ha-influx.ts";
import { type HaInfluxImportOptions, runHaInfluxImport } from "./ha-influx-import.ts";
import { type ImportLimits, writerTarget } from "./import-stream.ts";

const FIXTURES = join(import.meta.dir, "../../test/support/ops");
const NOW_US = Date.UTC(2026, 11, 7) * 1000;
const limits: ImportLimits = {
  maxBytes: 1 << 30,
  maxLineBytes: 64 * 1024,
  maxNewEntities: 100,
  futureSkewMs: 300_000,
};

const writers: StoreWriter[] = [];
afterEach(() => {
  for (const w of writers.splice(0)) w.close();
});
const tempDir = tempDirs("homeiq-ha-influx-");

const streamOf = (bytes: Uint8Array, cuts: number[] = []) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      let at = 0;
      for (const cut of [...cuts].sort((a, b) => a - b)) {
        const to = Math.min(cut, bytes.length);
        if (to > at) controller.enqueue(bytes.slice(at, to));
        at = Math.max(at, to);
      }
      if (at < bytes.length) controller.enqueue(bytes.slice(at));
      controller.close();
    },
  });

function store(dataDir = tempDir()) {
  const writer = openStoreWriter(dataDir, { dictionaryCache: 100 });
  writers.push(writer);
  return { dataDir, writer };
}

async function importFile(
  file: string,
  s: ReturnType<typeof store>,
  opts: Partial<HaInfluxImportOptions> = {},
) {
  return runHaInfluxImport(streamOf(readFileSync(join(FIXTURES, file))), {
    limits,
    mapping: { precision: "ns" },
    nowUs: NOW_US,
    target: writerTarget(s.writer, 60_000),
    stagingDir: s.dataDir,
    ...opts,
  });
}

function stored(dataDir: string): StoredEvent[] {
  const reader = openStoreReader(dataDir);
  try {
    return reader
      .events({ limit: 5000 })
      .items.sort((a, b) => a.entity_id.localeCompare(b.entity_id) || a.ts - b.ts);
  } finally {
    reader.close();
  }
}

/** A stored event as compared: times exact to the µs, attributes in any order. */
const shape = (e: StoredEvent) => ({
  entity_id: e.entity_id,
  state: e.state,
  us: Math.round(e.ts * 1000),
  last_changed_us: Math.round(e.last_changed * 1000),
  attributes: Object.fromEntries(Object.entries(e.attributes).sort(([a], [b]) => a.localeCompare(b))),
});

/**
 * What HA's history should look like after the trip through InfluxDB: unknown/unavailable and empty states
 * were never written; numbers are floats (so "22.0" comes back "22", booleans 1/0); lists and None are
 * Python's text; last_changed is where the entity's written state last differed.
 */
function expected(changes: HaChange[]) {
  const pyText = (v: unknown): unknown =>
    v === null ? "None" : Array.isArray(v) ? `[${v.map((x) => `'${x}'`).join(", ")}]` : v;
  const out = changes
    .filter((c) => haPoint(c) !== null)
    .map((c) => ({
      entity_id: c.entity_id,
      state: Number.isFinite(Number(c.state)) ? String(Number(pyRepr(Number(c.state)))) : c.state,
      us: c.us,
      last_changed_us: c.us,
      attributes: Object.fromEntries(
        Object.entries(c.attributes)
          .map(([k, v]) => [k, typeof v === "boolean" ? Number(v) : pyText(v)] as const)
          .sort(([a], [b]) => a.localeCompare(b)),
      ),
    }))
    .sort((a, b) => a.entity_id.localeCompare(b.entity_id) || a.us - b.us);
  for (let i = 1; i < out.length; i++)
    if (out[i].entity_id === out[i - 1].entity_id && out[i].state === out[i - 1].state)
      out[i].last_changed_us = out[i - 1].last_changed_us;
  return out;
}

describe("ha-influxdb import", () => {
  test("HA's lines store the history as HA had it, to the µs; every line is counted, skips with reason and line", async () => {
    const s = store();
    const outcome = await importFile("ha-influxdb.lp", s);
    const want = expected(history());
    expect(outcome).toMatchObject({
      ok: true,
      lines: want.length + HOSTILE_LINES.length,
      mappedLines: want.length,
      ignoredLines: 0,
      skippedLines: HOSTILE_LINES.length,
      stateChanges: want.length,
      stored: want.length,
      duplicates: 0,
    });
    expect(outcome.examples.map((e) => [e.line, e.reason])).toEqual(
      HOSTILE_LINES.map(([, reason], i) => [want.length + 1 + i, reason]),
    );
    for (const [, reason] of HOSTILE_LINES) expect(outcome.skipped[reason]).toBe(1);
    expect(stored(s.dataDir).map(shape)).toEqual(want);
    // Spot checks written out, so the expectation above is not only the fixture's own model.
    const hall = stored(s.dataDir).find((e) => e.entity_id === "light.hall" && e.state === "on");
    expect(hall && shape(hall)).toEqual({
      entity_id: "light.hall",
      state: "on",
      us: 1_793_512_804_127_924,
      last_changed_us: 1_793_512_804_127_924,
      attributes: {
        brightness: 128,
        color_mode: "brightness",
        friendly_name: 'Hall, "big" light',
        supported_color_modes: "['brightness']",
        supported_features: 40,
      },
    });
    expect(outcome.measurements).toContainEqual({ measurement: "µg/m³", readAs: "unit", lines: 3 });
    expect(readdirSync(s.dataDir).filter((f) => f.includes("staging"))).toEqual([]);
  });

  test("an influx_inspect export (one field per line, by series) merges to the same state changes", async () => {
    const whole = store();
    await importFile("ha-influxdb.lp", whole);
    const split = store();
    const outcome = await importFile("ha-influxdb-export.lp", split);
    expect(outcome).toMatchObject({ ok: true, ignoredLines: 7, stateChanges: 312, stored: 312 });
    expect(outcome.lines).toBe(outcome.mappedLines + outcome.skippedLines + outcome.ignoredLines);
    expect(stored(split.dataDir).map(shape)).toEqual(stored(whole.dataDir).map(shape));
  });

  test("a re-import stores nothing and counts every change a duplicate; live data at the same µs wins", async () => {
    const s = store();
    const live: StateChange = {
      entity_id: "sensor.living_temperature",
      state: "21.80",
      attributes: JSON.stringify({ unit_of_measurement: "°C", live: true }),
      last_changed: 1_793_512_800_123_456,
      last_updated: 1_793_512_800_123_456,
      context_id: "01HZZZZZZZZZZZZZZZZZZZZZZZ",
      context_parent_id: null,
      context_user_id: null,
    };
    s.writer.writeEvents([live]);
    const first = await importFile("ha-influxdb.lp", s);
    expect(first).toMatchObject({ ok: true, stateChanges: 312, stored: 311, duplicates: 1 });
    const kept = stored(s.dataDir).find((e) => Math.round(e.ts * 1000) === live.last_updated);
    expect(kept).toMatchObject({ state: "21.80", context_id: live.context_id, attributes: { live: true } });
    const again = await importFile("ha-influxdb-export.lp", s);
    expect(again).toMatchObject({ ok: true, stateChanges: 312, stored: 0, duplicates: 312, newEntities: 1 });
    expect(stored(s.dataDir)).toHaveLength(312);
  });

  test("Node-RED's shapes: entity-id measurements, a fixed measurement with entity_id tags", async () => {
    const s = store();
    const outcome = await importFile("node-red.lp", s);
    expect(outcome).toMatchObject({ ok: true, lines: 409, ignoredLines: 1, skippedLines: 6, stored: 402 });
    const events = stored(s.dataDir);
    const first = (id: string) => shape(events.find((e) => e.entity_id === id)!);
    expect(first("light.kitchen")).toEqual({
      entity_id: "light.kitchen",
      state: "on",
      us: 1_793_512_800_123_456,
      last_changed_us: 1_793_512_800_123_456,
      attributes: { brightness: 100, friendly_name: 'Kitchen\\Island "main"' },
    });
    expect(first("sensor.grid_power")).toMatchObject({
      state: "230.5",
      attributes: { unit_of_measurement: "W" },
    });
    expect(first("input_boolean.guest_mode")).toMatchObject({ state: "on" });
    expect(first("binary_sensor.garage_door")).toMatchObject({ state: "on" });
    expect(new Set(events.map((e) => e.entity_id)).size).toBe(5);
  });

  test("bounds refuse the whole import before anything is written: new entities, body size", async () => {
    const s = store();
    const few = await importFile("ha-influxdb.lp", s, { limits: { ...limits, maxNewEntities: 5 } });
    expect(few).toMatchObject({ ok: false, status: 422, stored: 0 });
    const big = await importFile("ha-influxdb.lp", s, { limits: { ...limits, maxBytes: 10_000 } });
    expect(big).toMatchObject({ ok: false, status: 413, stored: 0 });
    expect(stored(s.dataDir)).toEqual([]);
    expect(readdirSync(s.dataDir).filter((f) => f.includes("staging"))).toEqual([]);
  });

  test("a store that cannot be asked, or a data dir that cannot stage, fails the import before anything is written", async () => {
    const s = store();
    const down = await importFile("ha-influxdb.lp", s, {
      target: {
        check: async (ids) => {
          if (ids.length) throw new Error("batcher is restarting");
          return writerTarget(s.writer, 60_000).check(ids);
        },
        write: async () => {
          throw new Error("no write expected");
        },
      },
    });
    expect(down).toMatchObject({
      ok: false,
      status: 500,
      error: "import failed before anything was written: batcher is restarting",
      stored: 0,
    });
    const nowhere = await importFile("ha-influxdb.lp", s, { stagingDir: join(s.dataDir, "missing", "dir") });
    expect(nowhere).toMatchObject({ ok: false, status: 500, stored: 0 });
    expect(stored(s.dataDir)).toEqual([]);
    expect(readdirSync(s.dataDir).filter((f) => f.includes("staging"))).toEqual([]);
  });

  test("scratch files of an import whose process died are removed by the next import; a live one's are kept", async () => {
    const s = store();
    const dead = Bun.spawnSync(["true"]).pid;
    const stale = join(s.dataDir, `.import-${dead}-1-1.staging.db`);
    const live = join(s.dataDir, `.import-${process.ppid}-1-1.staging.db`);
    writeFileSync(stale, "x");
    writeFileSync(live, "x");
    expect(await importFile("node-red.lp", s)).toMatchObject({ ok: true });
    expect(readdirSync(s.dataDir).filter((f) => f.includes("staging"))).toEqual([basename(live)]);
  });

  test("an overlong line is skipped and counted without being held, and the lines around it import", async () => {
    const s = store();
    const body = new TextEncoder().encode(
      [
        `sensor.a value=1 ${NOW_US - 10}000`,
        `sensor.a value=2,junk="${"x".repeat(5000)}" ${NOW_US - 5}000`,
        `sensor.a value=3 ${NOW_US}000`,
      ].join("\n"),
    );
    const outcome = await runHaInfluxImport(streamOf(body, [100, 1000, 3000]), {
      limits: { ...limits, maxLineBytes: 1000 },
      mapping: { precision: "ns" },
      nowUs: NOW_US,
      target: writerTarget(s.writer, 60_000),
      stagingDir: s.dataDir,
    });
    expect(outcome).toMatchObject({ ok: true, lines: 3, mappedLines: 2, stored: 2 });
    expect(outcome.examples).toEqual([{ line: 2, reason: "line-too-long", detail: expect.any(String) }]);
  });
});

describe("ha-influxdb import: hostile input", () => {
  test("random and mutated lines in random chunks: never throws or hangs, whole lines only, every line counted", async () => {
    const dir = tempDir();
    const good = fc
      .record({
        object: fc.stringMatching(/^[a-z0-9_]{1,8}$/),
        value: fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => `value=${v}`),
          fc.string({ maxLength: 12 }).map((t) => `state="${t.replace(/["\\]/g, "\\$&")}"`),
        ),
        us: fc.integer({ min: NOW_US - 1e12, max: NOW_US + 1e9 }),
      })
      .map((r) => `°C,domain=sensor,entity_id=${r.object} ${r.value} ${r.us}000`);
    const line = fc.oneof(
      good,
      good.chain((l) =>
        fc
          .tuple(fc.nat(l.length), fc.string({ maxLength: 4 }))
          .map(([at, junk]) => l.slice(0, at) + junk + l.slice(at)),
      ),
      fc.string({ maxLength: 60 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 30 }),
        fc.array(fc.nat(4000), { maxLength: 6 }),
        async (lines, cuts) => {
          const text = lines.join("\n");
          const written: StateChange[] = [];
          const check = async (ids: string[]): Promise<ImportCheckResult> => ({
            unknown: ids,
            keysLeft: 1000,
            minUs: 0,
            maxUs: NOW_US * 2,
          });
          const outcome = await Promise.race([
            runHaInfluxImport(streamOf(new TextEncoder().encode(text), cuts), {
              limits: { ...limits, maxLineBytes: 200 },
              mapping: { precision: "ns" },
              nowUs: NOW_US,
              target: {
                check,
                write: async (events) => {
                  written.push(...events);
                  return { stored: events.length, duplicates: 0, rejected: [] };
                },
              },
              stagingDir: dir,
            }),
            Bun.sleep(5000).then(() => {
              throw new Error("import did not finish within 5 s");
            }),
          ]);
          // A final newline ends the last line; it does not start another.
          const physical = text === "" ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
          expect(outcome.lines).toBe(physical);
          expect(outcome.lines).toBe(outcome.mappedLines + outcome.skippedLines + outcome.ignoredLines);
          expect(Object.values(outcome.skipped).reduce((a, b) => a + b, 0)).toBe(outcome.skippedLines);
          // Every stored change comes from whole lines of the input, read as the reader reads them alone.
          const keys = new Set(
            text.split("\n").flatMap((l) => {
              const r = readLine(l, { precision: "ns" });
              return r.kind === "point" ? [`${r.entityId}@${r.us}`] : [];
            }),
          );
          for (const e of written) expect(keys.has(`${e.entity_id}@${e.last_updated}`)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
    expect(readdirSync(dir)).toEqual([]);
  });
});
