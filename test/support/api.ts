/**
 * Test fixtures for the API: a config, a fake supervisor, in-memory store and metadata readers that follow
 * the reader contracts, and a log sink that keeps lines. Used by the API tests and the dashboard's tests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MetadataWriter, openMetadataDb } from "../../actors/metadata/db.ts";
import { mapAreas, mapDevices, mapEntities } from "../../actors/metadata/logic.ts";
import { openMetadataReader } from "../../actors/metadata/reader.ts";
import { createApp } from "../../runtime/api/app.ts";
import type {
  ApiDeps,
  AreaItem,
  DeviceItem,
  EntityDetail,
  EntityItem,
  EventsQuery,
  MetadataReader,
  Page,
  Resolution,
  StoredEvent,
  StoreReader,
  SupervisorView,
} from "../../runtime/api/deps.ts";
import { LiveFeed, toStoredEvent } from "../../runtime/api/live.ts";
import { loadConfig } from "../../runtime/config/load.ts";
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { StateChange } from "../../runtime/events/messages.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { MetricsHub, Registry } from "../../runtime/kernel/metrics.ts";
import type { ActorStatus } from "../../runtime/kernel/supervisor.ts";
import { openStoreReader, type Tier } from "../../runtime/store/index.ts";
import { openStoreWriter } from "../../runtime/store/writer.ts";

export const TEST_TOKEN = "test-token-0123456789abcdef";

export function testConfig(env: Record<string, string> = {}): HomeIQConfig {
  return loadConfig({ env: { HOMEIQ_API_TOKEN: TEST_TOKEN, HOMEIQ_LOG_LEVEL: "debug", ...env } });
}

export class FakeSupervisor implements SupervisorView {
  statuses: ActorStatus[] = [
    { name: "metadata", state: "running", restarts: 0, startedAt: 1 },
    { name: "batcher", state: "running", restarts: 0, startedAt: 1 },
    { name: "connection", state: "running", restarts: 0, startedAt: 1 },
  ];
  notices = new Map<string, unknown>();
  status(): ActorStatus[] {
    return this.statuses.map((s) => ({ ...s }));
  }
  notice(actor: string, name: string): unknown {
    return this.notices.get(`${actor}/${name}`);
  }
  /** Replace in tests that need an actor to answer. */
  call: (actor: string, body: unknown, timeoutMs?: number) => Promise<unknown> = async (actor) => {
    throw new Error(`actor "${actor}" is not running (fake)`);
  };
}

/** A state change as the connection actor builds it (times in µs). */
export function change(entityId: string, state: string, ms: number, attributes: object = {}): StateChange {
  return {
    entity_id: entityId,
    state,
    attributes: JSON.stringify(attributes),
    last_changed: ms * 1000,
    last_updated: ms * 1000,
    context_id: null,
    context_parent_id: null,
    context_user_id: null,
  };
}

