/**
 * Simulator -> connection actor -> next mailbox, in events/s (target >= 100,000/s with no pending build-up
 * on the simulator side). The simulator runs as its own process (as HA would); the connection actor runs
 * in a worker under the supervisor and hands batches to a counting stand-in for the batcher.
 * Also: a mitata micro-benchmark of the reader's per-frame work (parse + convert a coalesced frame).
 *
 *   bun run bench/connection.bench.ts            # 8 s at 100,000/s
 *   HOMEIQ_BENCH_QUICK=1 bun run bench/connection.bench.ts
 *   HOMEIQ_BENCH_CONN_RATE=200000 HOMEIQ_BENCH_CONN_SECONDS=10 bun run bench/connection.bench.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bench, run } from "mitata";
import { EntityStates } from "../actors/connection/entities.ts";
import { type HAMessage, parseFrame, stateToChange } from "../actors/connection/frames.ts";
import { EDGES } from "../actors/edges.ts";
import { loadConfig } from "../runtime/config/load.ts";
import type { StateChange } from "../runtime/events/messages.ts";
import { waitFor } from "../runtime/kernel/clock.ts";
import { createLogger } from "../runtime/kernel/log.ts";
import { MetricsHub } from "../runtime/kernel/metrics.ts";
import { Supervisor } from "../runtime/kernel/supervisor.ts";
import { startSimulator } from "../sim/server.ts";
import { cpuSeconds, freePort, spawnChild } from "../test/support/proc.ts";

const quick = process.env.HOMEIQ_BENCH_QUICK === "1";
const rate = Number(process.env.HOMEIQ_BENCH_CONN_RATE ?? 100_000);
const seconds = Number(process.env.HOMEIQ_BENCH_CONN_SECONDS ?? (quick ? 3 : 8));
const ROOT = new URL("..", import.meta.url).pathname;

// --- 1. the reader's work per coalesced frame, on one core -------------------------------------------
// The same 1,024 changes as HA sends them to subscribe_entities (the default path: compressed diffs) and
// to subscribe_events state_changed (the fallback for an HA without subscribe_entities).
{
  const sim = await startSimulator({ entities: 300, rate: 0, token: "t" });
  /** A coalescing client subscribed with `command`; resolves with its subscription's first frame. */
  const subscriber = (command: Record<string, unknown>, first: (text: string) => boolean) => {
    const ws = new WebSocket(sim.url);
    const frames: string[] = [];
    const ready = new Promise<void>((resolve) => {
      ws.onmessage = (e) => {
        const text = String(e.data);
        frames.push(text);
        if (first(text)) resolve();
        if (text.startsWith("[")) return;
        const m = JSON.parse(text);
        if (m.type === "auth_required") ws.send(JSON.stringify({ type: "auth", access_token: "t" }));
        else if (m.type === "auth_ok") {
          ws.send(JSON.stringify({ id: 1, type: "supported_features", features: { coalesce_messages: 1 } }));
          ws.send(JSON.stringify({ id: 2, ...command }));
        }
      };
    });
    return { ws, frames, ready };
  };
  // HA sends the subscribe_entities result and its snapshot together: [result, {"a": ...}].
  const byEntities = subscriber({ type: "subscribe_entities" }, (t) =>
    t.includes('"id":2,"type":"event","event":{"a"'),
  );
  const byEvents = subscriber({ type: "subscribe_events", event_type: "state_changed" }, (t) =>
    t.includes('"id":2,"type":"result"'),
  );
  await Promise.all([byEntities.ready, byEvents.ready]);
  const opening = byEntities.frames[byEntities.frames.length - 1];
  const seen = [byEntities.frames.length, byEvents.frames.length];
  // One burst: each client's 1,024 messages leave HA's writer as one array frame (id last in each).
  sim.emit(1024);
  await waitFor(() => byEntities.frames.length > seen[0] && byEvents.frames.length > seen[1], {
    timeoutMs: 10000,
    what: "the coalesced frames",
  });
  const diffs = byEntities.frames[seen[0]];
  const full = byEvents.frames[seen[1]];
  byEntities.ws.close();
  byEvents.ws.close();
  await sim.stop();
  const entities = new EntityStates();
  const sink: StateChange[] = [];
  const fail = (r: { detail: string }) => {
    throw new Error(r.detail);
  };
  for (const m of (parseFrame(opening, 64 << 20) as { messages: HAMessage[] }).messages)
    if (m.type === "event") entities.apply(m.event, sink, fail);
  const viaEntities = () => {
    const r = parseFrame(diffs, 16 * 1024 * 1024);
    if (!r.ok) throw new Error("frame rejected");
    const out: StateChange[] = [];
    for (const m of r.messages) entities.apply(m.event, out, fail);
    return out.length;
  };
  const viaEvents = () => {
    const r = parseFrame(full, 16 * 1024 * 1024);
    if (!r.ok) throw new Error("frame rejected");
    let n = 0;
    for (const m of r.messages)
      if (stateToChange((m.event as { data: { new_state: unknown } }).data.new_state, "bench").ok) n++;
    return n;
  };
  if (viaEntities() !== 1024 || viaEvents() !== 1024)
    throw new Error("bench: expected 1,024 changes a frame");
  bench("subscribe_entities: parse + apply one frame of 1,024 diffs", viaEntities);
  bench("state_changed: parse + convert one frame of 1,024 events", viaEvents);
  await run({ format: quick ? "quiet" : undefined } as never);
  // CPU time, unlike wall time, does not count the time other processes hold the cores.
  const reps = quick ? 40 : 120;
  for (const [name, fn, frame] of [
    ["subscribe_entities", viaEntities, diffs],
    ["state_changed", viaEvents, full],
  ] as const) {
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) fn();
    const cpu = process.cpuUsage(cpu0);
    const usPerEvent = (cpu.user + cpu.system) / (reps * 1024);
    console.log(
      `connection reader (${name}): ${usPerEvent.toFixed(2)} µs CPU per change (parse + convert, ${Math.round(frame.length / 1024)} bytes a change) -> ${Math.round(1e6 / usPerEvent).toLocaleString("en")} changes/s per core`,
    );
  }
}

