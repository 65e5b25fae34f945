/**
 * What an HA session reports and how: its status, the kinds of what it reads, and the sink it hands
 * everything to. A module of its own so the session and its helpers (backfill.ts) share these types
 * without importing each other.
 */
import type { StateChange } from "../../runtime/events/messages.ts";
import type { SkipReason } from "./attributes.ts";
import type { Rejected } from "./frames.ts";

export type HAState = "connecting" | "connected" | "disconnected" | "auth_invalid";
export interface HAStatus {
  state: HAState;
  url: string;
  since: number;
  haVersion?: string;
  lastError?: string;
}
export type RegistryKind = "areas" | "devices" | "entities";
export type ChangeSource = "live" | "snapshot" | "backfill";

/** What the session produces; the worker wires these to mailboxes, spool, metrics and notices. */
export interface SessionSink {
  changes(source: ChangeSource, changes: StateChange[]): void;
  registry(kind: RegistryKind, items: unknown[]): void;
  rename(from: string, to: string): void;
  haConfig(config: Record<string, unknown>): void;
  status(status: HAStatus): void;
  rejected(r: Rejected): void;
  /** State changes not forwarded on purpose, by reason (duplicates, removals, too deep, ...). */
  skipped(reason: SkipReason, count: number): void;
  /** A live change older than its entity's newest (HA's clock stepped back); it was forwarded. */
  outOfOrder(entityId: string, lastUpdatedUs: number, newestUs: number): void;
  /** HA answered the gap backfill with an error; the gap stays open and the backfill is retried. */
  backfillFailed(detail: string): void;
  /** Something worth a log line (reconnects, backfill ranges); level and fields. */
  log(level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
}
