/**
 * The session against frames the simulator does not send: oversized coalesced answers, a diff HA could
 * not serialise, silence, registry bursts. Whatever happens, the session resyncs or carries on — it never
 * stays connected storing nothing (ha-protocol.md #2, #6, #16).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { loadConfig } from "../../runtime/config/load.ts";
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { StateChange } from "../../runtime/events/messages.ts";
import { systemClock, waitFor } from "../../runtime/kernel/clock.ts";
import { type Command, FakeHA, T } from "./fake-ha.ts";
import { HASession } from "./session.ts";

const base = loadConfig({ env: {} });
let sessions: HASession[] = [];
afterEach(() => {
  for (const s of sessions) s.stop();
  sessions = [];
  FakeHA.override = null;
  FakeHA.sockets = [];
});

function open(ha: Partial<HomeIQConfig["ha"]> = {}, newestStoredUs: number | null = null) {
  FakeHA.sockets = [];
  const got = {
    changes: [] as StateChange[],
    logs: [] as string[],
    rejected: [] as string[],
    /** lastError of each disconnect. */
    lost: [] as string[],
    registries: 0,
  };
  const session = new HASession({
    url: "ws://fake",
    token: "t",
    ha: { ...base.ha, reconnectMinMs: 10, reconnectMaxMs: 20, backfillSettleMs: 0, ...ha },
    clock: systemClock,
    random: Math.random,
    newestStoredUs: () => newestStoredUs,
    WebSocketImpl: FakeHA as unknown as typeof WebSocket,
    sink: {
      changes: (_source, changes) => {
        for (const c of changes) got.changes.push(c);
      },
      registry: () => {
        got.registries++;
      },
      rename() {},
      haConfig() {},
      status: (st) => {
        if (st.state === "disconnected") got.lost.push(st.lastError ?? "");
      },
      rejected: (r) => got.rejected.push(r.reason),
      skipped() {},
      outOfOrder() {},
      backfillFailed: (d) => got.logs.push(`backfillFailed ${d}`),
      log: (_level, msg) => got.logs.push(msg),
    },
  });
  sessions.push(session);
  session.start();
  return got;
}

const ready = (i = 0) =>
  waitFor(() => FakeHA.sockets[i]?.ready && FakeHA.sockets[i].received.some((m) => m.type === "get_config"), {
    timeoutMs: 3000,
    what: `socket ${i} set up`,
  });

/** A coalesced frame of `n` diffs for the entities subscription, HA's way (id last). */
const diffs = (sub: number, n: number) =>
  `[${Array.from(
    { length: n },
    (_, i) => `{"type":"event","event":{"c":{"sensor.a":{"+":{"s":"${i}","lu":${T + i + 1}}}}},"id":${sub}}`,
  ).join(",")}]`;

describe("HASession with frames over ha.maxFrameBytes", () => {
  test("live diffs lost in an oversized array frame resync the connection (the gap is backfilled)", async () => {
    const got = open({ maxFrameBytes: 4096 });
    await ready();
    const ws = FakeHA.sockets[0];
    ws.deliver(diffs(ws.entitySub as number, 100));
    await ready(1);
    expect(got.rejected).toEqual(["too_large"]);
    expect(got.logs.some((l) => l.startsWith("resyncing with Home Assistant: live state changes"))).toBe(
      true,
    );
  });

  test("a history answer coalesced into an oversized array frame fails by id: the window is asked again in halves", async () => {
    const windows: [string, string | undefined][] = [];
    let big = true;
    FakeHA.override = (m) => {
      if (m.type !== "history/history_during_period") return undefined;
      windows.push([m.start_time as string, m.end_time as string | undefined]);
      if (!big) return undefined;
      big = false;
      // [result] with the id first inside an array: the frame starts with "[", not with {"id":.
      const rows = Array.from({ length: 200 }, (_, i) => `{"s":"${i}","a":{},"lu":${T - 100 + i / 10}}`);
      return `[{"id":${m.id},"type":"result","success":true,"result":{"sensor.a":[${rows.join(",")}]}}]`;
    };
    const got = open({ maxFrameBytes: 4096 }, Math.round((T - 120) * 1e6));
    await waitFor(() => got.logs.includes("gap backfilled"), { timeoutMs: 5000, what: "the gap to close" });
    expect(got.rejected).toEqual(["too_large"]);
    expect(FakeHA.sockets.length).toBe(1);
    // The refused window was asked again, smaller: same start, an end before the first's (open) end.
    expect(windows.length).toBeGreaterThanOrEqual(2);
    expect(windows[1][0]).toBe(windows[0][0]);
    expect(windows[1][1]).toBeDefined();
  });
});

