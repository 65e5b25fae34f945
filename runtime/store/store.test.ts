import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import type { StateChange } from "../events/messages.ts";
import {
  canonicalNumber,
  contextKeys,
  decodeContextId,
  decodePosting,
  decodeUlid,
  encodeContextId,
  encodeDecimal,
  encodeUlid,
  looseNumber,
  ulidTimeMs,
} from "./codec.ts";
import { type MaintenanceOptions, StoreMaintenance } from "./maintenance.ts";
import { openStoreReader } from "./reader.ts";
import { openStoreWriter } from "./writer.ts";

const tempDir = tempDirs("homeiq-store-");

const T0 = Date.UTC(2026, 10, 20) * 1000;
const ev = (entity_id: string, state: string, us: number, extra: Partial<StateChange> = {}): StateChange => ({
  entity_id,
  state,
  attributes: '{"unit_of_measurement":"°C"}',
  last_changed: us,
  last_updated: us,
  context_id: "01JDZ5K3M8Q2W7XYZABCDEFGHJ",
  context_parent_id: null,
  context_user_id: null,
  ...extra,
});

/** Maintenance with the defaults the tests share; `over` changes what a test is about. */
const maintenanceOf = (w: ReturnType<typeof openStoreWriter>, over: Partial<MaintenanceOptions> = {}) =>
  new StoreMaintenance(w, {
    rawDays: 7,
    hourlyDays: 30,
    dailyDays: 90,
    maxBytes: 1e12,
    rollupChunk: 1000,
    unexportedHoldBytes: 0,
    ...over,
  });

describe("store codec", () => {
  test("a ULID round-trips through 16 bytes exactly; other ids are declined", () => {
    fc.assert(
      fc.property(fc.ulid(), (id) => {
        const buf = new Uint8Array(16);
        expect(encodeUlid(id, buf)).toBe(true);
        expect(decodeUlid(buf)).toBe(id);
      }),
    );
    expect(encodeUlid("not-a-ulid", new Uint8Array(16))).toBe(false);
    expect(encodeUlid("01jdz5k3m8q2w7xyzabcdefghj", new Uint8Array(16))).toBe(false);
  });

  test("a context id round-trips beside any row time; a ULID made in the row's millisecond is 10 bytes", () => {
    fc.assert(
      fc.property(fc.ulid(), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), (id, skewMs) => {
        const rowUs = ((ulidTimeMs(id) as number) + skewMs) * 1000 + 999;
        const stored = encodeContextId(id, rowUs);
        expect(stored).toBeInstanceOf(Uint8Array);
        expect((stored as Uint8Array).length).not.toBe(16); // 16 is the form of rows before version 5
        expect(decodeContextId(stored, rowUs)).toBe(id);
        // Lookups find every form in [lo, hi), as SQLite compares BLOBs.
        const { lo, hi } = contextKeys(id);
        const bytes = Buffer.from(stored as Uint8Array);
        expect(Buffer.compare(bytes, Buffer.from(lo as Uint8Array))).toBeGreaterThanOrEqual(0);
        expect(Buffer.compare(bytes, Buffer.from(hi as Uint8Array))).toBeLessThan(0);
      }),
    );
    const id = "01JDZ5K3M8Q2W7XYZABCDEFGHJ";
    const at = (ulidTimeMs(id) as number) * 1000;
    expect((encodeContextId(id, at + 999) as Uint8Array).length).toBe(10);
    expect((encodeContextId(id, at + 5_000) as Uint8Array).length).toBe(11); // 5 ms before its row
    expect(encodeContextId("abc", at)).toBe("abc");
    expect(decodeContextId(null, at)).toBeNull();
  });

  test("a number state's short form divides back to the very same double", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
        const state = String(d);
        const value = canonicalNumber(state);
        const x = Number.isNaN(value) ? null : encodeDecimal(state, value);
        if (x === null) return;
        expect(Number.isSafeInteger(x)).toBe(true);
        const k = ((x % 16) + 16) % 16;
        expect(Math.floor(x / 16) / 10 ** k).toBe(value);
      }),
    );
    expect(encodeDecimal("21.5", 21.5)).toBe(215 * 16 + 1);
    expect(encodeDecimal("-3", -3)).toBe(-3 * 16);
    expect(encodeDecimal("1e+21", 1e21)).toBeNull();
  });

  test("a state's number: exact when it prints back the same, loose for charts, none for text or empty", () => {
    expect(canonicalNumber("21.5")).toBe(21.5);
    expect(canonicalNumber("21.50")).toBeNaN();
    expect(looseNumber("21.50")).toBe(21.5);
    expect(looseNumber("+3")).toBe(3);
    expect(looseNumber("on")).toBeNull();
    // Number("") is 0: an empty state once went to InfluxDB and the analyses as a reading of 0.
    expect(canonicalNumber("")).toBeNaN();
    expect(looseNumber("")).toBeNull();
  });
});

