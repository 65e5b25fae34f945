/**
 * Read API over `metadata.db` for the HTTP API: keyset-paginated devices and entities, one entity with its
 * aliases (ids it had before renames, under which older history is stored), areas, and HA's core config.
 *
 * @example
 * const meta = openMetadataReader("./data");
 * const page = meta.entities({ domain: "sensor", limit: 50 });
 * const next = meta.entities({ domain: "sensor", limit: 50, cursor: page.nextCursor! });
 * meta.close();
 */
import type { Database, SQLQueryBindings } from "bun:sqlite";
import { openMetadataDb } from "./db.ts";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  total: number;
}

export interface DeviceItem {
  id: string;
  name: string;
  area_id: string | null;
  area_name: string | null;
  manufacturer: string | null;
  model: string | null;
  entity_count: number;
}

export interface EntityItem {
  entity_id: string;
  name: string | null;
  domain: string;
  device_id: string | null;
  device_name: string | null;
  /** The entity's own area, else its device's. */
  area_id: string | null;
  area_name: string | null;
  platform: string | null;
  disabled: boolean;
}

export interface EntityDetail extends EntityItem {
  /** Ids this entity had before renames (its older history is stored under them). */
  aliases: string[];
  /** The registry row as HA sent it. */
  registry: Record<string, unknown>;
}

export interface AreaItem {
  area_id: string;
  name: string;
  device_count: number;
  entity_count: number;
}

export interface MetadataReader {
  devices(query: { q?: string; area?: string; cursor?: string; limit: number }): Page<DeviceItem>;
  entities(query: {
    domain?: string;
    area?: string;
    q?: string;
    cursor?: string;
    limit: number;
  }): Page<EntityItem>;
  /** One entity by its current id or any former id (alias); null if unknown. */
  entity(entityId: string): EntityDetail | null;
  areas(): AreaItem[];
  /** The current id of an entity id that may be an alias. */
  resolve(entityId: string): string;
  /** Former ids of an entity (for joining history across renames). */
  aliasesOf(entityId: string): string[];
  /** HA's get_config result, or null before the first connection. */
  haConfig(): Record<string, unknown> | null;
  close(): void;
}

export const METADATA_PAGE_MAX = 10_000;

/** Bad query input (a malformed cursor, a limit out of range); the API maps it to 400. */
export class MetadataQueryError extends Error {
  override name = "MetadataQueryError";
}

const encodeCursor = (parts: string[]) => Buffer.from(JSON.stringify(parts)).toString("base64url");
function decodeCursor(cursor: string, n: number): string[] {
  try {
    const parts = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(parts) && parts.length === n && parts.every((p) => typeof p === "string")) return parts;
  } catch {}
  throw new MetadataQueryError(
    `cursor "${cursor.slice(0, 40)}" is not one this API issued; pass the nextCursor of the previous page unchanged`,
  );
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > METADATA_PAGE_MAX)
    throw new MetadataQueryError(
      `limit must be a whole number between 1 and ${METADATA_PAGE_MAX}, got ${limit}`,
    );
  return limit;
}

const like = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

const ENTITY_SELECT = `
  SELECT e.entity_id, e.name, e.domain, e.device_id, d.name AS device_name,
         COALESCE(e.area_id, d.area_id) AS area_id, a.name AS area_name, e.platform, e.disabled, e.raw
  FROM entities e
  LEFT JOIN devices d ON d.id = e.device_id
  LEFT JOIN areas a ON a.area_id = COALESCE(e.area_id, d.area_id)`;

type EntityRowOut = Omit<EntityItem, "disabled"> & { disabled: number; raw: string };
const toEntity = (r: EntityRowOut): EntityItem => ({
  entity_id: r.entity_id,
  name: r.name,
  domain: r.domain,
  device_id: r.device_id,
  device_name: r.device_name,
  area_id: r.area_id,
  area_name: r.area_name,
  platform: r.platform,
  disabled: r.disabled === 1,
});

class SqliteMetadataReader implements MetadataReader {
  constructor(private readonly db: Database) {}

  devices(query: { q?: string; area?: string; cursor?: string; limit: number }): Page<DeviceItem> {
    const limit = checkLimit(query.limit);
    const where: string[] = [];
    const args: SQLQueryBindings[] = [];
    if (query.q) {
      where.push(
        "(d.name LIKE ? ESCAPE '\\' OR d.manufacturer LIKE ? ESCAPE '\\' OR d.model LIKE ? ESCAPE '\\')",
      );
      args.push(like(query.q), like(query.q), like(query.q));
    }
    if (query.area) {
      where.push("d.area_id = ?");
      args.push(query.area);
    }
    const total = this.count(`SELECT COUNT(*) AS n FROM devices d ${clause(where)}`, args);
    const pageWhere = [...where];
    const pageArgs = [...args];
    if (query.cursor) {
      const [name, id] = decodeCursor(query.cursor, 2);
      pageWhere.push("(d.name > ? OR (d.name = ? AND d.id > ?))");
      pageArgs.push(name, name, id);
    }
    const rows = this.db
      .query(
        `SELECT d.id, d.name, d.area_id, a.name AS area_name, d.manufacturer, d.model,
                (SELECT COUNT(*) FROM entities e WHERE e.device_id = d.id) AS entity_count
         FROM devices d LEFT JOIN areas a ON a.area_id = d.area_id
         ${clause(pageWhere)} ORDER BY d.name, d.id LIMIT ?`,
      )
      .all(...pageArgs, limit + 1) as DeviceItem[];
    const more = rows.length > limit;
    const items = more ? rows.slice(0, limit) : rows;
    const last = items[items.length - 1];
    return { items, total, nextCursor: more && last ? encodeCursor([last.name, last.id]) : null };
  }