describe("HASession resyncs instead of stalling", () => {
  test("an error result for the subscribe_entities id (a diff HA could not serialise) resyncs", async () => {
    const got = open();
    await ready();
    const ws = FakeHA.sockets[0];
    ws.deliver(
      `{"id":${ws.entitySub},"type":"result","success":false,"error":{"code":"unknown_error","message":"Invalid JSON in response"}}`,
    );
    await ready(1);
    expect(got.logs.some((l) => l.includes("could not send a state change"))).toBe(true);
  });

  test("a diff that cannot be applied to a known entity resyncs; the diffs before it are kept", async () => {
    const got = open();
    await ready();
    const ws = FakeHA.sockets[0];
    ws.deliver(
      `[{"type":"event","event":{"c":{"sensor.a":{"+":{"s":"2","lu":${T + 1}}}}},"id":${ws.entitySub}},{"type":"event","event":{"c":{"sensor.a":{"+":{"lu":"later"}}}},"id":${ws.entitySub}}]`,
    );
    await ready(1);
    expect(got.changes.filter((c) => c.state === "2").length).toBe(1);
  });

  test("a request HA never answers resyncs after ha.requestTimeoutMs", async () => {
    FakeHA.override = (m, ws) => (m.type === "get_config" && ws === FakeHA.sockets[0] ? null : undefined);
    const got = open({ requestTimeoutMs: 1000 });
    await ready(1);
    expect(got.lost).toEqual([expect.stringContaining("no answer to get_config (id ") as unknown as string]);
  });

  test("a subscribe_entities snapshot that never comes resyncs", async () => {
    FakeHA.override = (m, ws) => {
      if (m.type !== "subscribe_entities" || ws !== FakeHA.sockets[0]) return undefined;
      ws.entitySub = m.id as number;
      return `{"id":${m.id},"type":"result","success":true,"result":null}`;
    };
    const got = open();
    await ready(1);
    expect(got.logs.some((l) => l.includes("snapshot did not come"))).toBe(true);
  });
});

describe("HASession registry refreshes", () => {
  test("registry events during a refresh read the list once more after it, not once per event", async () => {
    const held: Command[] = [];
    let hold = false;
    FakeHA.override = (m) => {
      if (!hold || m.type !== "config/entity_registry/list") return undefined;
      held.push(m);
      return null;
    };
    const got = open();
    await ready();
    await waitFor(() => got.registries === 3, { timeoutMs: 3000, what: "the three lists" });
    const ws = FakeHA.sockets[0];
    const sub = ws.received.find((m) => m.event_type === "entity_registry_updated")?.id;
    const event = (n: number) =>
      `{"type":"event","event":{"event_type":"entity_registry_updated","data":{"action":"update","entity_id":"sensor.e${n}"}},"id":${sub}}`;
    hold = true;
    ws.deliver(event(1));
    await waitFor(() => held.length === 1, { timeoutMs: 2000, what: "the first refresh" });
    // A burst while the list is being read: its answer may predate them.
    ws.deliver(event(2));
    ws.deliver(event(3));
    hold = false;
    ws.deliver(`{"id":${held[0].id},"type":"result","success":true,"result":[]}`);
    await waitFor(() => got.registries === 5, { timeoutMs: 2000, what: "one more read after the burst" });
    await Bun.sleep(50); // nothing more may follow; a bounded look, not a synchronisation
    expect(got.registries).toBe(5);
    expect(ws.received.filter((m) => m.type === "config/entity_registry/list").length).toBe(3);
  });
});
