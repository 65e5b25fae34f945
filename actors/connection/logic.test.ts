import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { StateChange } from "../../runtime/events/messages.ts";
import {
  answerSizeBlamed,
  backfillStart,
  Continuity,
  firstWindowUs,
  type InterruptedWindow,
  MIN_WINDOW_US,
  nextWindowUs,
} from "./logic.ts";

/** [start, end) windows of `span` µs tiling the range, as the session's backfill asks for them. */
function windowsOf(startUs: number, endUs: number, span: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = startUs; s < endUs; s += span) out.push([s, Math.min(endUs, s + span)]);
  return out;
}

const change = (entity_id: string, lu: number): StateChange => ({
  entity_id,
  state: "x",
  attributes: "{}",
  last_changed: lu,
  last_updated: lu,
  context_id: null,
  context_parent_id: null,
  context_user_id: null,
});
const key = (c: StateChange) => `${c.entity_id}@${c.last_updated}`;

type Op =
  | { op: "emit"; n: number; entity: number }
  | { op: "drop" }
  | { op: "connect" }
  | { op: "snapshot" }
  | { op: "backfill"; windows: number; upTo: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("emit" as const), n: fc.integer({ min: 1, max: 6 }), entity: fc.nat(3) }),
  fc.constant({ op: "drop" as const }),
  fc.constant({ op: "connect" as const }),
  fc.constant({ op: "snapshot" as const }),
  fc.record({
    op: fc.constant("backfill" as const),
    windows: fc.integer({ min: 1, max: 4 }),
    upTo: fc.nat(4),
  }),
);

/**
 * A model of HA plus a session: changes are emitted in time order; while connected they arrive live; a
 * reconnect is followed (in any interleaving) by a snapshot and a windowed backfill that a drop may cut
 * short. At the end a clean connection completes. Every change after the first connection must be
 * forwarded exactly once.
 */
function run(ops: Op[], marginUs: number) {
  const c = new Continuity();
  const entities = ["a.1", "a.2", "b.1", "b.2"];
  const emitted: StateChange[] = [];
  const forwarded: StateChange[] = [];
  let clock = 1000;
  let connected = false;
  // Promised: every change from the first connection that delivered anything (a snapshot or live events).
  let firstConnectAt = -1;
  let connectedAt = 0;
  const connect = () => {
    connected = true;
    c.connected();
    connectedAt = emitted.length;
  };
  const delivered = () => {
    if (firstConnectAt < 0) firstConnectAt = connectedAt;
  };
  const snapshot = () => {
    delivered();
    const latest = new Map<string, StateChange>();
    for (const e of emitted) latest.set(e.entity_id, e);
    forwarded.push(...c.catchUp([...latest.values()], "snapshot"));
  };
  /** Backfills `windows` windows; stops after `upTo` of them when cut short (then drops). */
  const backfill = (windows: number, upTo: number) => {
    const plan = backfillStart({
      gapStartUs: c.gapStartUs,
      newestStoredUs: null,
      reconnectMarginMs: marginUs / 1000,
      restartMarginMs: 0,
      maxMs: 1e9,
      nowMs: (clock + 10) / 1000,
    });
    if (!plan) {
      c.gapClosed();
      return true;
    }
    const end = clock + 10;
    const span = Math.max(1, Math.ceil((end - plan.startUs) / windows));
    const bounds = windowsOf(plan.startUs, end, span);
    for (let i = 0; i < bounds.length; i++) {
      if (i >= upTo) return false;
      const [s, e] = bounds[i];
      const last = i === bounds.length - 1;
      const rows = emitted.filter((x) => x.last_updated >= s && (last || x.last_updated < e));
      forwarded.push(...c.catchUp(rows, "backfill"));
    }
    c.gapClosed();
    return true;
  };
  // Like HA (and the simulator), every entity has a state before anyone connects.
  for (const id of entities) {
    clock += 10;
    emitted.push(change(id, clock));
  }
  for (const op of ops) {
    switch (op.op) {
      case "emit": {
        const batch: StateChange[] = [];
        for (let i = 0; i < op.n; i++) {
          clock += 10;
          const ch = change(entities[(op.entity + i) % entities.length], clock);
          emitted.push(ch);
          batch.push(ch);
        }
        if (connected) {
          delivered();
          forwarded.push(...c.live(batch));
        }
        break;
      }
      case "drop":
        connected = false;
        break;
      case "connect":
        if (!connected) connect();
        break;
      case "snapshot":
        if (connected) snapshot();
        break;
      case "backfill":
        if (connected && !backfill(op.windows, Math.min(op.upTo, op.windows))) connected = false;
        break;
    }
  }
  // A final clean connection: snapshot and a complete backfill.
  connected = false;
  connect();
  snapshot();
  backfill(2, 2);
  return { emitted: emitted.slice(firstConnectAt), forwarded };
}

