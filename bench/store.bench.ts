/**
 * Store ingest, bytes per raw event on disk, and rollup speed. Targets: ingest ≥100,000 events/s
 * sustained; ≤40 bytes per raw event including indexes (reported honestly, with and without contexts).
 *
 *   bun run bench/store.bench.ts            (HOMEIQ_BENCH_QUICK=1 for a short run)
 *
 * HOMEIQ_BENCH_EVENTS=600000 for a longer run.
 *
 * Events look like a real home: 300 entities, 70% numeric sensors with one decimal, 30% on/off-like
 * text states, stable attributes per entity, a fresh ULID context per event, a user on 5%.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bench, run, summary } from "mitata";
import type { StateChange } from "../runtime/events/messages.ts";
import { StoreMaintenance } from "../runtime/store/maintenance.ts";
import { openStoreReader } from "../runtime/store/reader.ts";
import { openStoreWriter, type StoreWriter } from "../runtime/store/writer.ts";
import { replayHome } from "./lib/replay-home.ts";

const QUICK = Boolean(process.env.HOMEIQ_BENCH_QUICK);
const N = Number(process.env.HOMEIQ_BENCH_EVENTS ?? (QUICK ? 50_000 : 200_000));
const BATCH = Number(process.env.HOMEIQ_BENCH_BATCH ?? 10_000);
const ENTITIES = 300;
const T0 = Date.now() * 1000 - 3 * 86_400_000_000;
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

let seed = 42;
const random = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x80000000;
};
function ulid(ms: number): string {
  let text = "";
  for (let i = 0; i < 10; i++) text += CROCKFORD[Math.floor(ms / 32 ** (9 - i)) % 32];
  for (let i = 0; i < 16; i++) text += CROCKFORD[Math.floor(random() * 32)];
  return text;
}

export function makeEvents(n: number, offset: number, withContext = true): StateChange[] {
  const out: StateChange[] = [];
  for (let i = offset; i < offset + n; i++) {
    const e = i % ENTITIES;
    const us = T0 + i * 1000; // 1,000 events/s
    const numeric = e % 10 < 7;
    out.push({
      entity_id: numeric ? `sensor.room_${e}_power` : `light.room_${e}`,
      state: numeric ? (100 + ((i * 7) % 2000) / 10).toFixed(1) : i % 3 === 0 ? "off" : "on",
      attributes: numeric
        ? `{"unit_of_measurement":"W","device_class":"power","friendly_name":"Room ${e} power"}`
        : `{"friendly_name":"Room ${e} light","supported_color_modes":["brightness"],"brightness":${(e * 37) % 255}}`,
      last_changed: us,
      last_updated: us,
      context_id: withContext ? ulid(Math.floor(us / 1000)) : null,
      context_parent_id: null,
      context_user_id: withContext && i % 20 === 0 ? "9a1b8c7d6e5f40312233445566778899" : null,
    });
  }
  return out;
}

/**
 * Ingest rate by wall time and by this process's CPU time (the shared 2-core box is often overloaded),
 * with the bulk entity index built as the batcher builds it: a step per `rollupChunk` rows stored.
 */
function ingest(
  store: StoreWriter,
  maintenance: StoreMaintenance,
  n: number,
  batchAt: (offset: number, n: number) => StateChange[],
): { wall: number; cpu: number } {
  let wall = 0;
  let cpu = 0;
  let unindexed = 0;
  for (let off = 0; off < n; off += BATCH) {
    const batch = batchAt(off, Math.min(BATCH, n - off));
    const started = performance.now();
    const c0 = process.cpuUsage();
    store.writeEvents(batch);
    unindexed += batch.length;
    if (unindexed >= 50_000) {
      maintenance.indexStep(50_000);
      unindexed = 0;
    }
    const c1 = process.cpuUsage(c0);
    wall += performance.now() - started;
    cpu += (c1.user + c1.system) / 1000;
  }
  return { wall: n / (wall / 1000), cpu: n / (cpu / 1000) };
}

