/**
 * Graceful shutdown on SIGINT/SIGTERM: stop intake, drain mailboxes in dependency order (the supervisor
 * stops children in reverse start order), flush, and exit 0 within the deadline. A second signal exits at
 * once. `before`/`after` let the caller close what it owns (the API server, the simulator).
 */
import type { Logger } from "./log.ts";
import type { Supervisor } from "./supervisor.ts";

export interface ShutdownOptions {
  supervisor: Supervisor;
  deadlineMs: number;
  log: Logger;
  /** Runs first (e.g. stop accepting HTTP requests). */
  before?: () => void | Promise<void>;
  /** Runs after the actors have stopped (e.g. stop the embedded simulator). */
  after?: () => void | Promise<void>;
  exit?: (code: number) => void;
}

export function installShutdown(opts: ShutdownOptions): (signal: string) => Promise<void> {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let exiting = false;
  const shutdown = async (signal: string) => {
    if (exiting) {
      opts.log.warn("second signal: exiting at once", { signal });
      opts.supervisor.kill();
      exit(130);
      return;
    }
    exiting = true;
    opts.log.info("shutting down: stopping intake and draining mailboxes", {
      signal,
      deadlineMs: opts.deadlineMs,
    });
    const timer = setTimeout(() => {
      opts.log.error("shutdown deadline passed; exiting", { deadlineMs: opts.deadlineMs });
      opts.supervisor.kill();
      exit(1);
    }, opts.deadlineMs + 1000);
    try {
      await opts.before?.();
      const clean = await opts.supervisor.stop(opts.deadlineMs);
      await opts.after?.();
      clearTimeout(timer);
      opts.log.info(clean ? "stopped cleanly" : "stopped at the deadline", {});
      exit(clean ? 0 : 1);
    } catch (error) {
      clearTimeout(timer);
      opts.log.error("shutdown failed", { error: (error as Error).message });
      opts.supervisor.kill();
      exit(1);
    }
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  return shutdown;
}
