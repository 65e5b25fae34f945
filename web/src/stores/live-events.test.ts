import { describe, expect, test } from "bun:test";
import { waitFor } from "../../../runtime/kernel/clock.ts";
import { decodeEvents, type LiveEvent, matchesFilter } from "../live-event.ts";
import {
  $liveEvents,
  clearLiveEvents,
  LIVE_EVENTS_MAX,
  pauseLiveEvents,
  receiveEvents,
  resumeLiveEvents,
} from "./live-events.ts";

function events(n: number, from = 0): LiveEvent[] {
  const out: LiveEvent[] = [];
  for (let i = 0; i < n; i++)
    decodeEvents({ entity_id: `sensor.s${from + i}`, state: String(i), ts: i }, out);
  return out;
}

describe("$liveEvents", () => {
  test("shows events newest first after the next frame, one store update per frame", async () => {
    clearLiveEvents();
    let updates = 0;
    const unlisten = $liveEvents.listen(() => updates++);
    receiveEvents(events(3));
    receiveEvents(events(2, 3));
    await waitFor(() => $liveEvents.get().items.length === 5, { timeoutMs: 1000 });
    expect($liveEvents.get().items.map((e) => e.entityId)).toEqual([
      "sensor.s4",
      "sensor.s3",
      "sensor.s2",
      "sensor.s1",
      "sensor.s0",
    ]);
    expect(updates).toBe(1);
    unlisten();
  });

  test("never holds more than LIVE_EVENTS_MAX events, keeping the newest", async () => {
    clearLiveEvents();
    receiveEvents(events(LIVE_EVENTS_MAX + 1234));
    await waitFor(() => $liveEvents.get().items.length > 0, { timeoutMs: 1000 });
    const { items } = $liveEvents.get();
    expect(items.length).toBe(LIVE_EVENTS_MAX);
    expect(items[0].entityId).toBe(`sensor.s${LIVE_EVENTS_MAX + 1233}`);
  });

  test("freezes the list while paused, counts what waits, and catches up on resume", async () => {
    clearLiveEvents();
    receiveEvents(events(2));
    await waitFor(() => $liveEvents.get().items.length === 2, { timeoutMs: 1000 });
    pauseLiveEvents();
    receiveEvents(events(3, 2));
    await waitFor(() => $liveEvents.get().pending === 3, { timeoutMs: 1000 });
    expect($liveEvents.get().items.length).toBe(2);
    resumeLiveEvents();
    await waitFor(() => $liveEvents.get().items.length === 5, { timeoutMs: 1000 });
    expect($liveEvents.get().pending).toBe(0);
  });
});

describe("decodeEvents and matchesFilter", () => {
  test("reads StoredEvents (ms) and StateChanges (µs) alike", () => {
    const out: LiveEvent[] = [];
    decodeEvents(
      [
        { entity_id: "light.a", state: "on", ts: 1000 },
        { entity_id: "light.b", state: "off", last_updated: 2_000_000 },
        { nope: 1 },
      ],
      out,
    );
    expect(out.map((e) => [e.entityId, e.domain, e.state, e.ts])).toEqual([
      ["light.a", "light", "on", 1000],
      ["light.b", "light", "off", 2000],
    ]);
    expect(out.map((e) => matchesFilter(e, "light"))).toEqual([true, true]);
    expect(out.map((e) => matchesFilter(e, ".b"))).toEqual([false, true]);
  });
});