// --- 2. end to end: simulator process -> connection worker -> next mailbox ----------------------------
const port = await freePort();
const simProc = spawnChild(
  [
    "bun",
    join(ROOT, "sim/main.ts"),
    "--port",
    String(port),
    "--rate",
    "0",
    "--entities",
    "300",
    "--token",
    "t",
    "--history-max",
    "20000000",
  ],
  process.env,
);
const simHttp = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(join(tmpdir(), "homeiq-conn-bench-"));
const supervisor = new Supervisor(
  {
    children: [
      { name: "batcher", module: join(ROOT, "test/support/workers/count-batcher-worker.ts") },
      { name: "connection", module: join(ROOT, "actors/connection/worker.ts") },
    ],
    edges: [
      { name: EDGES.connectionToBatcher, from: "connection", to: "batcher", capacity: 32, retain: true },
    ],
    maxRestarts: 0,
    periodMs: 60000,
    backoffMinMs: 100,
    backoffMaxMs: 1000,
    startTimeoutMs: 20000,
    metricsIntervalMs: 200,
    logLevel: "warn",
    config: loadConfig({
      env: {
        HOMEIQ_DATA_DIR: dataDir,
        HOMEIQ_HA_URL: `ws://127.0.0.1:${port}/api/websocket`,
        HOMEIQ_HA_TOKEN: "t",
        HOMEIQ_LOG_LEVEL: "warn",
      },
    }),
  },
  { log: createLogger({ actor: "supervisor", level: "warn" }), metrics: new MetricsHub(), onFatal: () => {} },
);
type SimStats = {
  sent: number;
  pendingBytes: number;
  pendingBytesMax: number;
  pendingMessagesMax: number;
  slowClientsDropped: number;
};
const simStats = async () => (await (await fetch(`${simHttp}/sim/stats`)).json()) as SimStats;
const count = async () => (await supervisor.call("batcher", "count")) as number;
try {
  await simProc.waitForLine(/simulated Home Assistant at/, 20000);
  await supervisor.start();
  await waitFor(async () => (await count()) >= 300, { timeoutMs: 20000, what: "the connect snapshot" });
  await fetch(`${simHttp}/sim/rate?value=${rate}`, { method: "POST" });
  await Bun.sleep(1000); // warm-up: JIT, socket buffers
  const s0 = await simStats();
  const c0 = await count();
  const t0 = performance.now();
  const cpu0 = cpuSeconds(process.pid);
  const simCpu0 = cpuSeconds(simProc.proc.pid);
  await Bun.sleep(seconds * 1000);
  const c1 = await count();
  const s1 = await simStats();
  const t1 = performance.now();
  const cpu = cpuSeconds(process.pid) - cpu0;
  const simCpu = cpuSeconds(simProc.proc.pid) - simCpu0;
  await fetch(`${simHttp}/sim/rate?value=0`, { method: "POST" });
  const sentTotal = (await simStats()).sent;
  // Against HA's slow-client rules a client that falls behind is cut off, and what its reconnect cannot
  // backfill is missing: report it rather than wait for it.
  await waitFor(async () => (await count()) >= sentTotal, { timeoutMs: 30000 }).catch(() => undefined);
  const secs = (t1 - t0) / 1000;
  const delivered = (c1 - c0) / secs;
  console.log(
    `connection end-to-end: ${Math.round(delivered).toLocaleString("en")} events/s delivered to the next mailbox (simulator emitted ${Math.round((s1.sent - s0.sent) / secs).toLocaleString("en")}/s, asked ${rate.toLocaleString("en")}/s, ${secs.toFixed(1)} s)`,
  );
  // CPU per event is what the 2 cores must afford; wall-clock figures drop when other work shares them.
  const perEvent = (cpu / Math.max(1, c1 - c0)) * 1e6;
  console.log(
    `connection CPU: ${perEvent.toFixed(2)} µs per event in HomeIQ's process (connection worker + next mailbox) -> ${Math.round(1e6 / perEvent).toLocaleString("en")} events/s per core; simulator ${((simCpu / Math.max(1, s1.sent - s0.sent)) * 1e6).toFixed(2)} µs per event; load average ${(await Bun.file("/proc/loadavg").text()).split(" ")[0]}`,
  );
  console.log(
    `simulator pending: now ${s1.pendingBytes} B, max ${s1.pendingBytesMax} B, ${s1.pendingMessagesMax} messages queued at most (HA drops a client at 4,096); clients dropped as slow ${(await simStats()).slowClientsDropped}; ${(await count()).toLocaleString("en")} of ${sentTotal.toLocaleString("en")} emitted changes arrived`,
  );
} finally {
  await supervisor.stop(5000);
  await simProc.stop("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
}