describe("store writer and reader", () => {
  test("stores each state change once and reads it back exactly, newest first", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const batch = [
      ev("sensor.t", "21.5", T0 + 1),
      ev("sensor.t", "21.50", T0 + 2, { last_changed: T0 + 1 }),
      ev("light.k", "on", T0 + 3, {
        context_id: "abc",
        context_parent_id: "01JDZ5K3M8Q2W7XYZABCDEFGHK",
        context_user_id: "u1",
      }),
      ev("sensor.t", "unavailable", T0 + 4, { context_id: null, attributes: "{}" }),
    ];
    const first = w.writeEvents(batch);
    expect(first.inserted.length).toBe(4);
    const again = w.writeEvents([...batch, ev("sensor.t", "22", T0 + 5)]);
    expect(again.inserted).toEqual([4]); // the index of the one new record
    expect(again.duplicates).toBe(4);
    const r = openStoreReader(dir);
    const { items, nextCursor } = r.events({ limit: 10 });
    expect(nextCursor).toBeNull();
    expect(items.map((i) => [i.entity_id, i.state, i.value])).toEqual([
      ["sensor.t", "22", 22],
      ["sensor.t", "unavailable", null],
      ["light.k", "on", null],
      ["sensor.t", "21.50", 21.5],
      ["sensor.t", "21.5", 21.5],
    ]);
    expect(items[2]).toEqual({
      entity_id: "light.k",
      state: "on",
      value: null,
      attributes: { unit_of_measurement: "°C" },
      ts: (T0 + 3) / 1000,
      last_changed: (T0 + 3) / 1000,
      context_id: "abc",
      context_parent_id: "01JDZ5K3M8Q2W7XYZABCDEFGHK",
      context_user_id: "u1",
    });
    expect(items[3].last_changed).toBe((T0 + 1) / 1000);
    expect(r.newestUpdateUs()).toBe(T0 + 5);
    expect(r.totals().events).toBe(5);
    expect(r.entityIds()).toEqual(["light.k", "sensor.t"]);
    r.close();
    w.close();
  });

  test("pages with a cursor cover every event once, in order, and filter by entity and domain", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const all: StateChange[] = [];
    for (let i = 0; i < 95; i++) all.push(ev(i % 2 ? "light.a" : "sensor.b", String(i), T0 + i * 1000));
    w.writeEvents(all);
    const r = openStoreReader(dir);
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = r.events({ limit: 10, cursor });
      seen.push(...page.items.map((i) => Number(i.state)));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...Array(95).keys()].reverse());
    expect(r.events({ limit: 100, domain: "light" }).items.length).toBe(47);
    expect(r.events({ limit: 100, entityIds: ["sensor.b"] }).items.length).toBe(48);
    expect(r.events({ limit: 100, from: (T0 + 10_000) / 1000, to: (T0 + 20_000) / 1000 }).items.length).toBe(
      10,
    );
    expect(() => r.events({ limit: 1, cursor: "x'; DROP" })).toThrow(/cursor/);
    r.close();
    w.close();
  });

  test("any number state reads back as the same text and value, through the compact layout", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const r = openStoreReader(dir);
    let us = T0;
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
            fc.integer({ min: -99_999, max: 99_999 }).map((n) => (n / 100).toFixed(2)),
            fc.constantFrom("21.50", "-0", "on", "1e-7", "0.30000000000000004", "", "+3"),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        (states) => {
          const fromMs = us / 1000 + 1; // whole milliseconds: a fraction would round
          w.writeEvents(states.map((state, i) => ev("sensor.n", state, us + (i + 1) * 1000)));
          us += states.length * 1000;
          const items = r.events({ from: fromMs, limit: 100 }).items.reverse();
          expect(items.map((x) => x.state)).toEqual(states);
          // (-0 reads as 0: SQLite keeps an integral REAL as an integer, as it always did; JSON has no -0.)
          const plain = (v: number | null) => (v === 0 ? 0 : v);
          expect(items.map((x) => plain(x.value))).toEqual(
            states.map((st) => plain(Number.isNaN(canonicalNumber(st)) ? looseNumber(st) : Number(st))),
          );
        },
      ),
      { numRuns: 50 },
    );
    r.close();
    w.close();
  });

  test("contextEvents finds a context's rows and its children's, by the compact form, and only those", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const run = "01JDZ5K3M8Q2W7XYZABCDEFGHJ";
    // The same 80 random bits under another time: only the decoded id tells them apart.
    const twin = "01JDZ5K3M9Q2W7XYZABCDEFGHJ";
    const at = (ulidTimeMs(run) as number) * 1000;
    w.writeEvents([
      ev("automation.a", "on", at + 300, { context_id: run, context_user_id: "u1" }),
      ev("light.k", "on", at + 250_000, { context_id: "01JDZ5K3MAAAAAAAAAAAAAAAAA", context_parent_id: run }),
      ev("light.j", "on", at + 400_000, { context_id: twin }),
      ev("light.m", "off", at + 500_000, { context_id: "x-text", context_parent_id: run }),
      ev("light.z", "off", at + 600_000, { context_id: "01JDZ5K3MBBBBBBBBBBBBBBBBB" }),
    ]);
    w.close();
    const r = openStoreReader(dir);
    const found = r.contextEvents(run);
    expect(found.map((e) => [e.entity_id, e.context_id, e.context_parent_id, e.context_user_id])).toEqual([
      ["automation.a", run, null, "u1"],
      ["light.k", "01JDZ5K3MAAAAAAAAAAAAAAAAA", run, null],
      ["light.m", "x-text", run, null],
    ]);
    expect(r.contextEvents(twin).map((e) => e.entity_id)).toEqual(["light.j"]);
    expect(r.contextEvents("x-text").map((e) => e.entity_id)).toEqual(["light.m"]);
    r.close();
  });

  test("contextEvents finds each context whichever bound its first random byte makes it compare first", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    // Random parts starting with every Crockford digit: the first byte spans 0..255, both statements run.
    const runs = [...crockford].map(
      (d, i) => `01JDZ5K3M8${d}${crockford[(i * 7) % 32]}W7XYZABCDEFGH${crockford[i]}`,
    );
    const at = (ulidTimeMs(runs[0]) as number) * 1000;
    w.writeEvents(
      runs.flatMap((run, i) => [
        ev(`automation.a${i}`, "on", at + 1000 + i, { context_id: run }),
        ev(`light.l${i}`, "on", at + 90_000 + i, {
          context_id: `01JDZ5K3MB${runs[i].slice(10)}`,
          context_parent_id: run,
        }),
      ]),
    );
    w.close();
    const r = openStoreReader(dir);
    for (const [i, run] of runs.entries())
      expect(r.contextEvents(run).map((e) => e.entity_id)).toEqual([`automation.a${i}`, `light.l${i}`]);
    r.close();
  });

  test("the reader decodes a stored state to the very value and text the events view gives", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const states = [
      "21.5",
      "-0.25",
      "0",
      "-7",
      "1e+21",
      "21.50",
      "on",
      "123456789.123",
      "-1234.5678901",
      "NaN",
      "",
    ];
    // last_changed before last_updated and a user on some rows: m holds lc alone or [lc, cu, vl].
    w.writeEvents(
      states.map((st, i) =>
        ev(`sensor.s${i}`, st, T0 + 1000 * i, {
          last_changed: i % 2 === 0 ? T0 + 1000 * i : T0 - 5_000_000 * i,
          context_user_id: i % 3 === 0 ? `user${i % 2}` : null,
        }),
      ),
    );
    w.close();
    const r = openStoreReader(dir);
    const db = new Database(join(dir, "events.db"), { readonly: true });
    const view = db
      .query(
        `SELECT en.entity_id AS id, ev.v AS v, st.state AS s, ev.lc AS lc, u.user_id AS u FROM events ev
         JOIN entities en ON en.e = ev.e LEFT JOIN states st ON st.s = ev.s LEFT JOIN users u ON u.u = ev.cu`,
      )
      .all() as { id: string; v: number | null; s: string | null; lc: number; u: string | null }[];
    const read = new Map(r.events({ limit: 100 }).items.map((e) => [e.entity_id, e]));
    expect(view.length).toBe(states.length);
    // A user alone (lc 0) is the integer -1 - cu, not a JSON text: rows 0 and 6 (3 and 9 have lc too).
    expect(
      db.query("SELECT count(*) AS n FROM raw_events WHERE typeof(m) = 'integer' AND m < 0").get(),
    ).toEqual({
      n: 2,
    });
    for (const row of view) {
      const item = read.get(row.id);
      expect(item?.value).toBe(row.v);
      expect(item?.state).toBe(row.s ?? String(row.v));
      expect(item?.context_user_id).toBe(row.u);
      expect(((item?.ts ?? 0) - (item?.last_changed ?? 0)) * 1000).toBeCloseTo(row.lc, 0);
      expect(row.lc).toBe(
        Number(row.id.slice(8)) % 2 === 0
          ? 0
          : 5_000_000 * Number(row.id.slice(8)) + 1000 * Number(row.id.slice(8)),
      );
    }
    db.close();
    r.close();
  });

  test("attributes that change in a value are stored as a patch and read back whole, exactly", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const attrs = [
      { hvac_modes: ["heat", "off"], current_temperature: 20.5, temperature: 21, friendly_name: "Hall" },
      { hvac_modes: ["heat", "off"], current_temperature: 20.6, temperature: 21, friendly_name: "Hall" },
      { hvac_modes: ["heat", "off"], current_temperature: 20.7, temperature: 21.5, friendly_name: "Hall" },
      // A null value and a new key cannot be a merge patch: stored whole.
      { hvac_modes: ["heat", "off"], current_temperature: null, temperature: 21.5, friendly_name: "Hall" },
      {
        hvac_modes: ["heat", "off"],
        current_temperature: 20,
        temperature: 21.5,
        friendly_name: "Hall",
        x: 1,
      },
      { hvac_modes: ["heat", "off"], current_temperature: 20.6, temperature: 21, friendly_name: "Hall" },
    ];
    w.writeEvents(
      attrs.map((a, i) => ev("climate.hall", "heat", T0 + i * 1000, { attributes: JSON.stringify(a) })),
    );
    const rows = w.db.query("SELECT json, base FROM attr_rows ORDER BY a").all();
    w.close();
    expect(rows).toEqual([
      { json: JSON.stringify(attrs[0]), base: null },
      { json: '{"current_temperature":20.6}', base: 1 },
      { json: '{"current_temperature":20.7,"temperature":21.5}', base: 1 },
      { json: JSON.stringify(attrs[3]), base: null },
      { json: JSON.stringify(attrs[4]), base: null },
    ]);
    const r = openStoreReader(dir);
    const items = r.events({ limit: 10 }).items.reverse();
    expect(items.map((x) => x.attributes)).toEqual(attrs);
    r.close();
  });

  test("a sensor reading with a fresh HA context takes at most 19 bytes of row payload (33.4 before schema 5)", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    const ulidAt = (us: number, i: number) => {
      let ms = Math.floor(us / 1000);
      let text = "";
      for (let k = 0; k < 10; k++, ms = Math.floor(ms / 32)) text = CROCKFORD[ms % 32] + text;
      for (let k = 0; k < 16; k++) text += CROCKFORD[(i * 7 + k * 13) % 32];
      return text;
    };
    w.writeEvents(
      Array.from({ length: 2000 }, (_, i) => {
        const us = T0 + i * 1_000_000;
        return ev("sensor.power", String((1000 + (i % 900)) / 10), us, { context_id: ulidAt(us, i) });
      }),
    );
    // dbstat: SQLite's own account of each b-tree page (payload = the records, without cell overhead).
    const { cells, payload } = w.db
      .query(
        "SELECT sum(ncell) AS cells, sum(payload) AS payload FROM dbstat WHERE name = 'raw_events' AND pagetype = 'leaf'",
      )
      .get() as { cells: number; payload: number };
    w.close();
    expect(cells).toBe(2000);
    // 6 header bytes (size + 5 columns: lc, cu and vl share m), x 2 (1234 * 16 + 1), a 1, c 10 (random
    // bits; made in the row's ms).
    expect(payload / cells).toBeLessThanOrEqual(19);
  });

  test("refuses a malformed record with its reason and stores the rest", () => {
    const w = openStoreWriter(tempDir(), { dictionaryCache: 1000 });
    const res = w.writeEvents([
      ev("sensor.ok", "1", T0),
      ev("sensor.ms", "1", Math.floor(T0 / 1000) - 1e12),
      ev("nodot", "1", T0),
    ]);
    expect(res.inserted.length).toBe(1);
    expect(res.rejected.map((r) => r.index)).toEqual([1, 2]);
    expect(res.rejected[0].error).toContain("field last_updated");
    expect(res.rejected[1].error).toContain("field entity_id");
    w.close();
  });

  test("a rename joins the new id to the old history and keeps the stable id", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    w.writeEvents([ev("sensor.old", "1", T0), ev("sensor.new", "2", T0 + 10)]);
    expect(w.rename("sensor.old", "sensor.new")).toBe(true);
    w.writeEvents([ev("sensor.new", "3", T0 + 20), ev("sensor.new", "2", T0 + 10)]);
    const r = openStoreReader(dir);
    expect(r.entityIds()).toEqual(["sensor.new"]);
    const hist = r.history("sensor.new", { from: T0 / 1000 - 1, to: T0 / 1000 + 1, resolution: "raw" });
    expect(hist.points.map((p) => p.value)).toEqual([1, 2, 3]);
    expect(r.totals().events).toBe(3);
    const stable = w.db.query("SELECT stable_id FROM entities").all();
    expect(stable).toEqual([{ stable_id: "sensor.old" }]);
    r.close();
    w.close();
  });
});

