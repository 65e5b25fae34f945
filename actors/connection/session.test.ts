import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { loadConfig } from "../../runtime/config/load.ts";
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { StateChange } from "../../runtime/events/messages.ts";
import { type Clock, systemClock, waitFor } from "../../runtime/kernel/clock.ts";
import { changeKey } from "../../sim/history.ts";
import { type Simulator, startSimulator } from "../../sim/server.ts";
import { type ChangeSource, HASession, type HAStatus, type RegistryKind } from "./session.ts";

setDefaultTimeout(60000);
const base = loadConfig({ env: {} });
const haConfig = (over: Partial<HomeIQConfig["ha"]> = {}): HomeIQConfig["ha"] => ({
  ...base.ha,
  reconnectMinMs: 20,
  reconnectMaxMs: 200,
  backfillMarginMs: 1000,
  ...over,
});

/** A clock that knows how many timers are pending (to prove nothing is scheduled after auth_invalid). */
function countingClock(): Clock & { pending: () => number } {
  const live = new Set<unknown>();
  return {
    now: () => Date.now(),
    setTimeout(fn, ms) {
      const h = systemClock.setTimeout(() => {
        live.delete(h);
        fn();
      }, ms);
      live.add(h);
      return h;
    },
    clearTimeout(h) {
      live.delete(h);
      systemClock.clearTimeout(h);
    },
    pending: () => live.size,
  };
}

function collector() {
  const c = {
    changes: [] as StateChange[],
    bySource: { live: 0, snapshot: 0, backfill: 0 } as Record<ChangeSource, number>,
    statuses: [] as HAStatus[],
    rejected: new Map<string, number>(),
    skipped: new Map<string, number>(),
    outOfOrder: 0,
    renames: [] as [string, string][],
    registries: new Map<RegistryKind, unknown[]>(),
    config: null as Record<string, unknown> | null,
    backfillFailures: [] as string[],
    keys: () => c.changes.map((x) => changeKey(x.entity_id, x.last_updated)),
    connectedCount: () => c.statuses.filter((s) => s.state === "connected").length,
    sink: {
      changes: (source: ChangeSource, changes: StateChange[]) => {
        c.bySource[source] += changes.length;
        for (const x of changes) c.changes.push(x);
      },
      registry: (kind: RegistryKind, items: unknown[]) => c.registries.set(kind, items),
      rename: (from: string, to: string) => c.renames.push([from, to]),
      haConfig: (config: Record<string, unknown>) => {
        c.config = config;
      },
      status: (s: HAStatus) => c.statuses.push(s),
      rejected: (r: { reason: string }) => c.rejected.set(r.reason, (c.rejected.get(r.reason) ?? 0) + 1),
      skipped: (reason: string, count: number) => c.skipped.set(reason, (c.skipped.get(reason) ?? 0) + count),
      outOfOrder: (_id: string, _lu: number, _newest: number) => {
        c.outOfOrder++;
      },
      backfillFailed: (detail: string) => c.backfillFailures.push(detail),
      log: (_level: string, _msg: string, _fields?: Record<string, unknown>) => {},
    },
  };
  return c;
}

let sims: Simulator[] = [];
let sessions: HASession[] = [];
afterEach(async () => {
  for (const s of sessions) s.stop();
  for (const s of sims) await s.stop();
  sims = [];
  sessions = [];
});