/** Store reader over an array, newest first, cursor = index of the next row. */
export class MemoryStore implements StoreReader {
  events_: StoredEvent[] = [];
  add(changes: StateChange[]): void {
    this.events_.push(...changes.map(toStoredEvent));
    this.events_.sort((a, b) => b.ts - a.ts);
  }
  events(q: EventsQuery) {
    if (q.cursor !== undefined && !/^\d+$/.test(q.cursor))
      throw new Error(`events: cursor "${q.cursor}" is not one this store returned`);
    const start = q.cursor ? Number(q.cursor) : 0;
    const rows = this.events_.filter(
      (e) =>
        (q.from === undefined || e.ts >= q.from) &&
        (q.to === undefined || e.ts < q.to) &&
        (!q.entityIds?.length || q.entityIds.includes(e.entity_id)) &&
        (!q.domain || e.entity_id.startsWith(`${q.domain}.`)),
    );
    const items = rows.slice(start, start + q.limit);
    return { items, nextCursor: start + q.limit < rows.length ? String(start + q.limit) : null };
  }
  history(entityId: string, r: { from: number; to: number; resolution: Resolution; limit?: number }) {
    const all = this.events_
      .filter((e) => e.entity_id === entityId && e.ts >= r.from && e.ts < r.to)
      .reverse()
      .map((e) => ({ t: e.ts, value: e.value, min: e.value, max: e.value, count: 1, state: e.state }));
    // Whole-millisecond times here, so the page simply ends before the first point left out.
    const limit = r.limit ?? all.length;
    const nextFrom = all.length > limit ? all[limit].t : null;
    const points = nextFrom === null ? all : all.filter((p) => p.t < nextFrom);
    return { tier: (r.resolution === "auto" ? "raw" : r.resolution) as Tier, points, nextFrom };
  }
  totals() {
    const ts = this.events_.map((e) => e.ts);
    return {
      events: ts.length,
      bytes: ts.length * 100,
      oldestMs: ts.length ? Math.min(...ts) : null,
      newestMs: ts.length ? Math.max(...ts) : null,
    };
  }
  entityIds(): string[] {
    return [...new Set(this.events_.map((e) => e.entity_id))].sort();
  }
  newestUpdateUs(): number | null {
    return this.events_.length ? this.events_[0].ts * 1000 : null;
  }
  /** Enrichment readings kept by tests that need them (none by default). */
  readings: { source: string; metric: string; ts: number; value: number }[] = [];
  enrichmentHistory(source: string, q: { metric?: string; from: number; to: number; limit: number }) {
    const points = this.readings
      .filter(
        (r) => r.source === source && (!q.metric || r.metric === q.metric) && r.ts >= q.from && r.ts < q.to,
      )
      .slice(0, q.limit)
      .map(({ metric, ts, value }) => ({ metric, ts, value }));
    return { points };
  }
  contextEvents(contextId: string): StoredEvent[] {
    return this.events_
      .filter((e) => e.context_id === contextId || e.context_parent_id === contextId)
      .reverse();
  }
  close(): void {}
}

function page<T>(rows: T[], cursor: string | undefined, limit: number): Page<T> {
  if (cursor !== undefined && !/^\d+$/.test(cursor)) throw new Error(`cursor "${cursor}" is not valid`);
  const start = cursor ? Number(cursor) : 0;
  return {
    items: rows.slice(start, start + limit),
    nextCursor: start + limit < rows.length ? String(start + limit) : null,
    total: rows.length,
  };
}

/** HA registry rows for `n` devices with 4 entities each (light, sensor, switch, binary_sensor) in 5 areas. */
export function registryRows(devicesCount: number) {
  const areas = [0, 1, 2, 3, 4].map((i) => ({ area_id: `a${i}`, name: `Area ${i}` }));
  const devices: Record<string, unknown>[] = [];
  const entities: Record<string, unknown>[] = [];
  for (let i = 0; i < devicesCount; i++) {
    const id = `d${String(i).padStart(5, "0")}`;
    devices.push({
      id,
      name: `Device ${String(i).padStart(5, "0")}`,
      area_id: `a${i % 5}`,
      manufacturer: "Acme",
    });
    for (const domain of ["light", "sensor", "switch", "binary_sensor"])
      entities.push({
        entity_id: `${domain}.dev_${i}`,
        id: `${domain}-${i}`,
        device_id: id,
        platform: "sim",
      });
  }
  return { areas, devices, entities };
}

/** Writes registry rows into `metadata.db` under `dir` the way the metadata actor does. */
export function seedMetadata(dir: string, devicesCount: number): void {
  const rows = registryRows(devicesCount);
  const db = openMetadataDb(dir);
  const writer = new MetadataWriter(db);
  writer.areas(mapAreas(rows.areas).rows);
  writer.devices(mapDevices(rows.devices).rows);
  writer.entities(mapEntities(rows.entities).rows);
  db.close();
}

