import { describe, expect, test } from "bun:test";
import { toEntityPage, toEntityView, withLatest } from "./entity-view.ts";
import { formatState, stateParts } from "./format.ts";
import { decodeEvents, type LiveEvent } from "./live-event.ts";
import { toMetricsView } from "./metrics-view.ts";

describe("toMetricsView", () => {
  const metrics = {
    at: 1000,
    rates: { receivedPerSecond: 10, storedPerSecond: 9, exportedPerSecond: 8, windowSeconds: 5 },
    totals: {
      events_received_total: 100,
      events_stored_total: 90,
      events_exported_total: 80,
      events_duplicate_total: 1,
      influx_dead_letter_total: 0,
      live_dropped_total: 2,
    },
    influx: { configured: true },
    lag: { influxEvents: 10, influxSeconds: 1.5 },
    store: { bytes: 2048, events: 90 },
    spool: { bytes: 0, events: 0 },
    ha: { connected: true, status: { state: "connected", url: "ws://ha", since: 5, haVersion: "2025.1" } },
    actors: [
      { name: "batcher", state: "running", restarts: 1, cpuSeconds: 12.5 },
      { name: "connection", state: "running", restarts: 0, cpuSeconds: 0 },
    ],
    process: { rssBytes: 150_000_000, cpuSeconds: 40, hubCpuSeconds: 3 },
    live: { clients: 1 },
  };

  test("joins each actor with its mailbox depth and the edges it sends on", () => {
    const view = toMetricsView(metrics, {
      status: "ok",
      actors: [
        { name: "batcher", state: "running", restarts: 1, mailboxDepth: 3, mailboxOldestAgeMs: 0 },
        {
          name: "connection",
          state: "running",
          restarts: 0,
          mailboxDepth: 0,
          mailboxOldestAgeMs: 0,
          lastError: "boom",
        },
      ],
      reasons: [],
      edges: [
        { edge: "batcher->hub", outstanding: 2 },
        { edge: "connection->batcher", outstanding: 4 },
      ],
      ha: null,
      influx: { lagEvents: 10, lagSeconds: 1.5 },
      store: { bytes: 2048, events: 90, holdingUnexported: false, droppedUnexported: 0 },
      live: { clients: 1 },
    });
    expect(view.actors).toEqual([
      {
        name: "batcher",
        state: "running",
        restarts: 1,
        cpuSeconds: 12.5,
        lastError: null,
        mailboxDepth: 3,
        outbound: [{ edge: "batcher->hub", outstanding: 2 }],
      },
      {
        name: "connection",
        state: "running",
        restarts: 0,
        cpuSeconds: 0,
        lastError: "boom",
        mailboxDepth: 0,
        outbound: [{ edge: "connection->batcher", outstanding: 4 }],
      },
    ]);
    expect(view.ha).toEqual({ state: "connected", url: "ws://ha", since: 5, version: "2025.1", error: null });
    expect([view.received, view.stored, view.exported, view.receivedRate]).toEqual([100, 90, 80, 10]);
    expect([view.rssBytes, view.cpuSeconds]).toEqual([150_000_000, 40]);
  });

  test("knows whether InfluxDB is configured, reading an older server without the field as configured", () => {
    expect(toMetricsView(metrics, null).influxConfigured).toBe(true);
    expect(toMetricsView({ ...metrics, influx: { configured: false } }, null).influxConfigured).toBe(false);
    const { influx: _, ...older } = metrics;
    expect(toMetricsView(older as typeof metrics, null).influxConfigured).toBe(true);
  });

  test("without the deep health report, depths are unknown rather than zero", () => {
    expect(toMetricsView(metrics, null).actors.map((a) => a.mailboxDepth)).toEqual([null, null]);
  });
});

describe("toEntityView", () => {
  test("reads the registry row: names, area and device names, domain", () => {
    const e = toEntityView({
      entity_id: "light.kitchen",
      name: null,
      domain: "light",
      device_id: "d1",
      device_name: "Kitchen bulb",
      area_id: "kitchen",
      area_name: "Kitchen",
    });
    expect(e).toMatchObject({
      entityId: "light.kitchen",
      name: "light.kitchen",
      domain: "light",
      area: "Kitchen",
      areaId: "kitchen",
      device: "Kitchen bulb",
    });
  });

  test("keeps pages' cursor and total, and skips rows without an entity id", () => {
    const page = toEntityPage({ items: [{ entity_id: "a.b" }, { nope: 1 }], nextCursor: "x", total: 7 });
    expect([page.items.map((e) => e.entityId), page.nextCursor, page.total]).toEqual([["a.b"], "x", 7]);
  });
});

describe("formatState", () => {
  test("puts the unit after numeric states only, as HA's frontend does", () => {
    expect(formatState("22.3", "°C")).toBe("22.3 °C");
    expect(formatState("-4", "W")).toBe("-4 W");
    expect(formatState("on", "°C")).toBe("on");
    expect(formatState("unavailable", "%")).toBe("unavailable");
    expect(formatState("22.3", null)).toBe("22.3");
    expect(formatState(null, "°C")).toBe("—");
    expect(formatState("", "°C")).toBe("—");
    expect(stateParts("45", "%")).toEqual({ value: "45", unit: "%" });
    expect(stateParts(" ", "%")).toEqual({ value: " ", unit: null });
  });
});

describe("withLatest", () => {
  const registry = (name: string | null) =>
    toEntityView({ entity_id: "sensor.kitchen_t", name, domain: "sensor", area_id: null })!;
  const latest = {
    state: "22.3",
    last_changed: 1000,
    attributes: { friendly_name: "Kitchen temperature", unit_of_measurement: "°C" },
  };

  test("names an entity without a registry name by its friendly_name and takes the event's unit", () => {
    const e = withLatest(registry(null), latest);
    expect([e.name, e.unit, e.state, e.lastChanged]).toEqual(["Kitchen temperature", "°C", "22.3", 1000]);
    expect(e.attributes.friendly_name).toBe("Kitchen temperature");
  });

  test("keeps the registry's name, and the entity unchanged without an event", () => {
    expect(withLatest(registry("Oven side"), latest).name).toBe("Oven side");
    const bare = registry(null);
    expect(withLatest(bare, null)).toBe(bare);
    expect(withLatest(bare, { ...latest, attributes: {} }).name).toBe("sensor.kitchen_t");
  });
});

describe("decodeEvents", () => {
  test("keeps friendly_name and unit from attributes as an object (StoredEvent) or JSON text (StateChange)", () => {
    const out: LiveEvent[] = [];
    decodeEvents(
      [
        {
          entity_id: "sensor.t",
          state: "21",
          ts: 5,
          attributes: { friendly_name: "Hall", unit_of_measurement: "°C" },
        },
        {
          entity_id: "sensor.h",
          state: "40",
          last_updated: 7000,
          attributes: '{"unit_of_measurement":"%","friendly_name":"Hall humidity"}',
        },
        { entity_id: "light.l", state: "on", ts: 9, attributes: '{"brightness":3}' },
        { entity_id: "light.m", state: "on", ts: 9, attributes: '{"friendly_name": broken' },
      ],
      out,
    );
    expect(out.map((e) => [e.entityId, e.name, e.unit, formatState(e.state, e.unit)])).toEqual([
      ["sensor.t", "Hall", "°C", "21 °C"],
      ["sensor.h", "Hall humidity", "%", "40 %"],
      ["light.l", null, null, "on"],
      ["light.m", null, null, "on"],
    ]);
  });
});