async function setup(
  opts: {
    ha?: Partial<HomeIQConfig["ha"]>;
    entities?: number;
    token?: string;
    legacy?: boolean;
    historyStartExclusive?: boolean;
    coalesceMessages?: boolean;
    recorderCommitIntervalMs?: number;
    historyAvailableAfterMs?: number;
  } = {},
) {
  const sim = await startSimulator({
    entities: opts.entities ?? 50,
    rate: 0,
    token: "right",
    subscribeEntities: !opts.legacy,
    // HA's defaults: a 5 s recorder commit_interval, exclusive history bounds, coalesced frames.
    recorderCommitIntervalMs: opts.recorderCommitIntervalMs,
    historyStartExclusive: opts.historyStartExclusive,
    coalesceMessages: opts.coalesceMessages,
    historyAvailableAfterMs: opts.historyAvailableAfterMs,
  });
  sims.push(sim);
  const col = collector();
  const clock = countingClock();
  const open = (newestStoredUs: () => number | null = () => null, into = col) => {
    const s = new HASession({
      url: sim.url,
      token: opts.token ?? "right",
      ha: haConfig(opts.ha),
      sink: into.sink,
      clock,
      random: Math.random,
      newestStoredUs,
    });
    sessions.push(s);
    s.start();
    return s;
  };
  return { sim, col, clock, open };
}

/** Every emitted key arrives, and each exactly once. */
async function expectExactlyOnce(
  sim: Simulator,
  col: ReturnType<typeof collector>,
  from = 0,
  timeoutMs = 45_000,
) {
  sim.setRate(0);
  const emitted = sim.emittedKeys().slice(from);
  await waitFor(
    () => {
      const got = new Set(col.keys());
      return emitted.every((k) => got.has(k));
    },
    // HA's recorder lag: the gap's tail arrives ha.backfillSettleMs (7 s) after a reconnect, later again
    // when the connection drops meanwhile (each drop adds a settle; a loaded box adds more).
    { timeoutMs, what: "every emitted state change to arrive" },
  );
  const keys = col.keys();
  expect(new Set(keys).size).toBe(keys.length);
  expect(keys.length).toBe(emitted.length);
  expect(new Set(keys)).toEqual(new Set(emitted));
}

/** Streams at 3,000 changes/s and drops the connection twice, each time once 300 more have arrived. */
async function dropTwiceMidStream(sim: Simulator, col: ReturnType<typeof collector>) {
  sim.setRate(3000);
  for (let round = 1; round <= 2; round++) {
    const before = col.changes.length;
    await waitFor(() => col.changes.length > before + 300, { timeoutMs: 10000, what: "events before drop" });
    sim.fault("drop");
    await waitFor(() => col.connectedCount() === round + 1, { timeoutMs: 10000, what: "reconnect" });
  }
}

