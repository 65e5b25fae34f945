/**
 * Mailbox throughput across a worker boundary with 1,000-event batches, beside raw postMessage in the
 * same run. Target: ≥300,000 events/s and ≥80% of raw postMessage.
 *
 *   bun run bench/mailbox.bench.ts
 */
import { bench, run } from "mitata";
import type { StateChange } from "../runtime/events/messages.ts";
import { Outbox } from "../runtime/kernel/mailbox.ts";

const BATCH = 1000;
const BATCHES = Number(process.env.HOMEIQ_BENCH_QUICK ? 20 : 100);
const CAPACITY = 32;

function makeBatch(offset: number): { type: "events"; source: "live"; events: StateChange[] } {
  const events: StateChange[] = [];
  for (let i = 0; i < BATCH; i++) {
    const t = 1_764_000_000_000_000 + (offset + i) * 1000;
    events.push({
      entity_id: `sensor.room_${i % 300}_temperature`,
      state: (20 + (i % 50) / 10).toFixed(1),
      attributes:
        '{"unit_of_measurement":"°C","device_class":"temperature","friendly_name":"Room temperature"}',
      last_changed: t,
      last_updated: t,
      context_id: "01JDQ3Y4ZK8M6V0N9W2X5B7C1D",
      context_parent_id: null,
      context_user_id: null,
    });
  }
  return { type: "events", source: "live", events };
}
const batches = Array.from({ length: BATCHES }, (_, b) => makeBatch(b * BATCH));

async function startWorker(mode: "raw" | "mailbox") {
  const worker = new Worker(new URL("../test/support/workers/mailbox-echo-worker.ts", import.meta.url).href);
  const channel = new MessageChannel();
  await new Promise<void>((resolve) => {
    worker.onmessage = () => resolve();
    worker.postMessage({ mode, port: channel.port2, capacity: CAPACITY }, [channel.port2]);
  });
  return { worker, port: channel.port1 };
}

const raw = await startWorker("raw");
let rawTarget = 0;
const rawRound = async () => {
  for (const b of batches) raw.port.postMessage(b);
  rawTarget += BATCH * BATCHES;
  // Wait until the worker has taken every event, so both sides measure delivery, not just posting.
  for (;;) {
    const count = await new Promise<number>((resolve) => {
      raw.port.onmessage = (e) => resolve(e.data as number);
      raw.port.postMessage("count?");
    });
    if (count >= rawTarget) return;
  }
};

const boxed = await startWorker("mailbox");
const outbox = new Outbox<unknown>(boxed.port, { edge: "bench", capacity: CAPACITY, retain: true });
const mailboxRound = async () => {
  for (const b of batches) await outbox.send(b);
  await outbox.drained();
};

bench(`raw postMessage: ${BATCHES} × ${BATCH}-event batches`, rawRound);
bench(`mailbox (credit ${CAPACITY}, retained): ${BATCHES} × ${BATCH}-event batches`, mailboxRound);

const { benchmarks } = await run();
const avgNs = (i: number) => benchmarks[i].runs[0].stats?.avg ?? Number.NaN;
const perSecond = (ns: number) => (BATCH * BATCHES) / (ns / 1e9);
const rawRate = perSecond(avgNs(0));
const boxRate = perSecond(avgNs(1));
console.log(`raw postMessage: ${Math.round(rawRate).toLocaleString("en")} events/s`);
console.log(`mailbox:         ${Math.round(boxRate).toLocaleString("en")} events/s`);
console.log(
  `mailbox / raw:   ${((boxRate / rawRate) * 100).toFixed(1)}%  (targets: ≥300,000 events/s, ≥80%)`,
);
raw.worker.terminate();
boxed.worker.terminate();
