import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cleanStores } from "nanostores";
import { waitFor } from "../../../runtime/kernel/clock.ts";
import { $liveEvents, clearLiveEvents } from "./live-events.ts";
import { $stream, type StreamStatus } from "./stream.ts";
import { $token, setToken } from "./token.ts";

const GOOD = "stream-test-token-0123456789";
let server: ReturnType<typeof Bun.serve>;
let connections = 0;
const authorizations: (string | null)[] = [];

beforeAll(() => {
  // A real SSE server on 127.0.0.1 that sends one state change per connection and then hangs up,
  // so the store has to reconnect to see the next one.
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname !== "/api/v1/stream") return new Response("no", { status: 404 });
      authorizations.push(req.headers.get("authorization"));
      if (req.headers.get("authorization") !== `Bearer ${GOOD}`)
        return Response.json({ error: "missing or wrong token" }, { status: 401 });
      const n = ++connections;
      const body =
        'event: ready\ndata: {"entityIds":[],"domains":[]}\n\n' +
        `event: state\nid: ${n}\ndata: ${JSON.stringify({ entity_id: `sensor.s${n}`, state: String(n), ts: n })}\n\n`;
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  });
  const g = globalThis as unknown as { location?: unknown; window?: unknown };
  g.location = { origin: `http://127.0.0.1:${server.port}`, hash: "" };
  g.window ??= globalThis;
});

afterAll(() => {
  cleanStores($stream);
  server.stop(true);
});

describe("$stream", () => {
  test("sends the token in the Authorization header, reconnects after each hang-up and feeds the live list", async () => {
    clearLiveEvents();
    const before = $liveEvents.get().received;
    setToken(GOOD);
    const statuses: StreamStatus[] = [];
    const unlisten = $stream.subscribe((s) => {
      if (statuses[statuses.length - 1] !== s.status) statuses.push(s.status);
    });
    await waitFor(() => connections >= 3 && $liveEvents.get().received >= before + 3, {
      timeoutMs: 15_000,
      what: "three connections, three events",
    });
    expect(authorizations.every((a) => a === `Bearer ${GOOD}`)).toBe(true);
    expect(statuses.slice(0, 4)).toEqual(["connecting", "open", "reconnecting", "open"]);
    await waitFor(() => $liveEvents.get().items.length >= 3, { timeoutMs: 2000 });
    expect(
      $liveEvents
        .get()
        .items.map((e) => e.entityId)
        .slice(-3),
    ).toEqual(["sensor.s3", "sensor.s2", "sensor.s1"]);
    unlisten();
  });

  test("stops retrying on a rejected token and asks for a new one", async () => {
    const unlisten = $stream.listen(() => {});
    setToken("a-wrong-token-0123456789");
    await waitFor(() => $stream.get().status === "unauthorized", { timeoutMs: 10_000, what: "unauthorized" });
    expect($token.get()).toEqual({ token: null, rejected: true });
    const tries = authorizations.length;
    await Bun.sleep(1200); // longer than the first backoff: nothing may be retried meanwhile
    expect(authorizations.length).toBe(tries);
    unlisten();
  });
});
