import { heapSize } from "bun:jsc";
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { usFromTimestamp } from "../runtime/events/cpython-time.ts";
import { waitFor } from "../runtime/kernel/clock.ts";
import { changeKey, EmittedHistory } from "./history.ts";
import { authed, historyAsk, isoOf, simulators } from "./test-client.ts";

const sim = simulators();

describe("simulated HA's recorder and history", () => {
  test("history_during_period answers in HA's compressed format, only the asked period and entities", async () => {
    const s = await sim({ entities: 10, recorderCommitIntervalMs: 0 });
    s.emit(100);
    const keys = s.emittedKeys();
    const [id, lu] = keys[50].split("@");
    const c = await authed(s);
    // The start bound is exclusive (as HA's): one µs before the row keeps it in the answer.
    const start = isoOf(Number(lu) - 1);
    c.send({
      id: 1,
      type: "history/history_during_period",
      start_time: start,
      entity_ids: [id],
      include_start_time_state: false,
      significant_changes_only: false,
    });
    const r = (await c.next((m) => m.id === 1)) as {
      result: Record<string, { s: string; a: unknown; lu: number }[]>;
    };
    const expected = keys.slice(50).filter((k) => k.startsWith(`${id}@`));
    expect(Object.keys(r.result)).toEqual([id]);
    expect(r.result[id].map((row) => `${id}@${usFromTimestamp(row.lu)}`)).toEqual(expected);
    expect(typeof r.result[id][0].s).toBe("string");
    expect(typeof r.result[id][0].a).toBe("object");
    c.send({ id: 2, type: "history/history_during_period", start_time: start });
    expect(await c.next((m) => m.id === 2)).toMatchObject({
      success: false,
      error: { code: "invalid_format" },
    });
    c.ws.close();
  });

  test("history excludes both bounds, as HA's query does; the state at the start is the newest row before it", async () => {
    // Exact-µs stamps, so a row can sit exactly on a bound (a raw double almost never does).
    const s = await sim({ entities: 4, recorderCommitIntervalMs: 0, rawTimestamps: false });
    s.emit(40);
    const keys = s.emittedKeys();
    const ids = keys.slice(0, 4).map((k) => k.split("@")[0]);
    const usOf = (k: string) => Number(k.split("@")[1]);
    const c = await authed(s);
    const ask = async (id: number, includeStart: boolean) => {
      c.send({
        id,
        type: "history/history_during_period",
        start_time: isoOf(usOf(keys[10])),
        end_time: isoOf(usOf(keys[30])),
        entity_ids: ids,
        include_start_time_state: includeStart,
        significant_changes_only: false,
      });
      const r = (await c.next((m) => m.id === id)) as { result: Record<string, { lu: number }[]> };
      return Object.entries(r.result).flatMap(([id, rows]) =>
        rows.map((row) => `${id}@${usFromTimestamp(row.lu)}`),
      );
    };
    expect((await ask(1, false)).sort()).toEqual(keys.slice(11, 30).sort());
    // With the start state: each entity's newest row before the start, stamped with the start itself.
    const before = new Map(keys.slice(0, 10).map((k) => [k.split("@")[0], k] as const));
    const starts = [...before.keys()].map((id) => `${id}@${usOf(keys[10])}`);
    expect((await ask(2, true)).sort()).toEqual([...starts, ...keys.slice(11, 30)].sort());
    c.ws.close();
  });

  test("history sees only what the recorder has committed: rows appear in batches at each commit interval", async () => {
    const s = await sim({ entities: 5, recorderCommitIntervalMs: 1000 });
    const c = await authed(s);
    const ids = s.emittedKeys().map((k) => k.split("@")[0]);
    let next = 0;
    const ask = async () => {
      const id = ++next;
      c.send({
        id,
        type: "history/history_during_period",
        start_time: "2000-01-01T00:00:00+00:00",
        entity_ids: ids,
        include_start_time_state: false,
        significant_changes_only: false,
      });
      const r = (await c.next((m) => m.id === id)) as { result: Record<string, { lu: number }[]> };
      return Object.entries(r.result)
        .flatMap(([id, rows]) => rows.map((row) => `${id}@${usFromTimestamp(row.lu)}`))
        .sort();
    };
    // The initial states become visible at the first commit; polling returns just after it.
    await waitFor(() => s.stats().historyCommitted === 5, { timeoutMs: 3000, what: "the first commit" });
    const initial = s.emittedKeys();
    expect(await ask()).toEqual([...initial].sort());
    s.emit(10);
    // Well within the interval: the recorder has not committed them, so history does not return them.
    expect(await ask()).toEqual([...initial].sort());
    s.emit(10);
    expect(s.stats()).toMatchObject({ historySize: 25, historyCommitted: 5 });
    // Both batches land in the same commit: the count jumps from 5 to 25 at once.
    const seen = await waitFor(
      () => {
        const n = s.stats().historyCommitted;
        return n > 5 ? n : 0;
      },
      { timeoutMs: 3000, what: "the next commit" },
    );
    expect(seen).toBe(25);
    expect(await ask()).toEqual(s.emittedKeys().sort());
    c.ws.close();
  });

  test("history returns what HA's recorder stored: no supported_features, attribution or unrecorded attributes, no context", async () => {
    const s = await sim({ entities: 20, recorderCommitIntervalMs: 0 });
    s.emit(200);
    const c = await authed(s);
    c.send({ id: 1, type: "get_states" });
    type S = { entity_id: string; attributes: Record<string, unknown> };
    const live = new Map(
      ((await c.next((m) => m.id === 1)) as { result: S[] }).result.map((x) => [x.entity_id, x.attributes]),
    );
    const ids = ["weather.home", ...[...live.keys()].filter((id) => /^(climate|light)\./.test(id))];
    expect(ids.length).toBeGreaterThan(2);
    c.send({ ...historyAsk(2, ids), include_start_time_state: true });
    const r = (await c.next((m) => m.id === 2)) as { result: Record<string, Record<string, unknown>[]> };
    const dropped = (id: string) =>
      Object.keys(live.get(id) ?? {}).filter(
        (k) => !Object.keys(r.result[id].at(-1)?.a as object).includes(k),
      );
    expect(live.get("weather.home")).toMatchObject({
      attribution: expect.any(String),
      supported_features: 3,
    });
    expect(dropped("weather.home").sort()).toEqual(["attribution", "supported_features"]);
    const climate = ids.find((id) => id.startsWith("climate."))!;
    expect(dropped(climate).sort()).toEqual(["hvac_modes", "max_temp", "min_temp", "supported_features"]);
    const light = ids.find((id) => id.startsWith("light."))!;
    expect(dropped(light).sort()).toEqual([
      "brightness",
      "color_mode",
      "supported_color_modes",
      "supported_features",
    ]);
    // Rows carry only s, a, lu and lc: the recorder's compressed rows have no context.
    const keys = new Set(Object.values(r.result).flatMap((rows) => rows.flatMap((row) => Object.keys(row))));
    expect([...keys].sort()).toEqual(["a", "lc", "lu", "s"]);

    const same = await sim({ entities: 20, recorderCommitIntervalMs: 0, recorderExcludesAttributes: false });
    const d = await authed(same);
    d.send(historyAsk(1, ["weather.home"]));
    const w = (await d.next((m) => m.id === 1)) as { result: Record<string, { a: unknown }[]> };
    expect(w.result["weather.home"][0].a).toMatchObject({ supported_features: 3 });
    c.ws.close();
    d.ws.close();
  });

  test("attributes over 16 KiB are recorded as {}, and a removed entity comes back from history as s: null", async () => {
    const s = await sim({ entities: 10, recorderCommitIntervalMs: 0 });
    const c = await authed(s);
    c.send({ id: 1, type: "subscribe_entities" });
    await c.next((m) => m.id === 1 && m.type === "event");
    const id = "sensor.living_room_multisensor_7_1_temperature";
    expect(s.fault("big-attributes", `${id}=17000`)).toEqual({ entity_id: id, bytes: 17000 });
    expect(s.fault("remove", id)).toEqual({ removed: id });
    // Live: the attribute-only diff carries the big attribute, then the removal.
    const live = await waitFor(
      () => {
        const events = c.messages.filter((m) => m.id === 1 && m.type === "event").slice(1);
        return events.length === 2 ? events.map((m) => m.event as Record<string, unknown>) : null;
      },
      { timeoutMs: 5000, what: "the diff and the removal" },
    );
    const diff = (live[0].c as Record<string, { "+": { a: { raw: string } } }>)[id];
    expect(diff["+"].a.raw.length).toBe(17000);
    expect(live[1]).toEqual({ r: [id] });
    c.send(historyAsk(2, [id]));
    const rows = ((await c.next((m) => m.id === 2)) as { result: Record<string, Record<string, unknown>[]> })
      .result[id];
    expect(rows.at(-2)?.a).toEqual({});
    expect(rows.at(-1)).toEqual({ s: null, a: {}, lu: expect.any(Number) });
    expect(rows.at(-1)?.lu as number).toBeGreaterThan(rows.at(-2)?.lu as number);
    // A removal is not a state change a client stores.
    expect(s.emittedKeys().filter((k) => k.startsWith(`${id}@`)).length).toBe(rows.length - 1);
    c.ws.close();
  });

  test("a clock-step fault moves HA's wall clock back: last_updated goes backwards, history still orders by it", async () => {
    const s = await sim({ entities: 5, recorderCommitIntervalMs: 0 });
    s.emit(50);
    const before = s.emittedKeys();
    const newest = Math.max(...before.map((k) => Number(k.split("@")[1])));
    expect(s.fault("clock-step", -60_000)).toEqual({ steppedMs: -60_000, offsetMs: -60_000 });
    s.emit(50);
    const after = s.emittedKeys().slice(before.length);
    const stepped = after.map((k) => Number(k.split("@")[1]));
    expect(Math.max(...stepped)).toBeLessThan(newest - 59_000_000);
    const c = await authed(s);
    const ids = [...new Set(before.map((k) => k.split("@")[0]))];
    c.send(historyAsk(1, ids));
    const r = (await c.next((m) => m.id === 1)) as { result: Record<string, { lu: number }[]> };
    // Every change is there, each entity's rows in last_updated order (the stepped ones first).
    const got = Object.entries(r.result).flatMap(([id, rows]) =>
      rows.map((row) => `${id}@${usFromTimestamp(row.lu)}`),
    );
    expect(got.sort()).toEqual(s.emittedKeys().sort());
    for (const rows of Object.values(r.result))
      for (let i = 1; i < rows.length; i++) expect(rows[i].lu).toBeGreaterThan(rows[i - 1].lu);
    c.ws.close();
  });
});