describe("HASession against the simulator", () => {
  test("authenticates, reads config, registries and the snapshot, then streams live changes exactly once", async () => {
    const { sim, col, open } = await setup();
    open();
    await waitFor(() => col.registries.size === 3 && col.bySource.snapshot === 50, {
      timeoutMs: 5000,
      what: "snapshot and registries",
    });
    expect(col.statuses.map((s) => s.state)).toEqual(["connecting", "connected"]);
    expect(col.statuses[1].haVersion).toBe("2025.11.2");
    expect(col.config?.latitude).toBe(52.3731);
    expect(col.registries.get("entities")?.length).toBe(50);
    sim.setRate(2000);
    await waitFor(() => col.bySource.live > 500, { timeoutMs: 10000, what: "live events" });
    await expectExactlyOnce(sim, col);
  });

  test("after the connection drops mid-stream (twice), every change arrives exactly once via backfill", async () => {
    const { sim, col, open } = await setup();
    open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    await dropTwiceMidStream(sim, col);
    await waitFor(() => col.bySource.backfill > 0, { timeoutMs: 10000, what: "backfill" });
    await expectExactlyOnce(sim, col);
    expect(col.statuses.filter((s) => s.state === "disconnected").length).toBe(2);
    // Ids strictly increased on every connection: HA (and the simulator) refuse anything else.
    expect(sim.stats().idReuse).toBe(0);
  });

  test("a stalled server misses pongs: the watchdog reconnects and the gap is backfilled exactly once", async () => {
    const { sim, col, open } = await setup({ ha: { pingIntervalMs: 100, pongTimeoutMs: 200 } });
    open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    sim.setRate(1000);
    await waitFor(() => col.bySource.live > 200, { timeoutMs: 10000 });
    sim.fault("stall", 2000);
    await waitFor(() => col.connectedCount() === 2, { timeoutMs: 10000, what: "reconnect after stall" });
    const lost = col.statuses.find((s) => s.state === "disconnected");
    expect(lost?.lastError).toContain("no pong within ha.pongTimeoutMs");
    await waitFor(() => col.bySource.live > 400, { timeoutMs: 10000 });
    await expectExactlyOnce(sim, col);
  });

  test("after a process restart, backfill from the newest stored change loses nothing (the store dedupes overlap)", async () => {
    const { sim, col, open } = await setup();
    const first = open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    sim.setRate(2000);
    await waitFor(() => col.bySource.live > 500, { timeoutMs: 10000 });
    first.stop();
    const stored = Math.max(...col.changes.map((c) => c.last_updated));
    const gapStart = sim.stats().sent;
    await waitFor(() => sim.stats().sent > gapStart + 500, { timeoutMs: 10000, what: "changes while down" });
    const second = collector();
    open(() => stored, second);
    await waitFor(() => second.bySource.backfill > 0, { timeoutMs: 10000, what: "restart backfill" });
    sim.setRate(0);
    const emitted = sim.emittedKeys();
    await waitFor(
      () => {
        const got = new Set([...col.keys(), ...second.keys()]);
        return emitted.every((k) => got.has(k));
      },
      { timeoutMs: 10000, what: "union to cover every emitted change" },
    );
    // The store keeps (entity_id, last_updated) once: the union, deduplicated, is exactly what was emitted.
    expect(new Set([...col.keys(), ...second.keys()])).toEqual(new Set(emitted));
    // Overlap is limited to the restart margin: nothing before it is re-sent.
    for (const c of second.changes)
      if (c.last_updated <= stored) expect(c.last_updated).toBeGreaterThan(stored - 1_000_000 - 1);
  });

  test("auth_invalid stops retrying, reports how to fix it and leaves no timer behind", async () => {
    const { sim, col, clock, open } = await setup({ token: "wrong" });
    open();
    await waitFor(() => col.statuses.some((s) => s.state === "auth_invalid"), { timeoutMs: 5000 });
    const last = col.statuses[col.statuses.length - 1];
    expect(last.state).toBe("auth_invalid");
    expect(last.lastError).toContain("HOMEIQ_HA_TOKEN");
    expect(clock.pending()).toBe(0);
    expect(sim.stats().authFailures).toBe(1);
    expect(sim.stats().connections).toBe(1);
  });

  test("a token revoked mid-session: one reconnect, then auth_invalid and no more attempts", async () => {
    const { sim, col, clock, open } = await setup();
    open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    sim.fault("reject-token");
    await waitFor(() => col.statuses.some((s) => s.state === "auth_invalid"), { timeoutMs: 5000 });
    expect(clock.pending()).toBe(0);
    expect(sim.stats().connections).toBe(2);
  });

  test("malformed, oversized and unknown-id frames are counted by reason and skipped; the session carries on", async () => {
    const { sim, col, open } = await setup({ ha: { maxFrameBytes: 512 * 1024 } });
    open();
    await waitFor(() => col.bySource.snapshot === 50 && col.registries.size === 3, { timeoutMs: 5000 });
    sim.fault("malformed");
    sim.fault("huge", 600 * 1024);
    sim.fault("reuse-ids");
    sim.emit(200);
    await waitFor(() => col.bySource.live === 200, { timeoutMs: 5000, what: "events after bad frames" });
    expect(Object.fromEntries(col.rejected)).toEqual({
      not_json: 1,
      unknown_type: 1,
      missing_fields: 2,
      too_large: 1,
      unknown_id: 1,
    });
    expect(col.connectedCount()).toBe(1);
    await expectExactlyOnce(sim, col);
  });

  test("an entity rename is reported, the registry is re-read, and later changes carry the new id", async () => {
    const { sim, col, open } = await setup();
    open();
    await waitFor(() => col.registries.size === 3 && col.bySource.snapshot === 50, { timeoutMs: 5000 });
    const from = "sensor.living_room_multisensor_7_1_temperature";
    const to = "sensor.lounge_temperature";
    expect(sim.fault("rename", `${from}->${to}`)).toEqual({ from, to });
    await waitFor(() => col.renames.length === 1, { timeoutMs: 5000 });
    expect(col.renames).toEqual([[from, to]]);
    await waitFor(
      () => (col.registries.get("entities") as { entity_id: string }[]).some((e) => e.entity_id === to),
      { timeoutMs: 5000, what: "registry refresh" },
    );
    const ids = (col.registries.get("entities") as { entity_id: string }[]).map((e) => e.entity_id);
    expect(ids).not.toContain(from);
    sim.emit(500);
    await expectExactlyOnce(sim, col);
    expect(col.changes.some((c) => c.entity_id === to)).toBe(true);
  });

  test("a backfill answer larger than maxFrameBytes is re-asked in halves until it fits", async () => {
    // HA's exclusive bounds: the sim's consecutive µs put rows exactly on window boundaries.
    const { sim, col, open } = await setup({ ha: { maxFrameBytes: 128 * 1024 } });
    const s = open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    sim.emit(10);
    await waitFor(() => col.bySource.live === 10, { timeoutMs: 5000 });
    s.pause("test: reading paused");
    for (let i = 0; i < 40; i++) {
      sim.emit(100);
      await Bun.sleep(1); // spreads the changes over time so halved windows can split them
    }
    s.resume();
    await expectExactlyOnce(sim, col);
    expect(col.rejected.get("too_large") ?? 0).toBeGreaterThan(0);
    // The newest change of each entity comes with the reconnect's snapshot, the rest by backfill.
    expect(col.bySource.backfill + col.bySource.snapshot - 50).toBe(4000);
  });

  test("a socket that dies on a history answer too large for it: smaller windows on the next connections, nothing lost", async () => {
    const { sim, col, open } = await setup();
    const shrunk: unknown[] = [];
    col.sink.log = (_level: string, msg: string, fields?: Record<string, unknown>) => {
      if (msg.includes("may be too large")) shrunk.push(fields?.closeCode);
    };
    open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    sim.setRate(3000);
    await waitFor(() => col.bySource.live > 3000, { timeoutMs: 10000, what: "a second of live changes" });
    // ~150 bytes a row: a one-second gap is ~450 KB of history, and the first window asks for more.
    sim.fault("history-max-bytes", 60_000);
    sim.fault("drop");
    await waitFor(() => col.bySource.backfill > 0 && col.connectedCount() >= 3, {
      timeoutMs: 20000,
      what: "backfill after the socket died on large answers",
    });
    // Windows of a few hundred rows over a gap of tens of thousands, each a round trip, after several
    // reconnects: on a busy box that takes a while. Losing a change fails this whatever the wait.
    await expectExactlyOnce(sim, col, 0, 100_000);
    // The simulator closes with 1009 (message too big): the window shrinks from the first such close.
    expect(shrunk.length).toBeGreaterThan(0);
    expect(shrunk[0]).toBe(1009);
  }, 150_000);

  test("HA refusing the history backfill keeps the session and retries on it with backoff until the gap is filled", async () => {
    const { sim, col, open } = await setup({ ha: { backfillRetryMinMs: 100, backfillRetryMaxMs: 400 } });
    const s = open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    sim.emit(20);
    await waitFor(() => col.bySource.live === 20, { timeoutMs: 5000 });
    s.pause("test");
    sim.emit(300);
    sim.fault("fail-history");
    s.resume();
    await waitFor(() => col.backfillFailures.length >= 2, { timeoutMs: 5000, what: "a failure and a retry" });
    expect(col.backfillFailures[0]).toMatch(
      /^history\/history_during_period failed: unknown_command: Unknown command\. \(retrying in \d+ ms\)$/,
    );
    sim.emit(10);
    await waitFor(() => col.bySource.live === 30, { timeoutMs: 5000, what: "live events still flowing" });
    // HA's history comes up (as after an HA restart): the next retry fills the gap, on the same connection.
    sim.fault("fail-history", "off");
    await expectExactlyOnce(sim, col);
    expect(col.connectedCount()).toBe(2);
  });
});

