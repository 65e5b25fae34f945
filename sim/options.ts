/**
 * The simulator's public shapes: its options (each of HA's unkind behaviours, on by default, can be
 * switched off for a test), its faults, its stats and its handle.
 */
import type { PastHistory } from "./past.ts";

/** Defaults are what a stock Home Assistant does; each unkind behaviour can be switched off for a test. */
export interface SimulatorOptions {
  port?: number;
  hostname?: string;
  entities?: number;
  rate?: number;
  seed?: number;
  token?: string;
  historyMax?: number;
  /** Answer `subscribe_entities` (default); false plays an HA without it (`unknown_command`). */
  subscribeEntities?: boolean;
  /**
   * HA's recorder `commit_interval` in ms (default 5000, HA's default; HA's docs suggest 30000 on SD
   * cards). The recorder commits in batches at every multiple of this interval since the simulator
   * started; `history/history_during_period` sees only rows committed by then, so the newest changes
   * are missing from history for up to one interval. 0 commits every change at once (no lag).
   */
  recorderCommitIntervalMs?: number;
  /**
   * History's start bound is exclusive, as HA's query (`last_updated_ts > start_time_ts`; default true):
   * a row stamped exactly at `start_time` is in neither the start state nor the period. false includes it
   * in the period (the end bound is always exclusive).
   */
  historyStartExclusive?: boolean;
  /**
   * Honour a client's `supported_features: {coalesce_messages}` as HA does (default true): everything
   * queued for it goes out as one JSON array frame (a lone message unwrapped), so the subscribe_entities
   * result and its snapshot arrive together as `[result, event]`. false sends one message per frame.
   */
  coalesceMessages?: boolean;
  /**
   * HA's slow-client rules on its per-client queue (messages not yet handed to the socket): disconnect
   * at `slowClientMaxPending` queued (default 4096, `MAX_PENDING_MSG`), or when more than
   * `slowClientPeakPending` (default 1024, `PENDING_MSG_PEAK`) stay queued for `slowClientPeakMs`
   * (default 10000, `PENDING_MSG_PEAK_TIME`). The close is code 1000 with no reason, as HA's.
   */
  slowClientMaxPending?: number;
  /** See `slowClientMaxPending`. */
  slowClientPeakPending?: number;
  /** See `slowClientMaxPending`. */
  slowClientPeakMs?: number;
  /**
   * The writer hands the socket more while the socket buffers less than this (default 1 MiB: the aiohttp
   * writer limit HA sets after auth); past it, messages wait in the queue HA counts.
   */
  socketLimitBytes?: number;
  /**
   * History returns attributes as HA's recorder stores them (default true): without `attribution`,
   * `restored`, `supported_features` and each domain's unrecorded attributes (climate `hvac_modes`,
   * `min_temp`, ...; light `brightness`, `color_mode`, ...), and `{}` for attributes over 16 KiB
   * (recorder.ts). false keeps the live attributes in history.
   */
  recorderExcludesAttributes?: boolean;
  /**
   * Stamp changes with the raw `time.time()` double as HA does (default true): compressed `lu`/`lc` and
   * history carry sub-µs doubles whose µs CPython rounds half-to-even (runtime/events/cpython-time.ts), so a
   * client using `Math.round(s * 1e6)` keys about 1 in 8 of them 1 µs off the ISO text. false stamps
   * exact-µs doubles (the float and the ISO text always agree).
   */
  rawTimestamps?: boolean;
  /**
   * HA starts its websocket API before `recorder` and `history` finish loading: history commands answer
   * `unknown_command` until this many ms after the simulator started (default 0: an HA already up).
   */
  historyAvailableAfterMs?: number;
  /**
   * Registry entries as modern integrations make them (default true): an entity of a device has
   * `has_entity_name: true` and only its own part as `original_name` ("Temperature"), or null for the
   * device's main feature. false gives every entry its full name and `has_entity_name: false`.
   */
  registryHasEntityName?: boolean;
  /**
   * Days of recorded history before the simulator started (default 0), generated per request from the
   * seed (past.ts), as the recorder of a home that ran before HomeIQ came (HA keeps 10 by default).
   */
  historyDays?: number;
  /** Days of hourly long-term statistics before the simulator started (default 0; HA keeps them for good). */
  statisticsDays?: number;
}

export type FaultKind =
  | "drop"
  | "stall"
  | "malformed"
  | "huge"
  | "reject-token"
  | "accept-token"
  | "reuse-ids"
  | "rename"
  | "fail-history"
  | "history-max-bytes"
  | "remove"
  | "big-attributes"
  | "clock-step"
  | "unserialisable"
  | "registry-burst";

export interface SimStats {
  /** State changes emitted, including each entity's initial state. */
  sent: number;
  rate: number;
  entities: number;
  clients: number;
  connections: number;
  authFailures: number;
  framesSent: number;
  bytesSent: number;
  /** Bytes queued in sockets now, and the most ever seen (a client falling behind shows here). */
  pendingBytes: number;
  pendingBytesMax: number;
  /** Messages queued for the most behind client now, and the most ever (HA disconnects at 4096). */
  pendingMessages: number;
  pendingMessagesMax: number;
  /** Clients HA's rules disconnected for falling behind: all, and those cut by the 10 s peak rule. */
  slowClientsDropped: number;
  slowClientsDroppedPeak: number;
  historySize: number;
  historyOverwritten: number;
  /** Rows the recorder has committed (visible to history); `historySize - historyCommitted` are pending. */
  historyCommitted: number;
  /** Commands refused with `id_reuse` (a client whose ids did not strictly increase). */
  idReuse: number;
}

/** Per entity: changes emitted and the sum of (last_updated µs mod 1e9), to compare with a store cheaply. */
export type SimDigest = Record<string, { count: number; sum: number }>;

export interface Simulator {
  url: string;
  token: string;
  port: number;
  stats(): SimStats;
  setRate(perSecond: number): void;
  /** Injects a fault; returns what it did (e.g. `{from, to}` for a rename). */
  fault(kind: FaultKind, arg?: string | number): unknown;
  /** Keys (`entity_id@last_updated_us`) of every state change emitted, oldest first. */
  emittedKeys(): string[];
  /** The recorded past before the simulator started (history and statistics; `historyDays`). */
  past: PastHistory;
  /** Per-entity count and timestamp checksum of everything emitted (also `GET /sim/digest`). */
  digest(): SimDigest;
  /**
   * Emits exactly `n` state changes now (tests use this with rate 0 for exact sequences). They are one
   * burst, like n changes in one HA callback: queued before the writer runs, so above 4,095 messages
   * for one client HA's `MAX_PENDING_MSG` closes it. Emit larger numbers in several calls with an
   * `await` between (the ticker slices its changes by 256 for the same reason).
   */
  emit(n: number): void;
  stop(): Promise<void>;
}
