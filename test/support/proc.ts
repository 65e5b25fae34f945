/**
 * Process helpers for end-to-end benchmarks and tests: free ports, child processes whose output can be
 * waited on line by line, and RSS/CPU sampling from /proc (a Bun process's threads all count).
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import type { Subprocess } from "bun";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Child {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Every line printed so far (stdout and stderr), bounded to the last `keep`. */
  lines: string[];
  /** Resolves with the first line matching `pattern` (already printed or future), or rejects at the deadline. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number>;
}

export function spawnChild(cmd: string[], env: Record<string, string | undefined>, keep = 2000): Child {
  const proc = Bun.spawn(cmd, {
    env: env as Record<string, string>,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let rest = "";
    const reader = stream.getReader();
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      rest += decoder.decode(chunk, { stream: true });
      let nl = rest.indexOf("\n");
      while (nl >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        lines.push(line);
        if (lines.length > keep) lines.splice(0, lines.length - keep);
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i].pattern.test(line)) {
            waiters[i].resolve(line);
            waiters.splice(i, 1);
          }
        }
        nl = rest.indexOf("\n");
      }
    }
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  return {
    proc,
    lines,
    waitForLine(pattern, timeoutMs) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `no line matching ${pattern} within ${timeoutMs} ms; last lines:\n${lines.slice(-20).join("\n")}`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          pattern,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void proc.exited.then((code) => {
          clearTimeout(timer);
          reject(
            new Error(
              `process exited (${code}) before printing ${pattern}; last lines:\n${lines.slice(-20).join("\n")}`,
            ),
          );
        });
      });
    },
    async stop(signal = "SIGTERM", timeoutMs = 15000) {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Resident set size of a process in bytes (all its threads), or 0 if it is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11] = utime, fields[12] = stime (in clock ticks; 100 per second on Linux)
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
