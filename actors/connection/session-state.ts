/**
 * The HA session's states, as a discriminated union: each carries only the data valid in it. A socket's
 * data lives in its state object, so when the session moves on (reconnect, pause, stop) that data goes
 * with it, and a callback of an older socket or setup is recognised as stale because the state it holds
 * is no longer the session's (`session.state !== held`), without generation counters.
 *
 *   idle ──connect──▶ authenticating ──auth_ok──▶ live
 *    ▲                     │                        │
 *    └──── fail (backoff) ─┴────────────────────────┘
 *   any ──pause──▶ paused ──resume──▶ authenticating        any ──stop / auth_invalid──▶ stopped
 */
import type { RegistryKind } from "./sink.ts";

export interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** What every state with a socket has: the socket, its next command id and its unanswered commands. */
interface Socketed {
  ws: WebSocket;
  nextId: number;
  pending: Map<number, Pending>;
}

/** Socket opening or open, `auth_ok` not yet received. */
export interface Authenticating extends Socketed {
  kind: "authenticating";
  authTimer: unknown;
}

/** Authenticated: subscriptions, the entity snapshot, registry reads and the ping watchdog. */
export interface Live extends Socketed {
  kind: "live";
  /** subscription id -> event type */
  subs: Map<number, string>;
  /** The `subscribe_entities` subscription, whether its snapshot came, and whether it was too large. */
  entitySub: number | null;
  entitiesLoaded: boolean;
  /** The entities snapshot was larger than ha.maxFrameBytes: this connection reads state_changed instead. */
  entitiesTooLarge: boolean;
  refreshing: Set<RegistryKind>;
  /** Registry events that came while that list was being read: read it once more after. */
  refreshAgain: Set<RegistryKind>;
  pongTimer: unknown;
  /** When auth_ok came and the live changes forwarded since (for the live rate of the next backfill). */
  connectedAtMs: number;
  liveEvents: number;
}

export type SessionState =
  /** Not started, or waiting out the reconnect backoff. */
  | { kind: "idle" }
  /** Reading stopped (the spool is full) until `resume()`. */
  | { kind: "paused" }
  /** Shut down, or HA refused the token: no reconnect. */
  | { kind: "stopped" }
  | Authenticating
  | Live;

export type Connected = Authenticating | Live;

export const authenticating = (ws: WebSocket, authTimer: unknown): Authenticating => ({
  kind: "authenticating",
  ws,
  nextId: 1,
  pending: new Map(),
  authTimer,
});

/** The state after auth_ok: the same socket, ids and pending commands, and nothing subscribed yet. */
export const live = (from: Authenticating, nowMs: number): Live => ({
  kind: "live",
  ws: from.ws,
  nextId: from.nextId,
  pending: from.pending,
  subs: new Map(),
  entitySub: null,
  entitiesLoaded: false,
  entitiesTooLarge: false,
  refreshing: new Set(),
  refreshAgain: new Set(),
  pongTimer: null,
  connectedAtMs: nowMs,
  liveEvents: 0,
});

export const hasSocket = (s: SessionState): s is Connected =>
  s.kind === "authenticating" || s.kind === "live";
