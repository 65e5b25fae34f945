import { describe, expect, test } from "bun:test";
import { waitFor } from "../runtime/kernel/clock.ts";
import { clientFrame, rawClient, simulators } from "./test-client.ts";

const sim = simulators();

describe("simulated HA's slow-client rules", () => {
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
});
