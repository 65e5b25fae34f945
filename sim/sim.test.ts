import { afterEach, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import type { StateChange } from "../actors/batcher/messages.ts";
import { EntityStates } from "../actors/connection/entities.ts";
import { stateToChange } from "../actors/connection/frames.ts";
import { waitFor } from "../runtime/clock.ts";
import { usFromTimestamp } from "../runtime/cpython-time.ts";
import { type Simulator, startSimulator } from "./server.ts";

let sims: Simulator[] = [];
afterEach(async () => {
  for (const s of sims) await s.stop();
  sims = [];
});

async function sim(opts: Parameters<typeof startSimulator>[0] = {}) {
  const s = await startSimulator({ rate: 0, token: "tok", ...opts });
  sims.push(s);
  return s;
}

/** A raw WebSocket client that records every message (arrays flattened) in order. */
async function client(url: string) {
  const ws = new WebSocket(url);
  const messages: Record<string, unknown>[] = [];
  const frames: string[] = [];
  ws.onmessage = (e) => {
    frames.push(String(e.data));
    const parsed = JSON.parse(String(e.data));
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) messages.push(m);
  };
  await new Promise((r) => (ws.onopen = r));
  const next = async (pred: (m: Record<string, unknown>) => boolean) =>
    waitFor(() => messages.find(pred), { timeoutMs: 5000, what: "a message" });
  const send = (m: unknown) => ws.send(JSON.stringify(m));
  return { ws, messages, frames, next, send };
}

/** A client frame as RFC 6455 wants it: text, final, masked (with a zero key, which is allowed). */
function clientFrame(text: string): Buffer {
  const body = Buffer.from(text);
  const head =
    body.length < 126
      ? Buffer.from([0x81, 0x80 | body.length])
      : Buffer.from([0x81, 0x80 | 126, body.length >> 8, body.length & 255]);
  return Buffer.concat([head, Buffer.alloc(4), body]);
}

/**
 * A WebSocket client over a raw TCP socket that can stop reading (`pause()`), as a stuck or overloaded
 * HA client does: the kernel's buffers fill, then the server's.
 */
