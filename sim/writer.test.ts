import { describe, expect, test } from "bun:test";
import type { Clock } from "../runtime/kernel/clock.ts";
import { ClientWriter, type SlowClientReason, type WriterLimits } from "./writer.ts";

/** A socket whose buffer fills only when the test says so, recording frames and the close. */
function fakeSocket() {
  const s = {
    frames: [] as string[],
    buffered: 0,
    closed: null as number | null,
    send(text: string) {
      s.frames.push(text);
      return text.length;
    },
    getBufferedAmount: () => s.buffered,
    close(code?: number) {
      s.closed = code ?? 1005;
    },
  };
  return s;
}

/** Timers that fire only when the test advances time. */
function manualClock() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 0;
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      timers.set(++next, { at: now + ms, fn });
      return next;
    },
    clearTimeout: (h) => {
      timers.delete(h as number);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [h, t] of [...timers]) {
      if (t.at > now) continue;
      timers.delete(h);
      t.fn();
    }
  };
  return { clock, advance, pending: () => timers.size };
}

const HA: WriterLimits = {
  maxPending: 4096,
  peakPending: 1024,
  peakMs: 10_000,
  socketLimitBytes: 1 << 20,
  coalesce: true,
};

function setup(limits: Partial<WriterLimits> = {}) {
  const ws = fakeSocket();
  const { clock, advance, pending } = manualClock();
  const slow: SlowClientReason[] = [];
  const w = new ClientWriter(ws, { ...HA, ...limits }, { sent: () => {}, slow: (r) => slow.push(r) }, clock);
  return { ws, w, slow, advance, pending };
}

const tick = () => new Promise<void>((r) => queueMicrotask(r));

describe("ClientWriter (HA's websocket writer)", () => {
  test("a coalescing client gets everything queued in one turn as one array; a lone message unwrapped", async () => {
    const { ws, w } = setup();
    w.coalesce = true;
    w.enqueue('{"id":1}');
    w.enqueue('{"id":2}');
    w.enqueue('{"id":3}');
    expect(ws.frames).toEqual([]);
    await tick();
    w.enqueue('{"id":4}');
    await tick();
    expect(ws.frames).toEqual(['[{"id":1},{"id":2},{"id":3}]', '{"id":4}']);
  });

  test("without coalescing (not asked, or switched off) every message is its own frame", async () => {
    for (const [asked, allowed] of [
      [false, true],
      [true, false],
    ]) {
      const { ws, w } = setup({ coalesce: allowed });
      w.coalesce = asked;
      w.enqueue("a");
      w.enqueue("b");
      await tick();
      expect(ws.frames).toEqual(["a", "b"]);
    }
  });

  test("while the socket buffers 1 MiB the queue grows; on drain it all goes out as one frame", async () => {
    const { ws, w } = setup();
    w.coalesce = true;
    ws.buffered = 1 << 20;
    for (let i = 0; i < 1000; i++) w.enqueue(String(i));
    await tick();
    expect([ws.frames.length, w.pendingMessages]).toEqual([0, 1000]);
    ws.buffered = 0;
    w.write();
    expect(ws.frames.length).toBe(1);
    expect(JSON.parse(ws.frames[0])).toHaveLength(1000);
    expect(w.pendingMessages).toBe(0);
  });

  test("the 4,096th queued message closes the client with 1000, drops the queue and ignores later messages", async () => {
    const { ws, w, slow, pending } = setup();
    ws.buffered = 1 << 20;
    for (let i = 0; i < 4095; i++) w.enqueue("m");
    expect(ws.closed).toBeNull();
    w.enqueue("m");
    expect([ws.closed, slow, w.pendingMessages, pending()]).toEqual([1000, ["max_pending"], 0, 0]);
    w.enqueue("late");
    ws.buffered = 0;
    w.write();
    await tick();
    expect(ws.frames).toEqual([]);
  });

  test("more than 1,024 queued for 10 s closes the client; dipping to 1,024 before then does not", async () => {
    const a = setup();
    a.ws.buffered = 1 << 20;
    for (let i = 0; i < 1025; i++) a.w.enqueue("m");
    a.advance(9_999);
    expect(a.ws.closed).toBeNull();
    a.advance(1);
    expect([a.ws.closed, a.slow]).toEqual([1000, ["peak_pending"]]);

    const b = setup();
    b.ws.buffered = 1 << 20;
    for (let i = 0; i < 1025; i++) b.w.enqueue("m");
    b.advance(5_000);
    // The socket takes it all; the next message finds the queue small and stops the check, as in HA.
    b.ws.buffered = 0;
    b.w.write();
    b.w.enqueue("m");
    b.advance(10_000);
    expect([b.ws.closed, b.slow]).toEqual([null, []]);
  });

  test("a peak that has drained when the check fires is forgiven even with no message since", () => {
    const { ws, w, advance } = setup();
    ws.buffered = 1 << 20;
    for (let i = 0; i < 1100; i++) w.enqueue("m");
    ws.buffered = 0;
    w.write();
    advance(10_000);
    expect(ws.closed).toBeNull();
  });
});
