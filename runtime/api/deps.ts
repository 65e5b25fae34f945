/**
 * What the API needs from the rest of HomeIQ, as interfaces. The real objects come from `runtime/app/main.ts`
 * (the supervisor, its MetricsHub, the store and metadata readers opened on their own read connections);
 * tests pass in-memory fakes or real readers over seeded temp dirs and call `app.handle()` in-process.
 */

import type {
  AreaItem,
  DeviceItem,
  EntityDetail,
  EntityItem,
  Page,
  MetadataReader as RealMetadataReader,
} from "../../actors/metadata/reader.ts";
import type { HomeIQConfig } from "../config/schema.ts";
import type { ImportCheckResult, ImportWriteResult, StateChange } from "../events/messages.ts";
import type { Logger } from "../kernel/log.ts";
import type { MetricsHub, Registry } from "../kernel/metrics.ts";
import type { ActorStatus } from "../kernel/supervisor.ts";
import type { BackupSchedule } from "../ops/run-backup.ts";
import type { EventsQuery, StoreReader as RealStoreReader, Resolution, StoredEvent } from "../store/index.ts";
import type { LiveFeed } from "./live.ts";

/** The part of the Supervisor the API reads (it never starts or stops actors). */
export interface SupervisorView {
  status(): ActorStatus[];
  /** The latest notice an actor sent under a name, e.g. `notice("connection", "ha-status")`. */
  notice(actor: string, name: string): unknown;
  call(actor: string, body: unknown, timeoutMs?: number): Promise<unknown>;
}

/** The store's read API (`openStoreReader(dataDir)`, runtime/store/), on its own read connection. */
export type StoreReader = RealStoreReader;
export type { EventsQuery, Resolution, StoredEvent };

/** The metadata actor's read API (`openMetadataReader(dataDir)`, actors/metadata/), its own connection. */
export type MetadataReader = RealMetadataReader;
export type { AreaItem, DeviceItem, EntityDetail, EntityItem, Page };

/** What main.ts provides for the operations routes (./ops/). */
export interface OpsHooks {
  backups: BackupSchedule;
  backupDir: string;
  /** Which of these entity ids the store has never seen, and the entity keys imports may still take. */
  importCheck: (entityIds: string[]) => Promise<ImportCheckResult>;
  /** Stores one batch of imported state changes (through the batcher) and answers what was stored. */
  importEvents: (events: StateChange[]) => Promise<ImportWriteResult>;
  /** Fault injection; only reachable when config.debugFaults is on. */
  crash: (actor: string) => boolean;
}

export interface ApiDeps {
  config: HomeIQConfig;
  supervisor: SupervisorView;
  metrics: MetricsHub;
  store: StoreReader;
  metadata: MetadataReader;
  live: LiveFeed;
  log: Logger;
  /** The API token (see token.ts); defaults to `config.apiToken`. */
  token?: string;
  /** The main thread's own registry (the supervisor's `hubMetrics`); the API adds its metrics here. */
  registry?: Registry;
  /** Built dashboard (web/dist); `/` and unknown non-API paths serve its index.html when present. */
  staticDir?: string;
  /** Operations (backups, import, fault injection); the routes answer 503 when absent. */
  ops?: OpsHooks;
  /** Injected clock for rate limits and rates. */
  now?: () => number;
}