describe("HASession when the entity snapshot is larger than ha.maxFrameBytes", () => {
  test("it says how to fix it and reads full state_changed events; live changes keep arriving exactly once", async () => {
    // 300 entities' compressed states are ~60 KB; live frames at 200/s carry a few events (a few KB).
    // HA sends the result and the too-large snapshot as one array frame: [result, {"a": ...}].
    const { sim, col, open } = await setup({ entities: 300, ha: { maxFrameBytes: 40_000 } });
    const logs: string[] = [];
    col.sink.log = (_level: string, msg: string) => {
      logs.push(msg);
    };
    open();
    await waitFor(
      () => col.bySource.snapshot === 0 && logs.some((l) => l.includes("HOMEIQ_HA_MAX_FRAME_BYTES")),
      {
        timeoutMs: 5000,
        what: "the snapshot refused as too large, with the fix",
      },
    );
    const from = sim.emittedKeys().length;
    sim.setRate(200);
    await waitFor(() => col.bySource.live > 400, { timeoutMs: 10000, what: "live changes" });
    await expectExactlyOnce(sim, col, from);
    expect(col.connectedCount()).toBe(1);
  });
});

describe("HASession against an HA without subscribe_entities (full state_changed events)", () => {
  test("reads the snapshot with get_states and streams live changes exactly once", async () => {
    const { sim, col, open } = await setup({ legacy: true });
    open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000, what: "snapshot" });
    sim.setRate(2000);
    await waitFor(() => col.bySource.live > 500, { timeoutMs: 10000, what: "live events" });
    await expectExactlyOnce(sim, col);
  });

  test("after drops, every change arrives exactly once via backfill", async () => {
    const { sim, col, open } = await setup({ legacy: true });
    open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    await dropTwiceMidStream(sim, col);
    await expectExactlyOnce(sim, col);
  });
});