/** Metadata reader over arrays, offset cursors; same item shapes as the real reader. */
export class MemoryMetadata implements MetadataReader {
  devices_: DeviceItem[] = [];
  entities_: EntityItem[] = [];
  constructor(devicesCount = 0) {
    const rows = registryRows(devicesCount);
    this.devices_ = rows.devices.map((d) => ({
      id: String(d.id),
      name: String(d.name),
      area_id: String(d.area_id),
      area_name: null,
      manufacturer: "Acme",
      model: null,
      entity_count: 4,
    }));
    this.entities_ = rows.entities.map((e) => {
      const id = String(e.entity_id);
      const device = this.devices_.find((d) => d.id === e.device_id)!;
      return {
        entity_id: id,
        name: null,
        domain: id.slice(0, id.indexOf(".")),
        device_id: device.id,
        device_name: device.name,
        area_id: device.area_id,
        area_name: null,
        platform: "sim",
        disabled: false,
      };
    });
  }
  devices(q: { area?: string; q?: string; cursor?: string; limit: number }) {
    const rows = this.devices_.filter(
      (d) => (!q.area || d.area_id === q.area) && (!q.q || d.name.toLowerCase().includes(q.q.toLowerCase())),
    );
    return page(rows, q.cursor, q.limit);
  }
  entities(q: { domain?: string; area?: string; q?: string; cursor?: string; limit: number }) {
    const rows = this.entities_.filter(
      (e) =>
        (!q.domain || e.domain === q.domain) &&
        (!q.area || e.area_id === q.area) &&
        (!q.q || e.entity_id.includes(q.q)),
    );
    return page(rows, q.cursor, q.limit);
  }
  entity(id: string): EntityDetail | null {
    const e = this.entities_.find((x) => x.entity_id === id);
    return e ? { ...e, aliases: [], registry: {} } : null;
  }
  areas(): AreaItem[] {
    return [0, 1, 2, 3, 4].map((i) => ({
      area_id: `a${i}`,
      name: `Area ${i}`,
      device_count: 0,
      entity_count: 0,
    }));
  }
  resolve(entityId: string): string {
    return entityId;
  }
  aliasesOf(): string[] {
    return [];
  }
  haConfig(): Record<string, unknown> | null {
    return null;
  }
  close(): void {}
}

export interface TestApi {
  app: ReturnType<typeof createApp>;
  deps: ApiDeps & { supervisor: FakeSupervisor; registry: Registry };
  lines: string[];
  /** The temp data dir with `store: "sqlite"`. */
  dataDir?: string;
  /** Stores state changes (through the real store writer with `store: "sqlite"`). */
  seed(changes: StateChange[]): void;
  /** Sends a request in-process; `auth: false` leaves the token out. */
  get(path: string, init?: RequestInit & { auth?: boolean }): Promise<Response>;
  /** Closes the readers and removes the temp data dir. */
  close(): void;
}

export function testApi(
  opts: {
    env?: Record<string, string>;
    now?: () => number;
    staticDir?: string;
    /** "sqlite": the real store and metadata readers over a temp data dir (call close()). */
    store?: "memory" | "sqlite";
    /** Devices in the registry (4 entities each). */
    devices?: number;
    /** Operations hooks (backups, import, crash); the ops routes answer 503 without them. */
    ops?: ApiDeps["ops"];
  } = {},
): TestApi {
  const config = testConfig(opts.env);
  const lines: string[] = [];
  const registry = new Registry({ actor: "hub" });
  const dir = opts.store === "sqlite" ? mkdtempSync(join(tmpdir(), "homeiq-api-")) : undefined;
  const memory = new MemoryStore();
  const writer = dir ? openStoreWriter(dir, { dictionaryCache: 10_000 }) : undefined;
  const store: StoreReader = dir ? openStoreReader(dir) : memory;
  if (dir) seedMetadata(dir, opts.devices ?? 10);
  const metadata: MetadataReader = dir ? openMetadataReader(dir) : new MemoryMetadata(opts.devices ?? 10);
  const deps = {
    config,
    supervisor: new FakeSupervisor(),
    metrics: new MetricsHub(),
    store,
    metadata,
    live: new LiveFeed({ queueMax: config.api.sseQueueMax, registry }),
    log: createLogger({ actor: "api", level: "debug", sink: (l) => lines.push(l) }),
    token: TEST_TOKEN,
    registry,
    now: opts.now,
    staticDir: opts.staticDir,
    ops: opts.ops,
  };
  const app = createApp(deps);
  let closed = false;
  return {
    app,
    deps,
    lines,
    dataDir: dir,
    seed: (changes) => {
      if (writer) writer.writeEvents(changes);
      else memory.add(changes);
    },
    get: (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (init.auth !== false && !headers.has("authorization"))
        headers.set("authorization", `Bearer ${TEST_TOKEN}`);
      return app.handle(new Request(`http://localhost${path}`, { ...init, headers }));
    },
    close: () => {
      if (closed) return;
      closed = true;
      deps.live.closeAll();
      writer?.close();
      store.close();
      metadata.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
