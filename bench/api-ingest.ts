/**
 * Worker for bench/api.bench.ts: writes state changes into events.db at a steady rate through the store
 * writer, as the batcher does, so API queries are measured while ingest runs (WAL: readers never wait).
 */
import { openStoreWriter } from "../runtime/store/writer.ts";
import { homeChange } from "../test/support/synthetic-home/api-home.ts";

declare const self: Worker;
const { dir, rate } = (await new Promise((resolve) => {
  self.onmessage = (e: MessageEvent) => resolve(e.data);
})) as { dir: string; rate: number };

const writer = openStoreWriter(dir, { dictionaryCache: 100_000 });
const tickMs = 50;
const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
let n = 0;
let lastUs = 0;
setInterval(() => {
  const batch = [];
  for (let i = 0; i < perTick; i++, n++) {
    // Strictly increasing µs keeps every event new (the idempotency key is entity + last_updated).
    lastUs = Math.max(Date.now() * 1000, lastUs + 1);
    batch.push(homeChange(n, lastUs));
  }
  writer.writeEvents(batch);
  self.postMessage(n);
}, tickMs);
