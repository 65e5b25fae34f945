/**
 * The control protocol between the supervisor (main thread) and each actor's worker. Event traffic never
 * uses it: actors talk to each other over their own MessageChannel edges (see mailbox.ts). Messages are
 * built by the factory functions below rather than written as literals at call sites.
 */
import type { LogLevel } from "./log.ts";
import type { MetricsSnapshot } from "./metrics.ts";

export interface EdgePort {
  edge: string;
  port: MessagePort;
  capacity: number;
  retain: boolean;
  /** For the sending end: the edge's slot in the stuck watch (runtime/kernel/progress.ts). */
  slot?: SharedArrayBuffer;
}

export type ToWorker =
  | {
      type: "init";
      actor: string;
      config: unknown;
      logLevel: LogLevel;
      metricsIntervalMs: number;
      /** The process-wide heavy-run turn (runtime/kernel/heavy-turn.ts) and this actor's holder id in it. */
      heavyTurn: { slot: SharedArrayBuffer; holder: number };
      /** The stuck watch (runtime/kernel/progress.ts): the shared clock and this actor's slot. */
      watch: { tick: SharedArrayBuffer; actor: SharedArrayBuffer };
      outboxes: EdgePort[];
      inboxes: EdgePort[];
    }
  | { type: "rewire-out"; edge: EdgePort }
  | { type: "rewire-in"; edge: EdgePort }
  | { type: "call"; id: number; body: unknown }
  /** Fault injection (tests, soak): the actor fails as if its code had thrown. */
  | { type: "crash"; reason: string }
  | { type: "stop" };

export type FromWorker =
  | { type: "ready" }
  | { type: "metrics"; snapshot: MetricsSnapshot }
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; error: string }
  | { type: "notice"; name: string; data: unknown }
  | { type: "fatal"; error: string }
  | { type: "stopped" };

export const control = {
  init: (m: Omit<Extract<ToWorker, { type: "init" }>, "type">): ToWorker => ({ type: "init", ...m }),
  rewireOut: (edge: EdgePort): ToWorker => ({ type: "rewire-out", edge }),
  rewireIn: (edge: EdgePort): ToWorker => ({ type: "rewire-in", edge }),
  call: (id: number, body: unknown): ToWorker => ({ type: "call", id, body }),
  stop: (): ToWorker => ({ type: "stop" }),
  crash: (reason: string): ToWorker => ({ type: "crash", reason }),
  ready: (): FromWorker => ({ type: "ready" }),
  metrics: (snapshot: MetricsSnapshot): FromWorker => ({ type: "metrics", snapshot }),
  replyOk: (id: number, value: unknown): FromWorker => ({ type: "reply", id, ok: true, value }),
  replyError: (id: number, error: string): FromWorker => ({ type: "reply", id, ok: false, error }),
  notice: (name: string, data: unknown): FromWorker => ({ type: "notice", name, data }),
  fatal: (error: string): FromWorker => ({ type: "fatal", error }),
  stopped: (): FromWorker => ({ type: "stopped" }),
};

/** The `type` of a message, for logs. */
export function messageType(message: unknown): string {
  return message !== null &&
    typeof message === "object" &&
    typeof (message as { type?: unknown }).type === "string"
    ? (message as { type: string }).type
    : typeof message;
}
