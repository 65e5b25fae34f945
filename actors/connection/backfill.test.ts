import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../runtime/config/load.ts";
import type { StateChange } from "../../runtime/events/messages.ts";
import { Backfiller } from "./backfill.ts";
import { Continuity } from "./logic.ts";
import { RequestError } from "./request-error.ts";
import type { SessionSink } from "./sink.ts";
import { usFromIso } from "./time.ts";

const ha = { ...loadConfig({ env: {} }).ha, backfillSettleMs: 0 };
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
const quietSink = new Proxy({}, { get: () => () => {} }) as SessionSink;

/**
 * A gap of 10 s closed by a backfill against an HA whose history is empty; `liveFromUs` is when the
 * reconnected live stream began (HA's clock), or null when no live change came yet. Returns the history
 * requests as [start, end | null] in µs.
 */
async function backfillRequests(liveFromUs: number | null): Promise<[number, number | null][]> {
  const gapStartUs = 1_800_000_000_000_000;
  const subscribedMs = gapStartUs / 1000 + 10_000;
  const continuity = new Continuity();
  continuity.connected();
  continuity.live([change("sensor.a", gapStartUs)]);
  continuity.gapClosed();
  continuity.connected();
  if (liveFromUs !== null)
    continuity.live([change("sensor.a", liveFromUs + 5), change("sensor.b", liveFromUs)]);
  const asked: [number, number | null][] = [];
  await new Backfiller().run({
    request: async (_type, fields) => {
      const end = typeof fields.end_time === "string" ? usFromIso(fields.end_time) : null;
      asked.push([usFromIso(fields.start_time as string), end]);
      return {};
    },
    current: () => true,
    sleep: async () => {},
    continuity,
    sink: quietSink,
    ha,
    nowMs: () => subscribedMs,
    storedAtStartUs: null,
    entityIds: ["sensor.a", "sensor.b"],
    liveRate: null,
    knownAttributes: () => undefined,
  });
  return asked;
}

describe("Backfiller", () => {
  test("once the live stream has begun, the gap's last window ends where live covers (no open-ended answer of everything since)", async () => {
    const subscribedUs = 1_800_000_000_000_000 + 10_000_000;
    // HA's clock 0.2 s ahead of ours: the pass reaches past our subscription time to HA's.
    const liveFromUs = subscribedUs + 200_000;
    const asked = await backfillRequests(liveFromUs);
    expect(asked.length).toBeGreaterThan(1);
    for (const [, end] of asked) expect(end).not.toBeNull();
    const bound = liveFromUs + ha.reconnectBackfillMarginMs * 1000 + 1;
    expect(asked.at(-1)?.[1]).toBe(bound);
    // The windows tile the gap without holes (each asks 1 µs wider on both sides).
    for (let i = 1; i < asked.length; i++) expect(asked[i][0]).toBe((asked[i - 1][1] as number) - 2);
  });

  test("after HA's clock stepped back, the settle passes re-read the gap's tail on HA's new clock: a change committed late is not lost", async () => {
    const highUs = 1_800_000_000_000_000;
    const continuity = new Continuity();
    continuity.connected();
    continuity.live([change("sensor.a", highUs)]);
    continuity.gapClosed();
    // HA's clock steps back 3 s; 0.5 s later the connection drops and comes back.
    continuity.live([change("sensor.a", highUs - 3_000_000)]);
    continuity.live([change("sensor.a", highUs - 2_500_000)]);
    continuity.connected();
    continuity.live([change("sensor.b", highUs - 2_450_000)]);
    // In the gap, committed by HA's recorder only after the first pass.
    const lateUs = highUs - 2_480_000;
    let settlePasses = 0;
    const forwarded: string[] = [];
    await new Backfiller().run({
      request: async (_type, fields) => {
        const start = usFromIso(fields.start_time as string);
        const end = usFromIso(fields.end_time as string);
        const rows =
          settlePasses > 0 && start < lateUs && lateUs < end ? [{ s: "on", a: {}, lu: lateUs / 1e6 }] : [];
        return { "sensor.a": rows };
      },
      current: () => settlePasses < 3,
      sleep: async () => {
        settlePasses++;
      },
      continuity,
      sink: new Proxy({} as SessionSink, {
        get: (_t, k) =>
          k === "changes"
            ? (_source: string, changes: StateChange[]) => {
                for (const c of changes) forwarded.push(`${c.entity_id}@${c.last_updated}`);
              }
            : () => {},
      }),
      ha: { ...ha, backfillSettleMs: 1000 },
      // Our clock: HA's before the step, 0.55 s on.
      nowMs: () => (highUs + 550_000) / 1000,
      storedAtStartUs: null,
      entityIds: ["sensor.a", "sensor.b"],
      liveRate: null,
      knownAttributes: () => undefined,
    });
    expect(forwarded).toContain(`sensor.a@${lateUs}`);
  });

  test("with no live change yet on the connection, the last window stays open-ended (HA answers up to its now)", async () => {
    const asked = await backfillRequests(null);
    expect(asked.at(-1)?.[1]).toBeNull();
    expect(asked.slice(0, -1).every(([, end]) => end !== null)).toBe(true);
  });
});

/**
 * How HA ends a connection of `windowsAcrossConnections`: it closes it with `closeCode` while a history
 * answer is awaited, after `afterAnswers` answers, or on the first window over `atUs` wider than
 * `widerThanUs` (a socket that dies on answers too large for it). Null: the connection stays.
 */
type Ending = {
  closeCode: number | null;
  afterAnswers?: number;
  over?: { atUs: number; widerThanUs: number };
} | null;

