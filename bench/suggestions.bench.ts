/**
 * Automation-suggestion mining over 30 days of a 300-entity home. Target: < 5 s on 2 cores, streaming
 * through SQL in chunks, without stalling ingest.
 *
 * The home: the suggestions synthetic home (test/support/synthetic-home/habits.ts) — planted habits plus
 * ~290 noise entities (≈ 170 sensors reporting every 5 min, toggles, motion sensors), ≈ 50,000 events a
 * day, written through the store's own writer. Printed: the mining time (SQL read + miner, cold and
 * warm), rows the miner actually read (power meters and other unused sensors stay on disk), and the
 * store writer's batch latency with and without a mining run in a worker thread at the same time.
 *
 *   bun run bench/suggestions.bench.ts     (HOMEIQ_BENCH_QUICK=1: 7 days; HOMEIQ_BENCH_KEEP=<dir> reuses a seeded dir)
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bench, run, summary } from "mitata";
import { openHistorySource } from "../actors/suggestions/history-source.ts";
import { createMiner } from "../actors/suggestions/miner/miner.ts";
import { DEFAULT_MINER_OPTIONS, type MinerEvent } from "../actors/suggestions/miner/types.ts";
import { mineHistory } from "../actors/suggestions/run.ts";
import type { StateChange } from "../runtime/events/messages.ts";
import { openStoreWriter } from "../runtime/store/writer.ts";
import { seedStore } from "../test/support/synthetic-home/habits-store.ts";

const DAY = 86_400_000;
const DAYS = process.env.HOMEIQ_BENCH_QUICK ? 7 : 30;
const ENTITIES = 300;
const start = Date.UTC(2026, 9, 5);
const from = start;
const to = start + DAYS * DAY;
const keep = process.env.HOMEIQ_BENCH_KEEP;
const dir = keep ?? mkdtempSync(join(tmpdir(), "suggestions-bench-"));

let t0 = performance.now();
if (!keep || !existsSync(join(dir, "events.db"))) {
  const written = seedStore(dir, { start, days: DAYS, entities: ENTITIES, seed: 11, planted: true }, 10_000);
  console.log(
    `seeded ${written.toLocaleString("en")} events (${DAYS} days × ${ENTITIES} entities) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

// Mining as the actor does it: read-only connection, 20,000-row chunks, miner fed chunk by chunk.
// CPU time is printed too: mining is one thread, so on 2 free cores wall time ≈ CPU time, and on a shared
// box the CPU figure is the one that does not depend on the neighbours.
const times: number[] = [];
const cpu: number[] = [];
let result = await mineHistory(dir, { ...DEFAULT_MINER_OPTIONS, from, to }, 20_000);
for (let i = 0; i < 3; i++) {
  t0 = performance.now();
  const c0 = process.cpuUsage();
  result = await mineHistory(dir, { ...DEFAULT_MINER_OPTIONS, from, to }, 20_000);
  const c = process.cpuUsage(c0);
  times.push(performance.now() - t0);
  cpu.push((c.user + c.system) / 1000);
}
times.sort((a, b) => a - b);
cpu.sort((a, b) => a - b);
console.log(
  `suggestions mining: ${DAYS} days × ${ENTITIES} entities, ${result.events.toLocaleString("en")} rows mined, ${result.suggestions.length} suggestions in ${Math.round(times[0])} ms wall (best of 3; median ${Math.round(times[1])} ms), ${Math.round(cpu[0])} ms CPU (median ${Math.round(cpu[1])} ms)`,
);
for (const s of result.suggestions)
  console.log(`  ${s.kind.padEnd(13)} ${s.evidence.confidence.toFixed(2)}  ${s.title}`);

// Ingest while mining: the store writer's batch latency alone and with a mining worker running.
const writer = openStoreWriter(dir, { dictionaryCache: 10_000 });
let nextUs = to * 1000 + 1;
const batch = (): StateChange[] =>
  Array.from({ length: 2000 }, (_, i) => {
    const us = nextUs++;
    return {
      entity_id: `sensor.ingest_${i % 300}`,
      state: String((i % 200) / 10),
      attributes: "{}",
      last_changed: us,
      last_updated: us,
      context_id: null,
      context_parent_id: null,
      context_user_id: null,
    };
  });
async function writeLatencies(until: () => boolean, minBatches: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < minBatches || !until()) {
    const events = batch();
    const t = performance.now();
    writer.writeEvents(events);
    out.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
  return out.sort((a, b) => a - b);
}
const p = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))].toFixed(1);
const alone = await writeLatencies(() => true, 50);
const worker = new Worker(
  new URL("../test/support/workers/suggestions-mine-worker.ts", import.meta.url).href,
);
let mined: { ms: number; events: number } | undefined;
worker.onmessage = (e) => {
  mined = e.data;
};
worker.postMessage({ dir, from, to });
const during = await writeLatencies(() => mined !== undefined, 10);
worker.terminate();
writer.close();
console.log(
  `ingest while mining: 2000-event batches p50/p99/max ${p(during, 0.5)}/${p(during, 0.99)}/${p(during, 1)} ms (alone ${p(alone, 0.5)}/${p(alone, 0.99)}/${p(alone, 1)} ms); the mining worker took ${Math.round(mined!.ms)} ms`,
);

// The pure miner on one day already in memory (no SQL), for a stable per-day figure.
const source = openHistorySource(dir)!;
const day: MinerEvent[] = [];
for await (const chunk of source.chunks(from + DAY, from + 2 * DAY, 20_000)) day.push(...chunk);
source.close();
summary(() => {
  bench(`miner: one day in memory (${day.length.toLocaleString("en")} events)`, () => {
    const miner = createMiner({ ...DEFAULT_MINER_OPTIONS, from: from + DAY, to: from + 2 * DAY });
    miner.feed(day);
    return miner.finish().length;
  });
});
await run();

if (!keep) rmSync(dir, { recursive: true, force: true });