describe("EmittedHistory", () => {
  test("a large capacity costs nothing until rows arrive (the demo's 2M rows were ~80 MB at start)", () => {
    Bun.gc(true);
    const before = heapSize();
    const rings = [new EmittedHistory(2_000_000), new EmittedHistory(2_000_000)];
    Bun.gc(true);
    expect(heapSize() - before).toBeLessThan(4 * 1024 * 1024);
    expect(rings.map((r) => r.size)).toEqual([0, 0]);
  });

  test("keeps the last `capacity` rows in order as it grows and wraps (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 0, max: 30_000 }), (capacity, n) => {
        const h = new EmittedHistory(capacity);
        for (let i = 0; i < n; i++)
          h.push(`sensor.s${i % 7}`, String(i), "{}", (1000 + i) / 1e6, 1000 + i, 1000 + i);
        const kept = Math.min(n, capacity);
        expect([h.size, h.overwritten]).toEqual([kept, n - kept]);
        const keys = h.keys();
        expect(keys[0] as string | undefined).toEqual(
          kept ? changeKey(`sensor.s${(n - kept) % 7}`, 1000 + n - kept) : undefined,
        );
        expect(keys.at(-1)).toEqual(kept ? changeKey(`sensor.s${(n - 1) % 7}`, 1000 + n - 1) : undefined);
        // The time-ordered search still works across the grown columns.
        const period = JSON.parse(
          h.renderPeriod(1000 + n - 1, 1000 + n, null, {
            noAttributes: true,
            significantOnly: false,
            minimal: false,
            includeStart: false,
            startExclusive: false,
          }),
        );
        expect(Object.values(period).flat().length).toBe(n > 0 ? 1 : 0);
      }),
      { numRuns: 40 },
    );
  });
});
