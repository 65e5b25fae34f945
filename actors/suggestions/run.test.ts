import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seedStore } from "../../test/support/synthetic-home/habits-store.ts";
import { openHistorySource } from "./history-source.ts";
import { DEFAULT_MINER_OPTIONS, type MinerOptions } from "./miner/types.ts";
import { mineHistory, runMining } from "./run.ts";
import { SuggestionStore } from "./suggestion-store.ts";

// Mining a month of history is seconds of CPU on a busy 2-core box; the default 5 s is too tight.
setDefaultTimeout(30_000);

const DAY = 86_400_000;
const START = Date.UTC(2026, 9, 5);
const options: MinerOptions = { ...DEFAULT_MINER_OPTIONS, from: START, to: START + 30 * DAY };
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "homeiq-suggestions-"));
  seedStore(dir, { start: START, days: 30, entities: 24, seed: 7, planted: true, sensorEveryMin: 30 });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("history source over events.db", () => {
  test("streams only mined entities, in time order, in chunks of the configured size", async () => {
    const source = openHistorySource(dir)!;
    const sizes: number[] = [];
    let last = 0;
    let ordered = true;
    const entities = new Set<string>();
    for await (const chunk of source.chunks(START, START + 2 * DAY, 1000)) {
      sizes.push(chunk.length);
      for (const e of chunk) {
        if (e.ts < last) ordered = false;
        last = e.ts;
        entities.add(e.entityId);
      }
    }
    source.close();
    expect(ordered).toBe(true);
    expect(sizes.length).toBeGreaterThan(1);
    expect(sizes.every((n) => n > 0 && n <= 1000)).toBe(true);
    expect(last).toBeLessThan(START + 2 * DAY);
    expect(entities.has("light.kitchen")).toBe(true);
    expect(entities.has("sensor.living_room_temperature")).toBe(true);
    expect([...entities].some((e) => e.endsWith("_power"))).toBe(false);
  });

  test("returns nothing to mine when the store does not exist yet", async () => {
    const empty = mkdtempSync(join(tmpdir(), "homeiq-suggestions-empty-"));
    expect(openHistorySource(empty)).toBeNull();
    expect(await mineHistory(empty, options, 1000)).toEqual({ suggestions: [], events: 0, dropped: 0 });
    rmSync(empty, { recursive: true, force: true });
  });

  test("mining through SQL finds the four planted habits", async () => {
    const { suggestions } = await mineHistory(dir, options, 5000);
    const kinds = suggestions.map((s) => `${s.kind}:${s.entities[0]}`);
    expect(kinds).toContain("time_of_day:light.kitchen");
    expect(kinds).toContain("co_occurrence:binary_sensor.front_door");
    expect(kinds).toContain("left_on:light.living_room");
    expect(kinds).toContain("threshold:climate.living_room");
    expect(suggestions.some((s) => s.entities.some((e) => e.includes("noise")))).toBe(false);
  });
});

describe("runs and decisions in suggestions.db", () => {
  test("a dismissed suggestion never comes back, an accepted one stays accepted, vanished ones go", async () => {
    const state = mkdtempSync(join(tmpdir(), "homeiq-suggestions-db-"));
    const store = new SuggestionStore(state);
    let now = START + 30 * DAY;
    const deps = { dataDir: dir, store, options, chunkEvents: 5000, maxOpen: 100, now: () => now };
    const first = await runMining(deps, "manual");
    expect(first.run.error).toBeNull();
    expect(first.run.added).toBe(first.run.found);
    const open = store.list("open");
    const hallway = open.find((s) => s.kind === "co_occurrence")!;
    const kitchen = open.find((s) => s.kind === "time_of_day" && s.entities[0] === "light.kitchen")!;
    expect(store.setStatus(hallway.id, "dismissed", now)?.status).toBe("dismissed");
    expect(store.setStatus(kitchen.id, "accepted", now)?.status).toBe("accepted");
    expect(store.setStatus("0000000000000000", "accepted", now)).toBeUndefined();

    now += 1000;
    const second = await runMining(deps, "schedule");
    expect(second.run.suppressed).toBe(1);
    expect(second.run.added).toBe(0);
    expect(store.list("open").map((s) => s.id)).not.toContain(hallway.id);
    expect(store.get(hallway.id)?.status).toBe("dismissed");
    expect(store.get(kitchen.id)?.status).toBe("accepted");

    // Mining a window without the habits removes the open ones but keeps the decisions.
    now += 1000;
    const third = await runMining(
      { ...deps, options: { ...options, from: START, to: START + DAY } },
      "manual",
    );
    expect(third.run.open).toBe(0);
    expect(store.list("open")).toEqual([]);
    expect(
      store
        .list("all")
        .map((s) => s.status)
        .sort(),
    ).toEqual(["accepted", "dismissed"]);
    expect(store.lastRun()?.id).toBe(third.run.id);
    store.close();
    rmSync(state, { recursive: true, force: true });
  });

  test("a decision also covers the same habit after its time drifts a little", () => {
    const state = mkdtempSync(join(tmpdir(), "homeiq-suggestions-db-"));
    const store = new SuggestionStore(state);
    const base = {
      family: "fam",
      kind: "time_of_day" as const,
      title: "t",
      explanation: "e",
      entities: ["light.a"],
      evidence: { count: 5, days: [], dayCount: 5, confidence: 0.9, detail: {} },
      automation: {
        alias: "",
        description: "",
        triggers: [],
        conditions: [],
        actions: [],
        mode: "single" as const,
      },
      yaml: "",
    };
    store.reconcile([{ ...base, id: "a".repeat(16), param: 420 }], 1, 10);
    store.setStatus("a".repeat(16), "dismissed", 2);
    const drifted = store.reconcile([{ ...base, id: "b".repeat(16), param: 450 }], 3, 10);
    expect(drifted).toMatchObject({ added: 0, suppressed: 1 });
    const moved = store.reconcile([{ ...base, id: "c".repeat(16), param: 600 }], 4, 10);
    expect(moved).toMatchObject({ added: 1, suppressed: 0 });
    // Accepted works the same way: a drifted copy of a taken automation is not offered again.
    store.setStatus("c".repeat(16), "accepted", 5);
    expect(store.reconcile([{ ...base, id: "d".repeat(16), param: 620 }], 6, 10)).toMatchObject({
      added: 0,
      suppressed: 1,
    });
    // Midnight wraps: 23:50 is 20 minutes from 00:10.
    store.reconcile([{ ...base, id: "e".repeat(16), param: 1430 }], 7, 10);
    store.setStatus("e".repeat(16), "dismissed", 8);
    expect(store.reconcile([{ ...base, id: "f".repeat(16), param: 10 }], 9, 10)).toMatchObject({
      suppressed: 1,
    });
    store.close();
    rmSync(state, { recursive: true, force: true });
  });
});