const gapStartUs = 1_800_000_000_000_000;

/**
 * One Backfiller over a 1 s gap whose history holds a row every 100 µs, driven through one connection per
 * ending until one fills the gap. Returns, per connection, the windows asked (µs, without the 1 µs
 * widening on each side), whether the gap was filled, and the log lines.
 */
async function windowsAcrossConnections(
  haOverrides: Partial<typeof ha>,
  endings: Ending[],
): Promise<{ windows: number[][]; filled: boolean; logs: string[] }> {
  const config = { ...ha, backfillWindowRows: 100, ...haOverrides };
  const subscribedMs = gapStartUs / 1000 + 1000;
  const everyUs = 100;
  const continuity = new Continuity();
  continuity.connected();
  continuity.live([change("sensor.b", gapStartUs)]);
  continuity.gapClosed();
  const backfiller = new Backfiller();
  const windows: number[][] = [];
  const logs: string[] = [];
  for (const ending of endings) {
    continuity.connected();
    continuity.live([change("sensor.b", subscribedMs * 1000)]);
    const asked: number[] = [];
    windows.push(asked);
    const filled = await backfiller
      .run({
        request: async (_type, fields) => {
          const start = usFromIso(fields.start_time as string) + 1;
          const end = usFromIso(fields.end_time as string) - 1;
          asked.push(end - start);
          const over = ending?.over;
          if (
            (ending?.afterAnswers !== undefined && asked.length > ending.afterAnswers) ||
            (over && start <= over.atUs && over.atUs < end && end - start > over.widerThanUs)
          )
            throw new RequestError("disconnected", "connection closed", ending?.closeCode ?? null);
          const rows = [];
          for (let t = Math.ceil(start / everyUs) * everyUs; t <= end; t += everyUs)
            rows.push({ s: "on", a: {}, lu: t / 1e6 });
          return { "sensor.a": rows };
        },
        current: () => true,
        sleep: async () => {},
        continuity,
        sink: new Proxy({} as SessionSink, {
          get: (_t, k) => (k === "log" ? (_level: string, msg: string) => logs.push(msg) : () => {}),
        }),
        ha: config,
        nowMs: () => subscribedMs,
        storedAtStartUs: null,
        entityIds: ["sensor.a", "sensor.b"],
        liveRate: null,
        knownAttributes: () => undefined,
      })
      .then(
        () => true,
        (e) => {
          if (e instanceof RequestError) return false;
          throw e;
        },
      );
    if (filled) return { windows, filled, logs };
  }
  return { windows, filled: false, logs };
}

describe("Backfiller across connections HA closes while an answer is awaited", () => {
  test("slow-client closes (1000) during small answers keep the window the answers settled on", async () => {
    const { windows, filled, logs } = await windowsAcrossConnections({}, [
      { afterAnswers: 5, closeCode: 1000 },
      { afterAnswers: 8, closeCode: 1000 },
      { afterAnswers: 12, closeCode: 1000 },
      null,
    ]);
    // ~100 rows a window (25 KB expected, far below an eighth of 16 MiB): each connection starts with the
    // window the last one was reading, and the last one fills the gap in windows of that size.
    expect(filled).toBe(true);
    expect(windows).toHaveLength(4);
    const settled = windows[0].at(-1) as number;
    expect(settled).toBeGreaterThan(9000);
    for (const asked of windows.slice(1)) expect(asked[0]).toBe(settled);
    expect(Math.min(...windows[3].slice(0, -1))).toBe(settled);
    expect(logs).toEqual(["gap backfilled"]);
  });

  test("a close during an answer expected large halves the window, once: the halved one is no longer large", async () => {
    // 128 KiB frames: an eighth is 16 KiB, ~64 rows; the windows aim at 100 rows (25 KB).
    const { windows, filled, logs } = await windowsAcrossConnections({ maxFrameBytes: 128 * 1024 }, [
      { afterAnswers: 5, closeCode: 1000 },
      { afterAnswers: 8, closeCode: 1000 },
      null,
    ]);
    expect(filled).toBe(true);
    const settled = windows[0].at(-1) as number;
    expect(windows[1][0]).toBe(Math.floor(settled / 2));
    expect(windows[2][0]).toBe(windows[1].at(-1) as number);
    expect(Math.max(...windows[2])).toBeLessThanOrEqual(Math.floor(settled / 2));
    expect(logs.filter((l) => l.includes("may be too large"))).toHaveLength(1);
  });

  test("a close for a too-large message (1009) halves even a small window and caps it for the next connections", async () => {
    const { windows, filled } = await windowsAcrossConnections({}, [
      { afterAnswers: 5, closeCode: 1009 },
      null,
    ]);
    expect(filled).toBe(true);
    const settled = windows[0].at(-1) as number;
    expect(windows[1][0]).toBe(Math.floor(settled / 2));
    expect(Math.max(...windows[1])).toBe(Math.floor(settled / 2));
  });

  test("a socket that dies on every answer over 2 ms at one place converges, whatever its close code", async () => {
    // The second death over the same stretch halves; each later one too, until the window fits.
    const dies: Ending = { closeCode: 1006, over: { atUs: gapStartUs + 500_000, widerThanUs: 2000 } };
    const { windows, filled } = await windowsAcrossConnections({}, Array(12).fill(dies));
    expect(filled).toBe(true);
    const settled = windows[1][0];
    expect(windows.slice(2).map((w) => w[0])).toEqual(
      [settled / 2, settled / 4, settled / 8].map(Math.floor),
    );
    expect(windows.at(-1)?.[0]).toBeLessThanOrEqual(2000);
  });
});