describe("Continuity", () => {
  test("forwards every change after the first connection exactly once, whatever drops and partial backfills happen", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), fc.constantFrom(0, 5, 1000), (ops, margin) => {
        const { emitted, forwarded } = run([{ op: "connect" }, ...ops], margin);
        const keys = forwarded.map(key);
        expect(new Set(keys).size).toBe(keys.length);
        const got = new Set(keys);
        for (const e of emitted) expect(got.has(key(e))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  test("a live change older than its entity's newest (HA's clock stepped back) is forwarded and reported; only an equal key is a duplicate", () => {
    const skipped: string[] = [];
    const late: string[] = [];
    const c = new Continuity({
      skipped: (reason, ch) => skipped.push(`${reason} ${key(ch)}`),
      outOfOrder: (ch, newest) => late.push(`${key(ch)} < ${newest}`),
    });
    c.connected();
    c.gapClosed();
    expect(c.live([change("s.a", 100), change("s.a", 200)]).map(key)).toEqual(["s.a@100", "s.a@200"]);
    // NTP stepped HA's clock back by 150 µs: the next changes are new, however old they look.
    expect(c.live([change("s.a", 50), change("s.a", 60), change("s.a", 60)]).map(key)).toEqual([
      "s.a@50",
      "s.a@60",
    ]);
    expect(late).toEqual(["s.a@50 < 200"]);
    expect(skipped).toEqual(["duplicate s.a@60"]);
    // The next gap starts where HA's clock now is, not at the pre-step high.
    expect(c.newestForwardedUs).toBe(60);
  });

  test("every catch-up row not forwarded is reported with its reason", () => {
    const skipped: string[] = [];
    const c = new Continuity({
      skipped: (reason, ch) => skipped.push(`${reason} ${key(ch)}`),
      outOfOrder: () => {},
    });
    c.connected();
    c.gapClosed();
    c.live([change("s.a", 100)]);
    c.connected(); // a reconnect: a gap after s.a@100
    c.live([change("s.b", 300)]);
    expect(
      c
        .catchUp([change("s.a", 90), change("s.a", 150), change("s.a", 150), change("s.b", 310)], "backfill")
        .map(key),
    ).toEqual(["s.a@150"]);
    expect(skipped).toEqual(["before_gap s.a@90", "duplicate s.a@150", "live_covered s.b@310"]);
  });

  test("a rename carries the entity's continuity to the new id", () => {
    const c = new Continuity();
    c.connected();
    c.gapClosed();
    expect(c.live([change("s.old", 10), change("s.old", 20)]).length).toBe(2);
    c.rename("s.old", "s.new");
    expect(c.live([change("s.new", 20)])).toEqual([]);
    expect(c.live([change("s.new", 30)]).map(key)).toEqual(["s.new@30"]);
  });
});

describe("backfillStart", () => {
  const base = { reconnectMarginMs: 1000, restartMarginMs: 60000, maxMs: 3600_000, nowMs: 10_000_000 };
  test("after a reconnect starts a small margin before the newest live change", () => {
    expect(backfillStart({ ...base, gapStartUs: 9_000_000_000, newestStoredUs: null })).toEqual({
      startUs: 8_999_000_000,
      clamped: false,
    });
  });
  test("after a restart starts the restart margin before the newest stored change", () => {
    expect(backfillStart({ ...base, gapStartUs: null, newestStoredUs: 9_000_000_000 })).toEqual({
      startUs: 8_940_000_000,
      clamped: false,
    });
  });
  test("never reaches further back than backfillMaxMs, and says so", () => {
    expect(backfillStart({ ...base, gapStartUs: null, newestStoredUs: 1_000_000 })).toEqual({
      startUs: (10_000_000 - 3600_000) * 1000,
      clamped: true,
    });
  });
  test("with nothing forwarded or stored there is no gap", () => {
    expect(backfillStart({ ...base, gapStartUs: null, newestStoredUs: null })).toBeNull();
  });
  test("the first window probes a quarter of targetRows at the last live rate, within [1 ms, max]; 1 s without a rate", () => {
    const max = 300_000_000;
    expect(firstWindowUs(max, null, 16_000)).toBe(1_000_000);
    expect(firstWindowUs(500_000, null, 16_000)).toBe(500_000);
    expect(firstWindowUs(max, 200_000, 16_000)).toBe(20_000); // 20 ms at 200,000 changes/s: ~4,000 rows
    expect(firstWindowUs(max, 1, 16_000)).toBe(max);
    expect(firstWindowUs(max, 1e12, 16_000)).toBe(MIN_WINDOW_US);
  });
  test("later windows follow the answers: shrunk in proportion after a large one, doubled after a small one", () => {
    expect(nextWindowUs(80_000, 40_000, 16_000, 300_000_000)).toBe(32_000);
    // An answer ten times too large (a gap denser than the live rate) is not followed by another one.
    expect(nextWindowUs(80_000, 160_000, 16_000, 300_000_000)).toBe(8_000);
    expect(nextWindowUs(80_000, 10_000, 16_000, 300_000_000)).toBe(80_000);
    expect(nextWindowUs(80_000, 100, 16_000, 300_000_000)).toBe(160_000);
    expect(nextWindowUs(200_000_000, 0, 16_000, 300_000_000)).toBe(300_000_000);
    expect(nextWindowUs(1500, 1e9, 16_000, 300_000_000)).toBe(MIN_WINDOW_US);
  });
});

describe("answerSizeBlamed", () => {
  const max = 16 * 1024 * 1024;
  const w = (o: Partial<InterruptedWindow>): InterruptedWindow => ({
    startUs: 0,
    endUs: 10_000,
    closeCode: 1000,
    expectedBytes: 25_000,
    ...o,
  });

  test("a slow-client close (1000) on a small answer, or our own close, is not the answer's fault", () => {
    expect(answerSizeBlamed(w({}), null, max)).toBe(false);
    expect(answerSizeBlamed(w({ closeCode: null, expectedBytes: null }), null, max)).toBe(false);
    // Another stretch than the previous death's (adjacent windows share only their boundary).
    expect(answerSizeBlamed(w({ startUs: 10_000, endUs: 20_000 }), w({}), max)).toBe(false);
  });

  test("a 1009 close, an answer expected at an eighth of maxFrameBytes, or a second death over the same stretch is", () => {
    expect(answerSizeBlamed(w({ closeCode: 1009, expectedBytes: 1 }), null, max)).toBe(true);
    expect(answerSizeBlamed(w({ expectedBytes: max / 8 }), null, max)).toBe(true);
    expect(answerSizeBlamed(w({ expectedBytes: max / 8 - 1 }), null, max)).toBe(false);
    expect(answerSizeBlamed(w({ startUs: 5000, endUs: Number.POSITIVE_INFINITY }), w({}), max)).toBe(true);
  });
});
