/**
 * `metadata.db`: devices, entities and areas from HA's registries, entity aliases (old id -> current id, so
 * history recorded under an old id stays joined after a rename) and HA's core config. Written only by the
 * metadata actor; the API reads it through `openMetadataReader` (reader.ts).
 */

import { Database } from "bun:sqlite";
import { join } from "node:path";
import { privateDir, privateFile } from "../../runtime/kernel/private-files.ts";
import { migrate } from "../../runtime/kernel/sqlite.ts";
import type { AreaRow, DeviceRow, EntityRow } from "./logic.ts";

export const METADATA_DB = "metadata.db";

export function openMetadataDb(dataDir: string, opts: { readonly?: boolean } = {}): Database {
  privateDir(dataDir);
  privateFile(join(dataDir, METADATA_DB));
  const db = new Database(join(dataDir, METADATA_DB), { create: true, readwrite: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA foreign_keys = OFF");
  if (!opts.readonly) migrate(db, METADATA_DB, MIGRATIONS);
  return db;
}

/** metadata.db migrations by target `user_version` (runtime/kernel/sqlite.ts); append-only. */
const MIGRATIONS = [
  `
    CREATE TABLE IF NOT EXISTS areas (area_id TEXT PRIMARY KEY, name TEXT NOT NULL, raw TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS devices (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, area_id TEXT, manufacturer TEXT, model TEXT, raw TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS entities (
      entity_id TEXT PRIMARY KEY, registry_id TEXT, name TEXT, domain TEXT NOT NULL, device_id TEXT,
      area_id TEXT, platform TEXT, disabled INTEGER NOT NULL DEFAULT 0, raw TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS entities_device ON entities(device_id);
    CREATE INDEX IF NOT EXISTS entities_domain ON entities(domain, entity_id);
    CREATE INDEX IF NOT EXISTS devices_name ON devices(name, id);
    CREATE TABLE IF NOT EXISTS aliases (old_id TEXT PRIMARY KEY, new_id TEXT NOT NULL, at_ms INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS aliases_new ON aliases(new_id);
    CREATE TABLE IF NOT EXISTS ha_config (k TEXT PRIMARY KEY, v TEXT NOT NULL);
  `,
];

/** The metadata actor's writes; each call is one transaction (all or nothing). */
export class MetadataWriter {
  private readonly replaceAreas;
  private readonly replaceDevices;
  private readonly replaceEntities;
  private readonly renameTx;
  private readonly configTx;

  constructor(readonly db: Database) {
    const insArea = db.prepare("INSERT INTO areas (area_id, name, raw) VALUES (?, ?, ?)");
    const insDevice = db.prepare(
      "INSERT INTO devices (id, name, area_id, manufacturer, model, raw) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const insEntity = db.prepare(
      `INSERT INTO entities (entity_id, registry_id, name, domain, device_id, area_id, platform, disabled, raw)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // A full list replaces the table: rows HA no longer lists were removed in HA.
    this.replaceAreas = db.transaction((rows: AreaRow[]) => {
      db.exec("DELETE FROM areas");
      for (const r of rows) insArea.run(r.area_id, r.name, r.raw);
    });
    this.replaceDevices = db.transaction((rows: DeviceRow[]) => {
      db.exec("DELETE FROM devices");
      for (const r of rows) insDevice.run(r.id, r.name, r.area_id, r.manufacturer, r.model, r.raw);
    });
    this.replaceEntities = db.transaction((rows: EntityRow[]) => {
      db.exec("DELETE FROM entities");
      for (const r of rows)
        insEntity.run(
          r.entity_id,
          r.registry_id,
          r.name,
          r.domain,
          r.device_id,
          r.area_id,
          r.platform,
          r.disabled,
          r.raw,
        );
      // An entity listed under an id that is an alias was renamed back: the alias no longer applies.
      db.exec("DELETE FROM aliases WHERE old_id IN (SELECT entity_id FROM entities)");
    });
    const upsertAlias = db.prepare(
      "INSERT INTO aliases (old_id, new_id, at_ms) VALUES (?, ?, ?) ON CONFLICT(old_id) DO UPDATE SET new_id = excluded.new_id, at_ms = excluded.at_ms",
    );
    const repoint = db.prepare("UPDATE aliases SET new_id = ? WHERE new_id = ?");
    const dropAlias = db.prepare("DELETE FROM aliases WHERE old_id = ?");
    const moveEntity = db.prepare(
      "UPDATE OR REPLACE entities SET entity_id = ?, domain = ? WHERE entity_id = ?",
    );
    this.renameTx = db.transaction((from: string, to: string, at: number) => {
      // Chains collapse: a -> b then b -> c leaves a -> c and b -> c. Renaming back removes the alias.
      repoint.run(to, from);
      dropAlias.run(to);
      upsertAlias.run(from, to, at);
      moveEntity.run(to, to.slice(0, to.indexOf(".")), from);
    });
    const setConfig = db.prepare(
      "INSERT INTO ha_config (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
    );
    this.configTx = db.transaction((config: Record<string, unknown>) => {
      db.exec("DELETE FROM ha_config");
      for (const [k, v] of Object.entries(config)) setConfig.run(k, JSON.stringify(v));
    });
  }

  areas(rows: AreaRow[]): void {
    this.replaceAreas(rows);
  }
  devices(rows: DeviceRow[]): void {
    this.replaceDevices(rows);
  }
  entities(rows: EntityRow[]): void {
    this.replaceEntities(rows);
  }
  /** Idempotent: applying the same rename twice leaves the same state. */
  rename(from: string, to: string, atMs: number): void {
    if (from === to) return;
    this.renameTx(from, to, atMs);
  }
  haConfig(config: Record<string, unknown>): void {
    this.configTx(config);
  }
  close(): void {
    this.db.close();
  }
}