describe("entity postings", () => {
  type Op =
    | { kind: "write"; events: { entity: number; offsetS: number }[] }
    | { kind: "index"; max: number }
    | { kind: "expire"; beforeS: number };
  const ops = fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constant("write" as const),
        events: fc.array(
          fc.record({ entity: fc.integer({ min: 0, max: 2 }), offsetS: fc.integer({ min: 0, max: 500 }) }),
          { maxLength: 12 },
        ),
      }),
      fc.record({ kind: fc.constant("index" as const), max: fc.integer({ min: 1, max: 15 }) }),
      fc.record({ kind: fc.constant("expire" as const), beforeS: fc.integer({ min: 0, max: 500 }) }),
    ),
    { maxLength: 16 },
  );

  test("one entity's rows read the same whether bulk-indexed, in the unindexed tail, or written late", () => {
    fc.assert(
      fc.property(ops, (script: Op[]) => {
        const dir = tempDir();
        const w = openStoreWriter(dir, { dictionaryCache: 1000 });
        const m = maintenanceOf(w);
        const r = openStoreReader(dir);
        const model = [new Set<number>(), new Set<number>(), new Set<number>()];
        const expire = w.db.prepare("DELETE FROM raw_events WHERE id < ((CAST(? AS INTEGER) - ?) << 16)");
        try {
          for (const op of script) {
            if (op.kind === "write") {
              w.writeEvents(op.events.map((x) => ev(`sensor.e${x.entity}`, "1", T0 + x.offsetS * 1e6)));
              for (const x of op.events) model[x.entity].add(x.offsetS);
            } else if (op.kind === "index") m.indexStep(op.max);
            else {
              expire.run(T0 + op.beforeS * 1e6, w.baseUs);
              for (const set of model) for (const t of [...set]) if (t < op.beforeS) set.delete(t);
            }
            for (let e = 0; e < 3; e++) {
              const points = r.history(`sensor.e${e}`, {
                from: T0 / 1000,
                to: T0 / 1000 + 501_000,
                resolution: "raw",
              }).points;
              expect(points.map((p) => Math.round((p.t * 1000 - T0) / 1e6))).toEqual(
                [...model[e]].sort((a, b) => a - b),
              );
            }
            // Newest first, a page at a time (two entities merged, and one alone), every row once.
            for (const names of [["sensor.e0", "sensor.e1"], ["sensor.e2"]]) {
              const seen: string[] = [];
              let cursor: string | undefined;
              do {
                const page = r.events({ limit: 2, entityIds: names, cursor });
                for (const item of page.items)
                  seen.push(`${item.entity_id}@${Math.round((item.ts * 1000 - T0) / 1e6)}`);
                cursor = page.nextCursor ?? undefined;
              } while (cursor);
              const key = (name: string) =>
                (w.db.query("SELECT e FROM entity_names WHERE name = ?").get(name) as { e: number } | null)
                  ?.e ?? 0;
              const expected = names
                .flatMap((name) => [...model[Number(name.slice(-1))]].map((t) => ({ name, t })))
                .sort((x, y) => y.t - x.t || key(y.name) - key(x.name))
                .map((x) => `${x.name}@${x.t}`);
              expect(seen).toEqual(expected);
            }
            // Postings never overlap, and hold every row up to indexed_to exactly once.
            const postings = w.db.query("SELECT e, lo, hi, ts FROM entity_postings ORDER BY e, hi").all() as {
              e: number;
              lo: number;
              hi: number;
              ts: Uint8Array | null;
            }[];
            const indexed = new Set<string>();
            for (const [i, p] of postings.entries()) {
              const ts: number[] = [];
              decodePosting(p.lo, p.ts, ts);
              expect(ts[ts.length - 1]).toBe(p.hi);
              if (i > 0 && postings[i - 1].e === p.e) expect(postings[i - 1].hi).toBeLessThan(p.lo);
              for (const t of ts) indexed.add(`${p.e}:${t}`);
            }
            const missing = (
              w.db
                .query(
                  `SELECT id >> 16 AS t, id & 65535 AS e FROM raw_events
                   WHERE id <= (SELECT value FROM meta WHERE key = 'indexed_to')`,
                )
                .all() as { t: number; e: number }[]
            ).filter((row) => !indexed.has(`${row.e}:${row.t}`));
            expect(missing).toEqual([]);
          }
        } finally {
          r.close();
          w.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});

type Gen = { entity: number; offsetS: number; numeric: boolean; value: number; text: string };
const genEvents = fc.array(
  fc.record({
    entity: fc.integer({ min: 0, max: 3 }),
    offsetS: fc.integer({ min: 0, max: 3 * 86400 }),
    numeric: fc.boolean(),
    value: fc.integer({ min: -1000, max: 1000 }).map((n) => n / 4),
    text: fc.constantFrom("on", "off", "unavailable"),
  }),
  { maxLength: 300 },
);

/** The tiers as HA's statistics define them, computed directly from all events sorted by time. */
function referenceTiers(events: StateChange[], size: number) {
  type Ref = {
    n: number;
    sum: number;
    min: number;
    max: number;
    tn: number;
    last: string | null;
    lastUs: number;
    tw: number;
    tws: number;
    growth: number;
    onS: number;
    ts: number;
  };
  const out = new Map<string, Ref>();
  const at = (id: string, us: number) => {
    const t = Math.floor(us / 1e6 / size) * size;
    const key = `${id}|${t}`;
    let r = out.get(key) as Ref;
    if (!r) {
      const sample = { n: 0, sum: 0, min: Infinity, max: -Infinity, tn: 0, last: null, lastUs: -1 };
      r = { ...sample, tw: 0, tws: 0, growth: 0, onS: 0, ts: 0 };
      out.set(key, r);
    }
    return r;
  };
  const num = (e: StateChange) => (Number.isFinite(Number(e.state)) ? Number(e.state) : null);
  const byEntity = Map.groupBy(events, (e) => e.entity_id);
  for (const [id, list] of byEntity) {
    list.sort((a, b) => a.last_updated - b.last_updated);
    list.forEach((e, i) => {
      const v = num(e);
      const r = at(id, e.last_updated);
      const prev = i > 0 ? list[i - 1] : null;
      if (v !== null) {
        r.n++;
        r.sum += v;
        r.min = Math.min(r.min, v);
        r.max = Math.max(r.max, v);
        const pv = prev ? num(prev) : null;
        if (pv !== null && e.attributes.includes("total_increasing")) r.growth += v < 0.9 * pv ? v : v - pv;
      } else {
        r.tn++;
        if (e.last_updated > r.lastUs) [r.lastUs, r.last] = [e.last_updated, e.state];
      }
      const next = list[i + 1];
      if (!next) return;
      // What e held from its own time to the next event, split at bucket edges.
      for (let from = e.last_updated; from < next.last_updated; ) {
        const edge = (Math.floor(from / 1e6 / size) + 1) * size * 1e6;
        const to = Math.min(edge, next.last_updated);
        const b = at(id, from);
        const secs = (to - from) / 1e6;
        if (v !== null) {
          b.tw += v * secs;
          b.tws += secs;
          b.min = Math.min(b.min, v);
          b.max = Math.max(b.max, v);
        } else {
          b.ts += secs;
          if (e.state === "on") b.onS += secs;
        }
        from = to;
      }
    });
  }
  return out;
}

describe("store rollups", () => {
  test("hourly and daily tiers equal HA-style statistics computed from raw, whatever the chunking and order", () => {
    fc.assert(
      fc.property(genEvents, fc.integer({ min: 1, max: 50 }), fc.boolean(), (gens: Gen[], chunk, split) => {
        const dir = mkdtempSync(join(tmpdir(), "homeiq-rollup-"));
        try {
          const w = openStoreWriter(dir, { dictionaryCache: 1000 });
          const m = maintenanceOf(w, { rollupChunk: chunk });
          const now = T0 / 1000 + 4 * 86_400_000;
          // Entity e3 is a meter (state_class total_increasing): its growth is checked too.
          const events = gens.map((g, i) =>
            ev(`sensor.e${g.entity}`, g.numeric ? String(g.value) : g.text, T0 + g.offsetS * 1e6 + i, {
              attributes:
                g.entity === 3 ? '{"state_class":"total_increasing"}' : '{"unit_of_measurement":"°C"}',
            }),
          );
          // Insert in two parts with rollup steps between, as ingest and maintenance interleave; the
          // second part lands behind what was rolled up (a backfill) when `split` picks the later half first.
          const half = Math.floor(events.length / 2);
          const [first, second] = split
            ? [events.slice(half), events.slice(0, half)]
            : [events.slice(0, half), events.slice(half)];
          w.writeEvents(first);
          m.rollupStep(now);
          w.writeEvents(second);
          while (m.rollupStep(now) > 0);
          for (const [tier, size] of [
            ["hourly", 3600],
            ["daily", 86400],
          ] as const) {
            const expected = referenceTiers(events, size);
            const rows = w.db
              .query(`SELECT en.entity_id AS id, r.t, r.n, r.sum, r.min, r.max, r.tn, st.state AS last,
                        r.tw, r.tws, r.growth, r.on_s AS onS, r.ts
                      FROM ${tier} r JOIN entities en ON en.e = r.e LEFT JOIN states st ON st.s = r.last_s`)
              .all() as {
              id: string;
              t: number;
              n: number;
              sum: number;
              min: number | null;
              max: number | null;
              tn: number;
              last: string | null;
              tw: number;
              tws: number;
              growth: number;
              onS: number;
              ts: number;
            }[];
            expect(rows.map((r) => `${r.id}|${r.t}`).sort()).toEqual([...expected.keys()].sort());
            for (const row of rows) {
              const x = expected.get(`${row.id}|${row.t}`)!;
              expect([row.n, row.tn, row.last]).toEqual([x.n, x.tn, x.last]);
              expect([row.min, row.max]).toEqual(x.min <= x.max ? [x.min, x.max] : [null, null]);
              for (const k of ["sum", "tw", "tws", "growth", "onS", "ts"] as const)
                expect(Math.abs(row[k] - x[k])).toBeLessThan(1e-6 * Math.max(1, Math.abs(x[k])));
            }
          }
          w.close();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });

  test("a value that held for 59 minutes outweighs one that held for a second; on/off is worth its time", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const m = maintenanceOf(w);
    const hour = Math.floor(T0 / 3_600_000_000) * 3_600_000_000;
    w.writeEvents([
      ev("sensor.t", "10", hour),
      ev("sensor.t", "100", hour + 59 * 60e6),
      ev("sensor.t", "10", hour + 59 * 60e6 + 1e6),
      ev("switch.s", "on", hour),
      ev("switch.s", "off", hour + 15 * 60e6),
      ev("sensor.t", "10", hour + 3_600e6), // closes the first hour's intervals
      ev("switch.s", "off", hour + 3_600e6),
    ]);
    while (m.rollupStep(T0 / 1000) > 0);
    const r = openStoreReader(dir);
    const from = hour / 1000;
    const [t] = r.history("sensor.t", { from, to: from + 3_600_000 - 1, resolution: "hourly" }).points;
    // A sample mean would say (10 + 100 + 10) / 3 = 40.
    expect(t.value).toBeCloseTo((10 * 3540 + 100 * 1 + 10 * 59) / 3600, 9);
    expect([t.min, t.max, t.count]).toEqual([10, 100, 3]);
    const [s] = r.history("switch.s", { from, to: from + 3_600_000 - 1, resolution: "hourly" }).points;
    expect(s.onShare).toBeCloseTo(0.25, 9);
    r.close();
    w.close();
  });

  test("a meter's growth survives a reset, as HA's statistics sum does", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const m = maintenanceOf(w);
    const hour = Math.floor(T0 / 3_600_000_000) * 3_600_000_000;
    const meter = (v: string, us: number) =>
      ev("sensor.energy", v, us, {
        attributes: '{"state_class":"total_increasing","unit_of_measurement":"kWh"}',
      });
    // 100 -> 105 (+5), reset to 2 (+2: counted from 0), 2 -> 4 (+2).
    w.writeEvents([
      meter("100", hour),
      meter("105", hour + 60e6),
      meter("2", hour + 120e6),
      meter("4", hour + 180e6),
    ]);
    while (m.rollupStep(T0 / 1000) > 0);
    const r = openStoreReader(dir);
    const [p] = r.history("sensor.energy", {
      from: hour / 1000,
      to: hour / 1000 + 3_599_999,
      resolution: "hourly",
    }).points;
    expect(p.growth).toBe(9);
    r.close();
    w.close();
  });

  test("retention drops raw events past rawDays only after they are rolled up", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    const m = maintenanceOf(w, { rawDays: 1 });
    const now = T0 / 1000 + 3 * 86_400_000;
    w.writeEvents([
      ev("sensor.a", "1", T0),
      ev("sensor.a", "2", T0 + 1.5 * 86_400e6),
      ev("sensor.a", "3", T0 + 3 * 86_400e6 - 1),
    ]);
    expect(m.retentionStep(now).expired).toBe(0); // not rolled yet: kept
    while (m.rollupStep() > 0);
    const step = m.retentionStep(now);
    expect(step.expired).toBe(2);
    expect(step.journalTrimmed).toBe(0); // events in time order are never journaled
    w.writeEvents([ev("sensor.a", "4", T0 + 3 * 86_400e6)]);
    expect(w.db.query("SELECT seq FROM journal ORDER BY seq").all()).toEqual([]);
    expect(w.rawCount).toBe(2);
    const r = openStoreReader(dir);
    expect(r.totals().events).toBe(2);
    // Daily means are time-weighted: 1 all day, then 1 and 2 half a day each, then 2 (3 came 1 µs before
    // the day's end; its own day's value waits for the next sample).
    const daily = r.history("sensor.a", { from: T0 / 1000, to: now, resolution: "daily" }).points;
    expect(daily.map((p) => p.value)).toEqual([1, 1.5, expect.closeTo(2, 6)]);
    expect(daily.map((p) => p.count)).toEqual([1, 1, 1]);
    r.close();
    w.close();
  });

  test("an event behind the newest is journaled, rolled up exactly once, and the journal trimmed behind it", () => {
    const w = openStoreWriter(tempDir(), { dictionaryCache: 1000 });
    const m = maintenanceOf(w);
    w.writeEvents([ev("sensor.a", "1", T0), ev("sensor.a", "2", T0 + 2e6)]);
    expect(m.rollupStep()).toBe(2);
    expect(w.db.query("SELECT count(*) AS n FROM journal").get()).toEqual({ n: 0 });
    // Behind the newest id (a backfill): the rollup has passed their ids, so they must come from the journal.
    w.writeEvents([ev("sensor.a", "3", T0 + 1e6), ev("sensor.b", "7", T0 + 1e6)]);
    expect(w.db.query("SELECT seq FROM journal ORDER BY seq").all()).toEqual([{ seq: 1 }, { seq: 2 }]);
    expect(m.caughtUp()).toBe(false);
    expect(m.rollupStep()).toBe(2);
    expect(m.rollupStep()).toBe(0);
    expect(m.caughtUp()).toBe(true);
    const hour = Math.floor(T0 / 3_600_000_000) * 3600;
    expect(w.db.query("SELECT e, n, sum FROM hourly WHERE t = ? ORDER BY e").all(hour)).toEqual([
      { e: 1, n: 3, sum: 6 },
      { e: 2, n: 1, sum: 7 },
    ]);
    expect(m.retentionStep(T0 / 1000).journalTrimmed).toBe(1); // the newest journal row stays
    w.close();
  });

  test("over store.maxBytes, the oldest rolled-up raw events go first, then the oldest hourly buckets", () => {
    const w = openStoreWriter(tempDir(), { dictionaryCache: 1000 });
    const m = maintenanceOf(w, { maxBytes: 1, rollupChunk: 2 });
    const now = T0 / 1000 + 86_400_000;
    w.writeEvents([
      ev("sensor.a", "1", T0),
      ev("sensor.a", "2", T0 + 3_600e6),
      ev("sensor.a", "3", T0 + 7_200e6),
    ]);
    expect(m.retentionStep(now).evicted).toBe(0); // nothing rolled up yet: nothing may go
    while (m.rollupStep() > 0);
    expect(m.retentionStep(now).evicted).toBe(2);
    expect(w.db.query("SELECT count(*) AS n FROM events").get()).toEqual({ n: 1 });
    expect(m.retentionStep(now).evicted).toBe(1);
    expect(m.retentionStep(now).evicted).toBe(1); // raw empty: the oldest hourly bucket
    expect(w.db.query("SELECT count(*) AS n FROM hourly").get()).toEqual({ n: 2 });
    w.close();
  });
});

describe("store retention with a sink", () => {
  test("late rows behind the sink's id position are kept until its journal seq passes them", () => {
    const w = openStoreWriter(tempDir(), { dictionaryCache: 1000 });
    w.writeEvents([ev("sensor.a", "1", T0), ev("sensor.a", "2", T0 + 2e6)]);
    // The sink has passed both rows by id and no journal row yet.
    let sink = { t: T0 + 2e6 - w.baseUs, e: 1, seq: 0 };
    const m = new StoreMaintenance(
      w,
      {
        rawDays: 7,
        hourlyDays: 30,
        dailyDays: 90,
        maxBytes: 1,
        rollupChunk: 1000,
        unexportedHoldBytes: 1e12,
      },
      () => sink,
    );
    w.writeEvents([ev("sensor.a", "late", T0 + 1e6)]); // behind the newest: journaled as seq 1
    while (m.rollupStep() > 0);
    const now = T0 / 1000;
    expect(m.retentionStep(now)).toMatchObject({ evicted: 2, droppedUnexported: 0 });
    expect(m.retentionStep(now)).toMatchObject({ evicted: 0, holdingUnexported: true });
    expect(w.db.query("SELECT count(*) AS n FROM events").get()).toEqual({ n: 1 });
    sink = { ...sink, seq: 1 };
    expect(m.retentionStep(now)).toMatchObject({ evicted: 1, droppedUnexported: 0 });
    w.close();
  });
});

describe("store reader edges", () => {
  test("a range far beyond what event ids hold is clamped, not overflowed", () => {
    const dataDir = tempDir();
    const writer = openStoreWriter(dataDir, { dictionaryCache: 100 });
    const us = Date.now() * 1000;
    writer.writeEvents([
      {
        entity_id: "light.a",
        state: "on",
        attributes: "{}",
        last_changed: us,
        last_updated: us,
        context_id: null,
        context_parent_id: null,
        context_user_id: null,
      },
    ]);
    writer.writeReadings("weather", [
      { metric: "temperature", ts: 1000, value: 3 },
      { metric: "humidity", ts: 1000, value: 80 },
      { metric: "temperature", ts: 2000, value: 4 },
    ]);
    writer.close();
    const reader = openStoreReader(dataDir);
    expect(reader.events({ from: 0, to: 8.64e15, limit: 10 }).items.map((e) => e.entity_id)).toEqual([
      "light.a",
    ]);
    expect(
      reader.enrichmentHistory("weather", { metric: "temperature", from: 0, to: 5000, limit: 10 }).points,
    ).toEqual([
      { metric: "temperature", ts: 1000, value: 3 },
      { metric: "temperature", ts: 2000, value: 4 },
    ]);
    expect(reader.enrichmentHistory("weather", { from: 0, to: 1500, limit: 10 }).points).toHaveLength(2);
    reader.close();
  });
});

describe("history paging", () => {
  /** Follows nextFrom from `from` until the range is done; every page within `limit` (+1000 in one ms). */
  const allPages = (
    r: ReturnType<typeof openStoreReader>,
    entity: string,
    q: { from: number; to: number; resolution: "raw" | "hourly"; limit: number },
  ) => {
    const ts: number[] = [];
    let from = q.from;
    for (let pages = 0; pages < 10_000; pages++) {
      const page = r.history(entity, { ...q, from });
      ts.push(...page.points.map((p) => p.t));
      if (page.nextFrom === null) return { ts, pages: pages + 1 };
      expect(page.nextFrom).toBeGreaterThan(from);
      from = page.nextFrom;
    }
    throw new Error("history paging did not end");
  };

  test("raw history holds at most `limit` points and nextFrom reaches every point exactly once", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 20_000 }), { minLength: 0, maxLength: 300 }),
        fc.integer({ min: 1, max: 40 }),
        (offsetsUs, limit) => {
          const dir = tempDir();
          const w = openStoreWriter(dir, { dictionaryCache: 1000 });
          // Several points share a millisecond (µs offsets), the case a page must not cut through.
          w.writeEvents(offsetsUs.map((o, i) => ev("sensor.fast", String(i), T0 + o)));
          const r = openStoreReader(dir);
          const from = T0 / 1000;
          const to = T0 / 1000 + 21;
          const whole = r.history("sensor.fast", { from, to, resolution: "raw" });
          const paged = allPages(r, "sensor.fast", { from, to, resolution: "raw", limit });
          const first = r.history("sensor.fast", { from, to, resolution: "raw", limit });
          r.close();
          w.close();
          expect(whole.nextFrom).toBeNull();
          expect(paged.ts).toEqual(whole.points.map((p) => p.t));
          expect(first.points.length).toBeLessThanOrEqual(limit + 1000);
          expect(first.nextFrom === null).toBe(whole.points.length <= limit);
          if (whole.points.length > limit && first.points.length > 0) {
            // A page holds at most `limit` unless one millisecond alone holds more.
            const ms = new Set(first.points.map((p) => Math.floor(p.t)));
            expect(first.points.length <= limit || ms.size === 1).toBe(true);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  test("the hourly tier pages the same way, bucket by bucket", () => {
    const dir = tempDir();
    const w = openStoreWriter(dir, { dictionaryCache: 1000 });
    w.writeEvents(Array.from({ length: 30 }, (_, h) => ev("sensor.a", String(h), T0 + h * 3600e6)));
    const m = maintenanceOf(w);
    while (m.rollupStep() > 0);
    const r = openStoreReader(dir);
    const q = { from: T0 / 1000, to: T0 / 1000 + 30 * 3600_000, resolution: "hourly" as const };
    const first = r.history("sensor.a", { ...q, limit: 7 });
    expect([first.points.length, first.nextFrom]).toEqual([7, T0 / 1000 + 7 * 3600_000]);
    expect(allPages(r, "sensor.a", { ...q, limit: 7 })).toEqual({
      ts: Array.from({ length: 30 }, (_, h) => T0 / 1000 + h * 3600_000),
      pages: 5,
    });
    r.close();
    w.close();
  });
});

describe("history tier choice", () => {
  test("auto reads raw for a day-long range on a young store, and hourly once raw has been pruned", () => {
    const dataDir = tempDir();
    const writer = openStoreWriter(dataDir, { dictionaryCache: 100 });
    const now = Date.now();
    const changes = Array.from({ length: 30 }, (_, i) => {
      const us = (now - 30 * 60_000 + i * 60_000) * 1000;
      return {
        entity_id: "sensor.t",
        state: String(20 + i),
        attributes: "{}",
        last_changed: us,
        last_updated: us,
        context_id: null,
        context_parent_id: null,
        context_user_id: null,
      };
    });
    writer.writeEvents(changes);
    writer.close();
    const reader = openStoreReader(dataDir);
    const day = reader.history("sensor.t", { from: now - 86_400_000, to: now + 1, resolution: "auto" });
    expect(day.tier).toBe("raw");
    expect(day.points).toHaveLength(30);
    // Retention pruned older raw events after rolling them up: the hourly tier reaches further back.
    const db = new Database(join(dataDir, "events.db"));
    const e = (db.query("SELECT e FROM entities WHERE entity_id = 'sensor.t'").get() as { e: number }).e;
    db.run("INSERT INTO hourly (e, t, n, sum, min, max) VALUES (?, ?, 60, 1200, 19, 21)", [
      e,
      Math.floor((now - 20 * 3_600_000) / 3_600_000) * 3600,
    ]);
    db.close();
    expect(reader.history("sensor.t", { from: now - 86_400_000, to: now + 1, resolution: "auto" }).tier).toBe(
      "hourly",
    );
    reader.close();
  });
});
