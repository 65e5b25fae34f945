import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../runtime/kernel/clock.ts";
import { RestartIntensityError, type Supervisor } from "../runtime/kernel/supervisor.ts";
import { relaySupervisor } from "./support/workers/tree.ts";

type Work = { type: "work"; id: number; delayMs?: number } | { type: "crash"; reason: string };
let running: Supervisor | undefined;
afterEach(() => {
  running?.kill();
  running = undefined;
});

describe("supervisor", () => {
  test("restarts a crashed actor after a backoff while its sibling keeps running, and loses no message", async () => {
    const { supervisor, metrics } = relaySupervisor({ backoffMinMs: 50 });
    running = supervisor;
    await supervisor.start();
    const out = supervisor.hubOutbox<Work>("hub->relay");
    for (let id = 0; id < 100; id++) await out.send({ type: "work", id });
    await out.drained();
    await waitFor(async () => ((await supervisor.call("sink", "seen")) as number[]).length === 100, {
      timeoutMs: 5000,
      what: "the first 100 at the sink",
    });
    const crashedAt = Date.now();
    expect(supervisor.crash("relay", "crashed on request")).toBe(true);
    await waitFor(() => supervisor.status().find((s) => s.name === "relay")?.state === "restarting", {
      timeoutMs: 5000,
      what: "relay restarting",
    });
    // The sibling answers while the relay is down.
    const during = (await supervisor.call("sink", "seen")) as number[];
    expect(during.length).toBe(100);
    for (let id = 100; id < 200; id++) await out.send({ type: "work", id });
    await waitFor(() => supervisor.status().find((s) => s.name === "relay")?.state === "running", {
      timeoutMs: 5000,
      what: "relay running again",
    });
    const restartedAfter = supervisor.status().find((s) => s.name === "relay")!.startedAt! - crashedAt;
    expect(restartedAfter).toBeGreaterThanOrEqual(25); // backoff: half of 50 ms at least
    await out.drained();
    const seen = await waitFor(
      async () => {
        const s = (await supervisor.call("sink", "seen")) as number[];
        return new Set(s).size === 200 ? s : null;
      },
      { timeoutMs: 5000, what: "all 200 at the sink" },
    );
    expect([...new Set(seen)].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const status = supervisor.status();
    expect(status.find((s) => s.name === "relay")).toMatchObject({
      restarts: 1,
      lastError: "crashed on request",
    });
    expect(status.find((s) => s.name === "sink")).toMatchObject({ state: "running", restarts: 0 });
    await waitFor(() => metrics.counter("mailbox_processed_total", { actor: "sink" }) >= 200, {
      timeoutMs: 5000,
      what: "metrics",
    });
  });

  test("one module runs as several children, each with its own child-spec args, kept across a restart", async () => {
    const module = new URL("./support/workers/args-worker.ts", import.meta.url).pathname;
    const { supervisor } = relaySupervisor({
      children: [
        { name: "args-a", module, args: ["a"] },
        { name: "args-b", module, args: ["b", "2"] },
      ],
      edges: [],
      backoffMinMs: 1,
      backoffMaxMs: 5,
    });
    running = supervisor;
    await supervisor.start();
    expect(await supervisor.call("args-a", "args")).toEqual(["a"]);
    expect(await supervisor.call("args-b", "args")).toEqual(["b", "2"]);
    expect(supervisor.crash("args-b", "crashed on request")).toBe(true);
    await waitFor(() => supervisor.status().find((s) => s.name === "args-b")?.restarts === 1, {
      timeoutMs: 5000,
      what: "args-b restarted",
    });
    await waitFor(() => supervisor.status().find((s) => s.name === "args-b")?.state === "running", {
      timeoutMs: 5000,
      what: "args-b running again",
    });
    expect(await supervisor.call("args-b", "args")).toEqual(["b", "2"]);
  });

  test("stops the runtime with an error naming the actor and its last failure past the restart intensity", async () => {
    let fatal: Error | undefined;
    const { supervisor } = relaySupervisor({ maxRestarts: 2, backoffMinMs: 1, backoffMaxMs: 5 }, (e) => {
      fatal = e;
    });
    running = supervisor;
    await supervisor.start();
    for (let i = 0; i < 3; i++) {
      await waitFor(() => supervisor.status().find((s) => s.name === "relay")?.state === "running", {
        timeoutMs: 5000,
        what: "relay running",
      });
      await supervisor.call("relay", "crash-now");
      await waitFor(() => supervisor.status().find((s) => s.name === "relay")?.state !== "running", {
        timeoutMs: 5000,
        what: "relay down",
      });
    }
    await waitFor(() => fatal, { timeoutMs: 5000, what: "fatal error" });
    expect(fatal).toBeInstanceOf(RestartIntensityError);
    expect(fatal!.message).toBe(
      'actor "relay" crashed 3 times within 30 s (limit 2); stopping HomeIQ. Last failure: crashed on request',
    );
    expect(supervisor.status().find((s) => s.name === "relay")?.state).toBe("failed");
  });

  test("rejects a message that fails its schema, naming actor, type and field, and keeps going", async () => {
    const { supervisor, metrics } = relaySupervisor();
    running = supervisor;
    await supervisor.start();
    const out = supervisor.hubOutbox<unknown>("hub->relay");
    await out.send({ type: "work", id: "seven" });
    await out.send({ type: "work", id: 8 });
    await out.drained();
    await waitFor(() => metrics.counter("messages_rejected_total", { actor: "relay" }) === 1, {
      timeoutMs: 5000,
      what: "rejection counted",
    });
    expect(await supervisor.call("relay", "seen")).toEqual([8]);
    expect(supervisor.status().find((s) => s.name === "relay")?.restarts).toBe(0);
  });
});

describe("graceful shutdown", () => {
  test("SIGTERM drains every message sent before it and exits 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homeiq-drain-"));
    const outFile = join(dir, "seen.json");
    const proc = Bun.spawn(["bun", new URL("./support/workers/drain-main.ts", import.meta.url).pathname], {
      env: { ...process.env, DRAIN_OUT: outFile, DRAIN_COUNT: "300" },
      stdout: "pipe",
      stderr: "inherit",
    });
    try {
      const reader = proc.stdout.getReader();
      let text = "";
      await waitFor(
        async () => {
          const { value } = await reader.read();
          text += new TextDecoder().decode(value ?? new Uint8Array());
          return text.includes("queued 300");
        },
        { timeoutMs: 10000, what: "fixture ready" },
      );
      proc.kill("SIGTERM");
      const code = await proc.exited;
      expect(code).toBe(0);
      const seen = JSON.parse(readFileSync(outFile, "utf8")) as number[];
      expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i));
    } finally {
      // A timed-out wait would leave the fixture running and holding the dir.
      proc.kill("SIGKILL");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("supervisor: the heavy-run turn", () => {
  const heavyTree = () => {
    const module = new URL("./support/workers/heavy-worker.ts", import.meta.url).pathname;
    return relaySupervisor({
      children: [
        { name: "heavy-a", module },
        { name: "heavy-b", module },
      ],
      edges: [],
      // Long enough that a test passing on the wait's timeout instead of a release would hang, not pass.
      config: { heavyRunMaxWaitMs: 60_000 },
    });
  };
  type Span = { started: number; ended: number };

  test("heavy runs of two actors in two threads never overlap", async () => {
    const { supervisor, metrics } = heavyTree();
    running = supervisor;
    await supervisor.start();
    const spans = (await Promise.all([
      supervisor.call("heavy-a", { run: 150 }),
      supervisor.call("heavy-b", { run: 150 }),
      supervisor.call("heavy-a", { run: 50 }),
    ])) as Span[];
    const sorted = [...spans].sort((x, y) => x.started - y.started);
    for (let i = 1; i < sorted.length; i++)
      expect(sorted[i].started).toBeGreaterThanOrEqual(sorted[i - 1].ended);
    // Each run ended with a collection of its actor's heap.
    await waitFor(() => metrics.counter("actor_burst_gc_total", { actor: "heavy" }) === 3, {
      timeoutMs: 5000,
      what: "one burst collection per heavy run",
    });
  });

  test("an actor that dies holding the turn frees it: the other's run goes ahead", async () => {
    const { supervisor } = heavyTree();
    running = supervisor;
    await supervisor.start();
    expect(await supervisor.call("heavy-a", { hold: true })).toBe("holding");
    const waiting = supervisor.call("heavy-b", { run: 1 }, 30_000) as Promise<Span>;
    const crashedAt = Date.now();
    expect(supervisor.crash("heavy-a", "died holding the turn")).toBe(true);
    const span = await waiting;
    expect(span.started).toBeGreaterThanOrEqual(crashedAt);
    // Freed by the supervisor at the crash, not by the 60 s wait bound.
    expect(span.started - crashedAt).toBeLessThan(10_000);
  });
});