  entities(query: {
    domain?: string;
    area?: string;
    q?: string;
    cursor?: string;
    limit: number;
  }): Page<EntityItem> {
    const limit = checkLimit(query.limit);
    const where: string[] = [];
    const args: SQLQueryBindings[] = [];
    if (query.domain) {
      where.push("e.domain = ?");
      args.push(query.domain);
    }
    if (query.area) {
      where.push("COALESCE(e.area_id, d.area_id) = ?");
      args.push(query.area);
    }
    if (query.q) {
      where.push("(e.entity_id LIKE ? ESCAPE '\\' OR e.name LIKE ? ESCAPE '\\')");
      args.push(like(query.q), like(query.q));
    }
    const total = this.count(
      `SELECT COUNT(*) AS n FROM entities e LEFT JOIN devices d ON d.id = e.device_id ${clause(where)}`,
      args,
    );
    const pageWhere = [...where];
    const pageArgs = [...args];
    if (query.cursor) {
      pageWhere.push("e.entity_id > ?");
      pageArgs.push(decodeCursor(query.cursor, 1)[0]);
    }
    const rows = this.db
      .query(`${ENTITY_SELECT} ${clause(pageWhere)} ORDER BY e.entity_id LIMIT ?`)
      .all(...pageArgs, limit + 1) as EntityRowOut[];
    const more = rows.length > limit;
    const items = (more ? rows.slice(0, limit) : rows).map(toEntity);
    const last = items[items.length - 1];
    return { items, total, nextCursor: more && last ? encodeCursor([last.entity_id]) : null };
  }

  entity(entityId: string): EntityDetail | null {
    const id = this.resolve(entityId);
    const row = this.db.query(`${ENTITY_SELECT} WHERE e.entity_id = ?`).get(id) as EntityRowOut | null;
    if (!row) return null;
    return { ...toEntity(row), aliases: this.aliasesOf(id), registry: JSON.parse(row.raw) };
  }

  areas(): AreaItem[] {
    return this.db
      .query(
        `SELECT a.area_id, a.name,
                (SELECT COUNT(*) FROM devices d WHERE d.area_id = a.area_id) AS device_count,
                (SELECT COUNT(*) FROM entities e LEFT JOIN devices d ON d.id = e.device_id
                   WHERE COALESCE(e.area_id, d.area_id) = a.area_id) AS entity_count
         FROM areas a ORDER BY a.name, a.area_id`,
      )
      .all() as AreaItem[];
  }

  resolve(entityId: string): string {
    const row = this.db.query("SELECT new_id FROM aliases WHERE old_id = ?").get(entityId) as {
      new_id: string;
    } | null;
    return row?.new_id ?? entityId;
  }

  aliasesOf(entityId: string): string[] {
    return (
      this.db.query("SELECT old_id FROM aliases WHERE new_id = ? ORDER BY at_ms").all(entityId) as {
        old_id: string;
      }[]
    ).map((r) => r.old_id);
  }

  haConfig(): Record<string, unknown> | null {
    const rows = this.db.query("SELECT k, v FROM ha_config").all() as { k: string; v: string }[];
    if (rows.length === 0) return null;
    return Object.fromEntries(rows.map((r) => [r.k, JSON.parse(r.v)]));
  }

  private count(sql: string, args: SQLQueryBindings[]): number {
    return (this.db.query(sql).get(...args) as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}

const clause = (where: string[]) => (where.length ? `WHERE ${where.join(" AND ")}` : "");

/** Opens `metadata.db` under `dataDir` for reading (creating the schema if the actor has not yet). */
export function openMetadataReader(dataDir: string): MetadataReader {
  return new SqliteMetadataReader(openMetadataDb(dataDir));
}

/**
 * Home Assistant's `time_zone` (get_config) as recorded in metadata.db, or undefined before the first
 * connection or without a metadata database. For actors that count local hours and days.
 */
export function readHaTimeZone(dataDir: string): string | undefined {
  let reader: MetadataReader | undefined;
  try {
    reader = openMetadataReader(dataDir);
    const zone = reader.haConfig()?.time_zone;
    return typeof zone === "string" ? zone : undefined;
  } catch {
    return undefined;
  } finally {
    reader?.close();
  }
}
