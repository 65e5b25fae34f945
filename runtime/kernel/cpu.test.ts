import { describe, expect, test } from "bun:test";
import { processMeter, threadCpuMeter, threadCpuSeconds } from "./cpu.ts";
import { Registry } from "./metrics.ts";

const linux = process.platform === "linux";

/** Runs `ms` of pure computation on the calling thread. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error("unreachable");
}

const counterValue = (r: Registry, name: string) =>
  r.snapshot().counters.find((c) => c.name === name)?.value ?? Number.NaN;

describe.if(linux)("per-thread CPU time", () => {
  test("the meter advances by the CPU the calling thread spent", () => {
    const r = new Registry({ actor: "test" });
    const meter = threadCpuMeter(r);
    meter.sample();
    const before = counterValue(r, "actor_cpu_seconds_total");
    spin(150);
    meter.sample();
    const spent = counterValue(r, "actor_cpu_seconds_total") - before;
    // On a loaded box the thread may be descheduled for part of the 150 ms, never credited more.
    expect(spent).toBeGreaterThan(0.02);
    expect(spent).toBeLessThan(0.5);
  });

  test("a worker's figure is its own thread's, not the process's", async () => {
    const mainBefore = threadCpuSeconds() as number;
    const source = `
      import { threadCpuSeconds } from ${JSON.stringify(new URL("./cpu.ts", import.meta.url).pathname)};
      const start = threadCpuSeconds();
      const end = performance.now() + 300;
      let x = 0;
      while (performance.now() < end) x += Math.sqrt(x + 1);
      postMessage({ start, end: threadCpuSeconds() });
    `;
    const url = URL.createObjectURL(new Blob([source], { type: "application/typescript" }));
    const worker = new Worker(url);
    try {
      const figures = await new Promise<{ start: number; end: number }>((resolve, reject) => {
        worker.onmessage = (e) => resolve(e.data);
        worker.onerror = (e) => reject(e);
      });
      const mainSpent = (threadCpuSeconds() as number) - mainBefore;
      expect(figures.end - figures.start).toBeGreaterThan(0.05);
      // The main thread only waited while the worker spun.
      expect(mainSpent).toBeLessThan(figures.end - figures.start);
    } finally {
      worker.terminate();
      URL.revokeObjectURL(url);
    }
  });
});

describe("process meter", () => {
  test("resident memory and CPU seconds of the whole process", () => {
    const r = new Registry({ actor: "hub" });
    const meter = processMeter(r);
    meter.sample();
    spin(50);
    meter.sample();
    const rss = r.snapshot().gauges.find((g) => g.name === "process_resident_memory_bytes")?.value ?? 0;
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(rss).toBeLessThan(4 * 1024 * 1024 * 1024);
    expect(counterValue(r, "process_cpu_seconds_total")).toBeGreaterThan(0.01);
    const heap = r.snapshot().gauges.find((g) => g.name === "actor_heap_bytes")?.value ?? 0;
    expect(heap).toBeGreaterThan(100_000);
    expect(heap).toBeLessThan(rss);
  });
});