/**
 * HA's recorder commits every commit_interval, and history sees only committed rows: a backfill right
 * after a reconnect misses the gap's tail (ha-protocol.md #1). The client re-reads that tail every
 * ha.backfillSettleMs until a pass finds nothing new; these run the simulator's recorder at HA's default
 * 5 s, and at 500 ms and 3 s (the SD-card 30 s scaled down), with settle = commit interval + slack.
 */
describe("HASession against HA's recorder commit lag", () => {
  /** Logs "gap backfilled" lines with their fields, to wait for the gap to close. */
  const closedGaps = (col: ReturnType<typeof collector>) => {
    const closed: Record<string, unknown>[] = [];
    col.sink.log = (_level: string, msg: string, fields?: Record<string, unknown>) => {
      if (msg === "gap backfilled") closed.push(fields ?? {});
    };
    return closed;
  };

  /** After every change arrived: the gaps close, and nothing arrives twice after (late settle passes). */
  async function expectSettledExactlyOnce(
    sim: Simulator,
    col: ReturnType<typeof collector>,
    closed: Record<string, unknown>[],
    gaps: number,
  ) {
    await expectExactlyOnce(sim, col);
    await waitFor(() => closed.length >= gaps, { timeoutMs: 30000, what: "the gap to close" });
    const keys = col.keys();
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(keys)).toEqual(new Set(sim.emittedKeys()));
    // A tail pass found what the first could not see, and the last pass found nothing new.
    expect(closed.every((f) => (f.passes as number) >= 2)).toBe(true);
  }

  for (const [commitMs, settleMs] of [
    [500, 1000],
    [3000, 4000],
  ] as const)
    test(`drops mid-stream with a ${commitMs} ms commit interval: every change exactly once`, async () => {
      const { sim, col, open } = await setup({
        recorderCommitIntervalMs: commitMs,
        ha: { backfillSettleMs: settleMs },
      });
      const closed = closedGaps(col);
      open();
      await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
      await dropTwiceMidStream(sim, col);
      await expectSettledExactlyOnce(sim, col, closed, 1);
      expect(col.bySource.backfill).toBeGreaterThan(0);
    });

  test("a blip shorter than HA's default 5 s commit interval loses nothing (the default settle of 7 s)", async () => {
    const { sim, col, open } = await setup();
    const closed = closedGaps(col);
    const s = open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    sim.setRate(1000);
    await waitFor(() => col.bySource.live > 1000, { timeoutMs: 10000, what: "live changes" });
    // ~300 ms away: all of it is in the recorder's uncommitted tail when the first backfill pass asks.
    s.pause("test: a short blip");
    const before = sim.stats().sent;
    await waitFor(() => sim.stats().sent > before + 300, { timeoutMs: 5000, what: "changes while away" });
    s.resume();
    await expectSettledExactlyOnce(sim, col, closed, 1);
    // Nearly all of the blip came from a tail pass: the first pass could not see it.
    expect(col.bySource.backfill + col.bySource.snapshot - 50).toBeGreaterThanOrEqual(250);
  });

  test("backfilled rows carry the attributes the recorder strips, as the live rows do (no churn at the gap)", async () => {
    const { sim, col, open } = await setup({ recorderCommitIntervalMs: 500, ha: { backfillSettleMs: 1000 } });
    const closed = closedGaps(col);
    const sources: ChangeSource[] = [];
    const changes = col.sink.changes;
    col.sink.changes = (source: ChangeSource, batch: StateChange[]) => {
      for (const _ of batch) sources.push(source);
      changes(source, batch);
    };
    open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    await dropTwiceMidStream(sim, col);
    await expectSettledExactlyOnce(sim, col, closed, 1);
    // Climate (hvac_modes, min_temp, max_temp, supported_features) and weather (attribution,
    // supported_features) lose static keys in HA's recorder; their backfilled rows must have the live keys.
    const keysOf = (c: StateChange) => Object.keys(JSON.parse(c.attributes)).join(",");
    let checked = 0;
    for (const domain of ["climate.", "weather."]) {
      const rows = col.changes
        .map((c, i) => ({ c, source: sources[i] }))
        .filter((r) => r.c.entity_id.startsWith(domain));
      for (const { c, source } of rows) {
        if (source !== "backfill") continue;
        const live = rows.find((r) => r.source === "live" && r.c.entity_id === c.entity_id);
        if (!live) continue;
        expect(keysOf(c)).toBe(keysOf(live.c));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });
});

describe("HASession against HA's other unkind parts", () => {
  test("HA's clock steps back mid-stream, then a gap: the changes that look older are stored and counted, none lost", async () => {
    const { sim, col, open } = await setup({ recorderCommitIntervalMs: 500, ha: { backfillSettleMs: 1000 } });
    open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    sim.setRate(1000);
    await waitFor(() => col.bySource.live > 500, { timeoutMs: 10000, what: "live changes" });
    const emittedAtStep = sim.emittedKeys().length;
    sim.fault("clock-step", -3000);
    const before = col.bySource.live;
    await waitFor(() => col.bySource.live > before + 500, {
      timeoutMs: 10000,
      what: "changes after the step",
    });
    // And a gap right after it: the backfill must not take the pre-step high as already forwarded.
    sim.fault("drop");
    await waitFor(() => col.connectedCount() === 2, { timeoutMs: 10000, what: "reconnect" });
    // Every change is stored; the store keeps (entity_id, last_updated) once. Only rows from before the
    // step, which the new clock runs over again, may come twice (a gap's overlap cannot tell them apart).
    sim.setRate(0);
    const emitted = sim.emittedKeys();
    await waitFor(
      () => {
        const got = new Set(col.keys());
        return emitted.every((k) => got.has(k));
      },
      { timeoutMs: 30000, what: "every emitted state change to arrive" },
    );
    expect(new Set(col.keys())).toEqual(new Set(emitted));
    const seen = new Set<string>();
    const twice: string[] = [];
    for (const k of col.keys()) {
      if (seen.has(k)) twice.push(k);
      seen.add(k);
    }
    const beforeStep = new Set(emitted.slice(0, emittedAtStep));
    expect(twice.filter((k) => !beforeStep.has(k))).toEqual([]);
    expect(col.outOfOrder).toBeGreaterThan(0);
  });

  for (const legacy of [false, true])
    test(`a change HA cannot serialise (its error in place of the ${legacy ? "event" : "diff"}) resyncs; the entity's later changes arrive exactly once`, async () => {
      const { sim, col, open } = await setup({
        legacy,
        recorderCommitIntervalMs: 500,
        ha: { backfillSettleMs: 1000 },
      });
      open();
      await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
      sim.setRate(500);
      await waitFor(() => col.bySource.live > 200, { timeoutMs: 10000, what: "live changes" });
      const { entity_id } = sim.fault("unserialisable") as { entity_id: string };
      await waitFor(() => col.connectedCount() === 2, { timeoutMs: 10000, what: "the resync" });
      const before = col.bySource.live;
      await waitFor(() => col.bySource.live > before + 200, { timeoutMs: 10000, what: "changes after it" });
      sim.fault("unserialisable", `${entity_id}=off`);
      await expectExactlyOnce(sim, col);
      // The healed change (its diff has no base on the resynced stream) came too.
      expect(col.changes.filter((c) => c.entity_id === entity_id).length).toBe(
        sim.emittedKeys().filter((k) => k.startsWith(`${entity_id}@`)).length,
      );
    });

  test("history still loading after an HA restart (unknown_command): the backfill retries on the same connection", async () => {
    const { sim, col, open } = await setup({
      historyAvailableAfterMs: 3000,
      recorderCommitIntervalMs: 500,
      ha: { backfillSettleMs: 1000, backfillRetryMinMs: 200, backfillRetryMaxMs: 1000 },
    });
    const s = open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    sim.emit(20);
    await waitFor(() => col.bySource.live === 20, { timeoutMs: 5000 });
    s.pause("test");
    sim.emit(300);
    s.resume();
    await waitFor(() => col.backfillFailures.length > 0, { timeoutMs: 5000, what: "unknown_command" });
    expect(col.backfillFailures[0]).toContain("unknown_command");
    await expectExactlyOnce(sim, col);
    expect(col.connectedCount()).toBe(2);
  });

  test("removals, live and in a backfilled gap (history's s: null), are counted as skipped, not as bad frames", async () => {
    const { sim, col, open } = await setup({
      legacy: true,
      recorderCommitIntervalMs: 500,
      ha: { backfillSettleMs: 1000 },
    });
    const s = open();
    await waitFor(() => col.bySource.snapshot === 50, { timeoutMs: 5000 });
    sim.fault("remove", "person.alice");
    await waitFor(() => col.skipped.get("removed") === 1, { timeoutMs: 5000, what: "the live removal" });
    sim.emit(20);
    await waitFor(() => col.bySource.live === 20, { timeoutMs: 5000 });
    s.pause("test");
    sim.emit(50);
    sim.fault("remove", "person.bob");
    sim.emit(50);
    s.resume();
    await expectExactlyOnce(sim, col);
    await waitFor(() => (col.skipped.get("removed") ?? 0) >= 2, {
      timeoutMs: 10000,
      what: "the backfilled removal",
    });
    expect(col.rejected.get("missing_fields") ?? 0).toBe(0);
  });

  test("a burst of registry updates: the list is read again until it reflects the last one", async () => {
    const { sim, col, open } = await setup();
    open();
    await waitFor(() => col.registries.size === 3, { timeoutMs: 5000 });
    const { entity_id } = sim.fault("registry-burst", 3) as { entity_id: string };
    const nameOf = () =>
      (col.registries.get("entities") as { entity_id: string; name: string | null }[]).find(
        (e) => e.entity_id === entity_id,
      )?.name;
    await waitFor(() => nameOf()?.endsWith(" 3"), { timeoutMs: 5000, what: "the last name in the list" });
  });
});