async function rawClient(port: number, token: string) {
  const sock: Socket = connect(port, "127.0.0.1");
  await new Promise((r) => sock.once("connect", r));
  let text = "";
  let bytes = 0;
  let tail = Buffer.alloc(0);
  let ended = false;
  sock.on("data", (d: Buffer) => {
    bytes += d.length;
    if (text.length < 1_000_000) text += d.toString("latin1");
    tail = Buffer.concat([tail, d]).subarray(-16);
  });
  sock.on("close", () => {
    ended = true;
  });
  sock.write(
    "GET /api/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  );
  const seen = (s: string) => waitFor(() => text.includes(s), { timeoutMs: 5000, what: s });
  await seen("auth_required");
  sock.write(clientFrame(JSON.stringify({ type: "auth", access_token: token })));
  await seen("auth_ok");
  return { sock, seen, bytes: () => bytes, tail: () => tail, ended: () => ended };
}

/** HA's ISO text of a µs timestamp, as a client would send it. */
const isoOf = (us: number) =>
  new Date(Math.floor(us / 1000))
    .toISOString()
    .replace(/\.\d{3}Z$/, `.${String(us % 1e6).padStart(6, "0")}+00:00`);

/** A history request for every recorded row of `ids` (the client's parameters). */
const historyAsk = (id: number, ids: string[]) => ({
  id,
  type: "history/history_during_period",
  start_time: "2000-01-01T00:00:00+00:00",
  entity_ids: ids,
  include_start_time_state: false,
  significant_changes_only: false,
  minimal_response: false,
  no_attributes: false,
});

async function authed(s: Simulator) {
  const c = await client(s.url);
  await c.next((m) => m.type === "auth_required");
  c.send({ type: "auth", access_token: s.token });
  await c.next((m) => m.type === "auth_ok");
  return c;
}

describe("simulated Home Assistant", () => {
  test("speaks HA's auth handshake; a wrong token gets auth_invalid and the socket closes", async () => {
    const s = await sim();
    const c = await client(s.url);
    expect(await c.next((m) => m.type === "auth_required")).toEqual({
      type: "auth_required",
      ha_version: "2025.11.2",
    });
    const closed = new Promise<number>((r) => (c.ws.onclose = (e) => r(e.code)));
    c.send({ type: "auth", access_token: "nope" });
    expect(await c.next((m) => m.type === "auth_invalid")).toEqual({
      type: "auth_invalid",
      message: "Invalid access token or password",
    });
    expect(await closed).toBe(1000);
    expect(s.stats().authFailures).toBe(1);
  });

  test("answers commands with result frames, HA's error codes for reused ids and unknown commands, and pong", async () => {
    const s = await sim({ entities: 20 });
    const c = await authed(s);
    c.send({ id: 1, type: "get_states" });
    const states = (await c.next((m) => m.id === 1)) as { success: boolean; result: { entity_id: string }[] };
    expect(states.success).toBe(true);
    expect(states.result.length).toBe(20);
    c.send({ id: 1, type: "ping" });
    expect(await c.next((m) => m.id === 1 && m.success === false)).toMatchObject({
      error: { code: "id_reuse", message: "Identifier values have to increase." },
    });
    expect(s.stats().idReuse).toBe(1);
    c.send({ id: 2, type: "nope/nope" });
    expect(await c.next((m) => m.id === 2)).toMatchObject({
      success: false,
      error: { code: "unknown_command" },
    });
    c.send({ id: 3, type: "ping" });
    expect(await c.next((m) => m.id === 3)).toEqual({ id: 3, type: "pong" });
    c.send({ id: 4, type: "get_config" });
    expect(await c.next((m) => m.id === 4)).toMatchObject({
      result: { latitude: 52.3731, time_zone: "Europe/Amsterdam" },
    });
    c.ws.close();
  });

  test("the same seed gives the same home; sensors carry units; last_updated strictly increases", async () => {
    const a = await sim({ entities: 300, seed: 7 });
    const b = await sim({ entities: 300, seed: 7 });
    const ca = await authed(a);
    const cb = await authed(b);
    ca.send({ id: 1, type: "get_states" });
    cb.send({ id: 1, type: "get_states" });
    type S = { entity_id: string; state: string; attributes: Record<string, unknown>; last_updated: string };
    const sa = ((await ca.next((m) => m.id === 1)) as { result: S[] }).result;
    const sb = ((await cb.next((m) => m.id === 1)) as { result: S[] }).result;
    expect(sa.map((x) => [x.entity_id, x.state])).toEqual(sb.map((x) => [x.entity_id, x.state]));
    const domains = new Set(sa.map((x) => x.entity_id.split(".")[0]));
    expect([...domains].sort()).toEqual([
      "binary_sensor",
      "climate",
      "light",
      "person",
      "sensor",
      "switch",
      "weather",
    ]);
    const units = new Set(sa.map((x) => x.attributes.unit_of_measurement).filter(Boolean));
    expect([...units].sort()).toEqual(["%", "W", "kWh", "°C"]);
    a.emit(2000);
    const keys = a.emittedKeys();
    const lus = keys.map((k) => Number(k.split("@")[1]));
    for (let i = 1; i < lus.length; i++) expect(lus[i]).toBeGreaterThan(lus[i - 1]);
    ca.ws.close();
    cb.ws.close();
  });

  test("subscribed clients get state_changed events in coalesced frames once they ask for it", async () => {
    const s = await sim({ entities: 10 });
    const c = await authed(s);
    c.send({ id: 1, type: "supported_features", features: { coalesce_messages: 1 } });
    c.send({ id: 2, type: "subscribe_events", event_type: "state_changed" });
    await c.next((m) => m.id === 2 && m.type === "result");
    s.emit(50);
    await waitFor(() => c.messages.filter((m) => m.type === "event").length === 50, { timeoutMs: 5000 });
    const ev = c.messages.find((m) => m.type === "event") as {
      id: number;
      event: {
        event_type: string;
        data: { entity_id: string; old_state: unknown; new_state: { last_updated: string } };
      };
    };
    expect(ev.id).toBe(2);
    expect(ev.event.event_type).toBe("state_changed");
    expect(ev.event.data.old_state).not.toBeNull();
    expect(ev.event.data.new_state.last_updated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect(c.frames.filter((f) => f.startsWith("[")).length).toBe(1);
    c.ws.close();
  });

  test("subscribe_entities: its snapshot and diffs describe exactly the states get_states and state_changed give", async () => {
    // Exact-µs stamps: the client's decoder keys floats with Math.round, which disagrees with CPython's
    // ISO text for raw doubles about 1 in 8 times (issue 23, h-conn switches it to usFromTimestamp).
    const s = await sim({ entities: 40, rawTimestamps: false });
    const c = await authed(s);
    c.send({ id: 1, type: "supported_features", features: { coalesce_messages: 1 } });
    c.send({ id: 2, type: "subscribe_events", event_type: "state_changed" });
    c.send({ id: 3, type: "get_states" });
    c.send({ id: 4, type: "subscribe_entities" });
    await c.next((m) => m.id === 4 && m.type === "event");
    s.emit(500);
    await waitFor(() => c.messages.filter((m) => m.id === 2 && m.type === "event").length === 500, {
      timeoutMs: 5000,
    });
    await waitFor(() => c.messages.filter((m) => m.id === 4 && m.type === "event").length === 501, {
      timeoutMs: 5000,
    });
    const full = (s: unknown) => {
      const r = stateToChange(s, "test");
      if (!r.ok) throw new Error(r.rejected.detail);
      return r.change;
    };
    const states = (c.messages.find((m) => m.id === 3) as { result: unknown[] }).result.map(full);
    const events = c.messages
      .filter((m) => m.id === 2 && m.type === "event")
      .map((m) => full((m.event as { data: { new_state: unknown } }).data.new_state));
    const entities = new EntityStates();
    const fromDiffs: StateChange[] = [];
    const rejected: unknown[] = [];
    for (const m of c.messages.filter((m) => m.id === 4 && m.type === "event"))
      entities.apply(m.event, fromDiffs, (r) => rejected.push(r));
    expect(rejected).toEqual([]);
    expect(fromDiffs.slice(0, 40)).toEqual(states);
    expect(fromDiffs.slice(40)).toEqual(events);
    // A diff is a fraction of a full event: what subscribe_entities is for.
    const sizeOf = (id: number) =>
      c.messages
        .filter((m) => m.id === id && m.type === "event")
        .reduce((n, m) => n + JSON.stringify(m).length, 0);
    expect(
      sizeOf(4) - JSON.stringify(c.messages.find((m) => m.id === 4 && m.type === "event")).length,
    ).toBeLessThan(sizeOf(2) / 4);
    c.ws.close();
  });

  test("as HA's writer: the subscribe_entities result and its snapshot share one array frame; events put the id last", async () => {
    const s = await sim({ entities: 3 });
    const c = await authed(s);
    c.send({ id: 1, type: "supported_features", features: { coalesce_messages: 1 } });
    await c.next((m) => m.id === 1);
    c.send({ id: 2, type: "subscribe_entities" });
    await c.next((m) => m.id === 2 && m.type === "event");
    const frame = c.frames[c.frames.length - 1];
    expect(
      frame.startsWith(
        '[{"id":2,"type":"result","success":true,"result":null},{"id":2,"type":"event","event":{"a":{',
      ),
    ).toBe(true);
    expect(JSON.parse(frame)).toHaveLength(2);
    // One change alone: unwrapped, HA's diff message with the id last.
    const before = c.frames.length;
    s.emit(1);
    await waitFor(() => c.frames.length === before + 1, { timeoutMs: 5000, what: "the diff" });
    expect(c.frames[before]).toMatch(/^\{"type":"event","event":\{"c":\{.*\},"id":2\}$/);
    // Several in one turn: one array of id-last messages.
    s.emit(3);
    await waitFor(() => c.frames.length === before + 2, { timeoutMs: 5000, what: "the coalesced diffs" });
    const diffs = JSON.parse(c.frames[before + 1]) as Record<string, unknown>[];
    expect(diffs.map((m) => Object.keys(m))).toEqual([
      ["type", "event", "id"],
      ["type", "event", "id"],
      ["type", "event", "id"],
    ]);
    c.ws.close();
  });

  test("coalesceMessages: false sends every message as its own frame even when the client asks", async () => {
    const s = await sim({ entities: 3, coalesceMessages: false });
    const c = await authed(s);
    c.send({ id: 1, type: "supported_features", features: { coalesce_messages: 1 } });
    c.send({ id: 2, type: "subscribe_entities" });
    await c.next((m) => m.id === 2 && m.type === "event");
    s.emit(3);
    await waitFor(() => c.messages.length === 2 + 1 + 2 + 3, { timeoutMs: 5000, what: "every message" });
    expect(c.frames.some((f) => f.startsWith("["))).toBe(false);
    expect(c.frames.length).toBe(c.messages.length);
    c.ws.close();
  });

  test("an HA without subscribe_entities answers it with unknown_command", async () => {
    const s = await sim({ entities: 5, subscribeEntities: false });
    const c = await authed(s);
    c.send({ id: 1, type: "subscribe_entities" });
    const m = (await c.next((m) => m.id === 1)) as { success: boolean; error: { code: string } };
    expect([m.success, m.error.code]).toEqual([false, "unknown_command"]);
    c.ws.close();
  });

  test("a client that stops reading is closed with 1000 at 4,096 queued messages; the home never waits for it", async () => {
    const s = await sim({ entities: 300, slowClientPeakMs: 60_000 });
    const c = await rawClient(s.port, s.token);
    c.sock.write(clientFrame(JSON.stringify({ id: 1, type: "subscribe_entities" })));
    await c.seen('"a":{');
    c.sock.pause();
    const t0 = performance.now();
    const sent0 = s.stats().sent;
    s.setRate(20_000);
    await waitFor(() => s.stats().slowClientsDropped === 1, {
      timeoutMs: 30_000,
      what: "the slow client's close",
    });
    const elapsed = (performance.now() - t0) / 1000;
    // The home kept its pace while the client lagged: no pause for it (at least half the asked rate on a busy box).
    expect(s.stats().sent - sent0).toBeGreaterThan(20_000 * elapsed * 0.5);
    expect(s.stats()).toMatchObject({ slowClientsDroppedPeak: 0, pendingMessagesMax: 4096 });
    s.setRate(0);
    c.sock.resume();
    await waitFor(() => c.ended(), { timeoutMs: 30_000, what: "the socket to close" });
    // The last frame on the wire is HA's close: opcode 8, code 1000, no reason.
    expect([...c.tail().subarray(-4)]).toEqual([0x88, 0x02, 0x03, 0xe8]);
  });

  test("a client more than 1,024 messages behind for slowClientPeakMs is closed by the peak rule", async () => {
    const s = await sim({ entities: 300, slowClientPeakMs: 300 });
    const c = await rawClient(s.port, s.token);
    c.sock.write(clientFrame(JSON.stringify({ id: 1, type: "subscribe_entities" })));
    await c.seen('"a":{');
    c.sock.pause();
    // Fill the kernel's and the socket's buffers until messages start to wait in HA's queue ...
    await waitFor(
      async () => {
        s.emit(200);
        await Bun.sleep(0);
        return s.stats().pendingMessages > 0;
      },
      { timeoutMs: 20_000, what: "messages to queue" },
    );
    // ... then hold the queue between 1,024 and 4,096: only the peak rule can close it.
    s.emit(1100);
    await waitFor(() => c.ended() || s.stats().slowClientsDropped > 0, {
      timeoutMs: 5000,
      what: "the close",
    });
    expect(s.stats()).toMatchObject({ slowClientsDropped: 1, slowClientsDroppedPeak: 1 });
    expect(s.stats().pendingMessagesMax).toBeLessThan(4096);
    c.sock.resume();
    await waitFor(() => c.ended(), { timeoutMs: 30_000, what: "the socket to close" });
    expect([...c.tail().subarray(-4)]).toEqual([0x88, 0x02, 0x03, 0xe8]);
  });

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

  test("stamps are HA's raw time.time() doubles: their CPython µs is the ISO text's, and a diff's float is the stamp itself", async () => {
    const s = await sim({ entities: 30 });
    const c = await authed(s);
    c.send({ id: 1, type: "subscribe_events", event_type: "state_changed" });
    c.send({ id: 2, type: "subscribe_entities" });
    await c.next((m) => m.id === 2 && m.type === "event");
    s.emit(400);
    const events = () => c.messages.filter((m) => m.type === "event" && m.id !== 2);
    await waitFor(() => events().length === 400 && c.messages.filter((m) => m.id === 2).length === 402, {
      timeoutMs: 5000,
      what: "every change both ways",
    });
    type Diff = { c: Record<string, { "+": { lc?: number; lu?: number } }> };
    const stamps = c.messages
      .filter((m) => m.id === 2 && m.type === "event")
      .slice(1)
      .map((m) => Object.values((m.event as Diff).c)[0]["+"])
      .map((p) => (p.lc ?? p.lu) as number);
    const isos = events().map(
      (m) => (m.event as { data: { new_state: { last_updated: string } } }).data.new_state.last_updated,
    );
    const usOfIso = (iso: string) => {
      const [whole, frac = "0"] = iso.slice(0, -6).split(".");
      return Date.parse(`${whole}Z`) * 1000 + Number(frac.padEnd(6, "0"));
    };
    expect(stamps.map(usFromTimestamp)).toEqual(isos.map(usOfIso));
    expect(
      s
        .emittedKeys()
        .slice(-400)
        .map((k) => Number(k.split("@")[1])),
    ).toEqual(isos.map(usOfIso));
    // Raw doubles: most are not whole µs, which is what trips Math.round(s * 1e6) now and then.
    expect(stamps.filter((t) => Math.round(t * 1e6) / 1e6 !== t).length).toBeGreaterThan(200);
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

  test("a change HA cannot serialise arrives as HA's error in place of the event; the state is left out and not recorded", async () => {
    const s = await sim({ entities: 10, recorderCommitIntervalMs: 0 });
    const c = await authed(s);
    c.send({ id: 1, type: "subscribe_events", event_type: "state_changed" });
    c.send({ id: 2, type: "subscribe_entities" });
    await c.next((m) => m.id === 2 && m.type === "event");
    const id = "sensor.living_room_multisensor_7_1_temperature";
    const keys = s.emittedKeys().length;
    const seen = c.messages.length;
    expect(s.fault("unserialisable", id)).toEqual({ entity_id: id, unserialisable: true });
    await waitFor(() => c.messages.length === seen + 2, { timeoutMs: 5000, what: "the errors" });
    expect(c.messages.slice(seen)).toEqual([
      {
        type: "result",
        success: false,
        error: { code: "unknown_error", message: "Invalid JSON in response" },
        id: 1,
      },
      {
        type: "result",
        success: false,
        error: { code: "unknown_error", message: "Invalid JSON in response" },
        id: 2,
      },
    ]);
    expect(s.emittedKeys().length).toBe(keys);
    c.send({ id: 3, type: "get_states" });
    const states = (await c.next((m) => m.id === 3)) as { result: { entity_id: string }[] };
    expect(states.result.map((x) => x.entity_id)).not.toContain(id);
    // Healed: the diff against the bad state serialises again; the full event (bad old_state) does not.
    s.fault("unserialisable", `${id}=off`);
    const diff = (await c.next(
      (m) => m.id === 2 && m.type === "event" && JSON.stringify(m.event).includes('"-"'),
    )) as { event: { c: Record<string, Record<string, unknown>> } };
    expect(diff.event.c[id]["-"]).toEqual({ a: ["unserialisable"] });
    expect(c.messages.filter((m) => m.id === 1 && m.success === false).length).toBe(2);
    expect(s.emittedKeys().length).toBe(keys + 1);
    c.ws.close();
  });

  test("history answers unknown_command until HA has loaded it (historyAvailableAfterMs)", async () => {
    const s = await sim({ entities: 5, historyAvailableAfterMs: 400, recorderCommitIntervalMs: 0 });
    const c = await authed(s);
    c.send(historyAsk(1, ["weather.home"]));
    expect(await c.next((m) => m.id === 1)).toMatchObject({
      success: false,
      error: { code: "unknown_command", message: "Unknown command." },
    });
    let next = 1;
    const ok = await waitFor(
      async () => {
        const id = ++next;
        c.send(historyAsk(id, ["weather.home"]));
        const r = await c.next((m) => m.id === id);
        return r.success === true ? r : null;
      },
      { timeoutMs: 5000, intervalMs: 50, what: "history to load" },
    );
    expect(Object.keys(ok.result as object)).toEqual(["weather.home"]);
    c.ws.close();
  });

  test("during a burst of registry updates, the next update's event arrives before the stale list answer", async () => {
    const s = await sim({ entities: 10 });
    const c = await authed(s);
    c.send({ id: 1, type: "subscribe_events", event_type: "entity_registry_updated" });
    await c.next((m) => m.id === 1 && m.type === "result");
    const { entity_id } = s.fault("registry-burst", 3) as { entity_id: string };
    type Entry = { entity_id: string; name: string | null };
    const updates = () => c.messages.filter((m) => m.id === 1 && m.type === "event");
    await waitFor(() => updates().length === 1, { timeoutMs: 5000, what: "the first update" });
    const names: (string | null)[] = [];
    for (const id of [2, 3, 4]) {
      c.send({ id, type: "config/entity_registry/list" });
      const r = (await c.next((m) => m.id === id)) as { result: Entry[] };
      names.push(r.result.find((e) => e.entity_id === entity_id)?.name ?? null);
    }
    // Each of the first two answers predates an update whose event came just before it.
    expect(names).toEqual(["Temperature 1", "Temperature 2", "Temperature 3"]);
    expect(updates().map((m) => (m.event as { data: { changes: unknown } }).data.changes)).toEqual([
      { name: null },
      { name: "Temperature 1" },
      { name: "Temperature 2" },
    ]);
    const order = c.messages
      .filter((m) => m.id === 1 || m.id === 2 || m.id === 3)
      .map((m) => `${m.id}:${m.type}`);
    expect(order).toEqual(["1:result", "1:event", "1:event", "2:result", "1:event", "3:result"]);
    c.ws.close();
  });

  test("registry entries of device entities have has_entity_name and only their own part as original_name", async () => {
    const s = await sim({ entities: 20 });
    const c = await authed(s);
    c.send({ id: 1, type: "config/entity_registry/list" });
    c.send({ id: 2, type: "get_states" });
    type Entry = { entity_id: string; has_entity_name: boolean; original_name: string | null; name: null };
    const entries = ((await c.next((m) => m.id === 1)) as { result: Entry[] }).result;
    const friendly = new Map(
      (
        (await c.next((m) => m.id === 2)) as {
          result: { entity_id: string; attributes: { friendly_name: string } }[];
        }
      ).result.map((x) => [x.entity_id, x.attributes.friendly_name]),
    );
    const by = (id: string) => entries.find((e) => e.entity_id === id);
    expect(by("sensor.living_room_multisensor_7_1_temperature")).toMatchObject({
      has_entity_name: true,
      original_name: "Temperature",
      name: null,
    });
    expect(friendly.get("sensor.living_room_multisensor_7_1_temperature")).toBe(
      "Living Room Multisensor 7 1 Temperature",
    );
    const light = entries.find((e) => e.entity_id.startsWith("light."));
    expect(light).toMatchObject({ has_entity_name: true, original_name: null });
    expect(friendly.get(light?.entity_id ?? "")).toBe("Living Room Hue Bulb 1");
    expect(by("weather.home")).toMatchObject({ has_entity_name: false, original_name: "Home" });

    const old = await sim({ entities: 20, registryHasEntityName: false });
    const d = await authed(old);
    d.send({ id: 1, type: "config/entity_registry/list" });
    const flat = ((await d.next((m) => m.id === 1)) as { result: Entry[] }).result;
    expect(flat.every((e) => !e.has_entity_name && typeof e.original_name === "string")).toBe(true);
    c.ws.close();
    d.ws.close();
  });

  test("HTTP control: stats, rate and faults for out-of-process use", async () => {
    const s = await sim({ entities: 5 });
    const http = s.url.replace("ws://", "http://").replace("/api/websocket", "");
    const stats = (await (await fetch(`${http}/sim/stats`)).json()) as { sent: number; entities: number };
    expect(stats).toMatchObject({ sent: 5, entities: 5 });
    expect(await (await fetch(`${http}/sim/rate?value=500`, { method: "POST" })).json()).toEqual({
      rate: 500,
    });
    await waitFor(
      async () => ((await (await fetch(`${http}/sim/stats`)).json()) as { sent: number }).sent > 50,
      {
        timeoutMs: 5000,
      },
    );
    await fetch(`${http}/sim/rate?value=0`, { method: "POST" });
    const digest = (await (await fetch(`${http}/sim/digest`)).json()) as Record<
      string,
      { count: number; sum: number }
    >;
    const keys = s.emittedKeys();
    expect(Object.values(digest).reduce((n, d) => n + d.count, 0)).toBe(keys.length);
    const first = keys[0].split("@");
    const sum = keys
      .filter((k) => k.startsWith(`${first[0]}@`))
      .reduce((n, k) => n + (Number(k.split("@")[1]) % 1e9), 0);
    expect(digest[first[0]].sum).toBe(sum);
    const bad = await fetch(`${http}/sim/fault?kind=explode`, { method: "POST" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('unknown fault "explode"');
    const renamed = await fetch(`${http}/sim/fault?kind=rename&arg=weather.home->weather.house`, {
      method: "POST",
    });
    expect(await renamed.json()).toEqual({ from: "weather.home", to: "weather.house" });
  });
});