function measure(n: number, batchAt: (offset: number, n: number) => StateChange[]) {
  const dir = mkdtempSync(join(tmpdir(), "homeiq-bench-store-"));
  const store = openStoreWriter(dir, { dictionaryCache: 10_000 });
  const maintenance = new StoreMaintenance(store, {
    rawDays: 7,
    hourlyDays: 30,
    dailyDays: 90,
    maxBytes: 1e13,
    rollupChunk: 50_000,
    unexportedHoldBytes: 0,
  });
  const rate = ingest(store, maintenance, n, batchAt);
  while (maintenance.indexStep(50_000) > 0);
  store.db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  const rolledStart = performance.now();
  let rolled = 0;
  for (let n = maintenance.rollupStep(); n > 0; n = maintenance.rollupStep()) rolled += n;
  const rollupRate = rolled / ((performance.now() - rolledStart) / 1000);
  // Trim the journal as it is in steady state (behind the rollup and the Influx cursor).
  maintenance.retentionStep(Date.now());
  while (maintenance.retentionStep(Date.now()).journalTrimmed > 0);
  let breakdown = "";
  try {
    const rows = store.db
      .query("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC")
      .all() as { name: string; bytes: number }[];
    breakdown = rows
      .slice(0, 6)
      .map((r) => `${r.name} ${(r.bytes / n).toFixed(1)}`)
      .join(", ");
  } catch {
    breakdown = "(dbstat not compiled in)";
  }
  const perEvent = maintenance.usedBytes() / n;
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return { rate, rollupRate, perEvent, breakdown };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en");
console.log(
  `load average before the run: ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")} (2 cores)`,
);
const full = measure(N, (off, n) => makeEvents(n, off, true));
console.log(
  `store ingest: ${fmt(full.rate.wall)} events/s wall, ${fmt(full.rate.cpu)} events/s per CPU-second (transactions of ${BATCH}, ${fmt(N)} events, fresh ULID context per event)`,
);
console.log(
  `store bytes/event: ${full.perEvent.toFixed(1)} incl. indexes and dictionaries [bytes/event per table/index: ${full.breakdown}]`,
);
const bare = measure(N, (off, n) => makeEvents(n, off, false));
console.log(
  `store bytes/event without contexts: ${bare.perEvent.toFixed(1)} (ingest ${fmt(bare.rate.wall)} events/s wall, ${fmt(bare.rate.cpu)} per CPU-second)`,
);
console.log(`store rollup: ${fmt(full.rollupRate)} events/s into hourly+daily`);
// A replay of the simulator's home (bench/lib/replay-home.ts): cadences, unchanged writes dropped, shared
// automation-run contexts, users; a day (6 hours with HOMEIQ_BENCH_QUICK).
const replayHours = QUICK ? 6 : 24;
const replay = replayHome({ entities: ENTITIES, hours: replayHours, seed: 7, startUs: T0 });
const home = measure(replay.length, (off, n) => replay.slice(off, off + n));
console.log(
  `store bytes/event on a replayed home: ${home.perEvent.toFixed(1)} (${fmt(replay.length)} events, ${ENTITIES} entities, ${replayHours} h) [${home.breakdown}]`,
);

// Reads on the replayed home, as the API asks them: median CPU time of each (the box is shared).
{
  const dir = mkdtempSync(join(tmpdir(), "homeiq-bench-store-"));
  const store = openStoreWriter(dir, { dictionaryCache: 10_000 });
  const maintenance = new StoreMaintenance(store, {
    rawDays: 7,
    hourlyDays: 30,
    dailyDays: 90,
    maxBytes: 1e13,
    rollupChunk: 50_000,
    unexportedHoldBytes: 0,
  });
  for (let off = 0; off < replay.length; off += BATCH) store.writeEvents(replay.slice(off, off + BATCH));
  while (maintenance.indexStep(50_000) > 0);
  while (maintenance.rollupStep() > 0);
  const reader = openStoreReader(dir);
  const sensor = replay.find((e) => e.entity_id.endsWith("_power"))?.entity_id as string;
  const run = replay.find((e) => e.context_parent_id !== null)?.context_parent_id as string;
  const fromMs = T0 / 1000;
  const toMs = fromMs + replayHours * 3_600_000;
  const cpuMedianMs = (f: () => unknown, n: number) => {
    for (let i = 0; i < 5; i++) f();
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const c0 = process.cpuUsage();
      f();
      const c = process.cpuUsage(c0);
      ms.push((c.user + c.system) / 1000);
    }
    return ms.sort((x, y) => x - y)[n >> 1].toFixed(3);
  };
  const n = QUICK ? 50 : 200;
  const figures = [
    ["events page of 100, newest", () => reader.events({ limit: 100 })],
    ["events page of 100, one entity", () => reader.events({ limit: 100, entityIds: [sensor] })],
    ["events page of 100, domain light", () => reader.events({ limit: 100, domain: "light" })],
    [
      `raw history of ${sensor}, ${replayHours} h`,
      () => reader.history(sensor, { from: fromMs, to: toMs, resolution: "raw" }),
    ],
    ["contextEvents of an automation run", () => reader.contextEvents(run)],
  ] as const;
  console.log(
    `store queries on the replayed home (median CPU ms): ${figures.map(([name, f]) => `${name} ${cpuMedianMs(f, n)}`).join("; ")}`,
  );
  reader.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

// Transaction size: what one commit costs per event, for choosing batcher.maxEvents.
const dir = mkdtempSync(join(tmpdir(), "homeiq-bench-store-"));
const store = openStoreWriter(dir, { dictionaryCache: 10_000 });
let offset = 0;
summary(() => {
  for (const size of QUICK ? [100, 2000] : [100, 2000, 10_000]) {
    const pool = makeEvents(size * 50, 0);
    bench(`commit ${size} events`, () => {
      const start = (offset % 50) * size;
      // Shift times by one pool span per lap so every call inserts new rows (duplicates are cheaper).
      const shift = Math.floor(offset / 50) * size * 50 * 1000;
      const batch = pool.slice(start, start + size).map((e) => ({
        ...e,
        last_updated: e.last_updated + shift,
        last_changed: e.last_changed + shift,
      }));
      offset++;
      const result = store.writeEvents(batch);
      if (result.inserted.length !== size) throw new Error("bench: expected only new rows");
    });
  }
});
await run({ format: QUICK ? "quiet" : undefined });
store.close();
rmSync(dir, { recursive: true, force: true });
