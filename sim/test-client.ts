/**
 * Test clients for the simulator: a WebSocket client that records every message, one that can stop
 * reading (raw TCP), and the requests tests repeat.
 */
import { afterEach } from "bun:test";
import { connect, type Socket } from "node:net";
import { waitFor } from "../runtime/kernel/clock.ts";
import { type Simulator, startSimulator } from "./server.ts";

/** Starts simulators for the current test file (rate 0, token "tok") and stops them after each test. */
export function simulators() {
  let sims: Simulator[] = [];
  afterEach(async () => {
    for (const s of sims) await s.stop();
    sims = [];
  });
  return async (opts: Parameters<typeof startSimulator>[0] = {}) => {
    const s = await startSimulator({ rate: 0, token: "tok", ...opts });
    sims.push(s);
    return s;
  };
}

/** A raw WebSocket client that records every message (arrays flattened) in order. */
export async function client(url: string) {
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
export function clientFrame(text: string): Buffer {
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
export async function rawClient(port: number, token: string) {
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
export const isoOf = (us: number) =>
  new Date(Math.floor(us / 1000))
    .toISOString()
    .replace(/\.\d{3}Z$/, `.${String(us % 1e6).padStart(6, "0")}+00:00`);

/** A history request for every recorded row of `ids` (the client's parameters). */
export const historyAsk = (id: number, ids: string[]) => ({
  id,
  type: "history/history_during_period",
  start_time: "2000-01-01T00:00:00+00:00",
  entity_ids: ids,
  include_start_time_state: false,
  significant_changes_only: false,
  minimal_response: false,
  no_attributes: false,
});

export async function authed(s: Simulator) {
  const c = await client(s.url);
  await c.next((m) => m.type === "auth_required");
  c.send({ type: "auth", access_token: s.token });
  await c.next((m) => m.type === "auth_ok");
  return c;
}
