import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../runtime/config/load.ts";
import type { StateChange } from "../../runtime/events/messages.ts";
import { Backfiller } from "./backfill.ts";
import { Continuity } from "./logic.ts";
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

  test("with no live change yet on the connection, the last window stays open-ended (HA answers up to its now)", async () => {
    const asked = await backfillRequests(null);
    expect(asked.at(-1)?.[1]).toBeNull();
    expect(asked.slice(0, -1).every(([, end]) => end !== null)).toBe(true);
  });
});
