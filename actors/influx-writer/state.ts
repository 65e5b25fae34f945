/**
 * `influx.db`: what the Influx writer must remember across restarts — its cursors into events.db, the
 * type each field got the first time it was written (so a field never changes type: no HTTP 422 type
 * conflicts), and the dead letters (points the server refused, with its reason).
 */

import type { Database } from "bun:sqlite";
import { join } from "node:path";
import { migrate, openDatabase } from "../../runtime/kernel/sqlite.ts";
import { StoredPosition, type TailPosition } from "../../runtime/store/tail.ts";

export const INFLUX_DB = "influx.db";

/** A field's Influx type, fixed on first write. */
export type FieldType = "float" | "bool" | "string";

export interface DeadLetter {
  at_ms: number;
  /** The refused point's last_updated in µs (events) or readings.seq (enrichment). */
  seq: number;
  kind: "event" | "reading";
  line: string;
  status: number;
  reason: string;
}

/** influx.db migrations by target `user_version` (runtime/kernel/sqlite.ts); append-only. */
const INFLUX_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE IF NOT EXISTS field_types (measurement TEXT NOT NULL, field TEXT NOT NULL,
     type TEXT NOT NULL, PRIMARY KEY (measurement, field)) WITHOUT ROWID;
   CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL,
     seq INTEGER NOT NULL, kind TEXT NOT NULL, line TEXT NOT NULL, status INTEGER NOT NULL, reason TEXT NOT NULL);`,
];

export class InfluxState {
  private readonly db: Database;
  private readonly setCursorStmt;
  private readonly addTypeStmt;
  private readonly deadStmt;
  private readonly events: StoredPosition;

  constructor(dataDir: string) {
    this.db = openDatabase(join(dataDir, INFLUX_DB));
    migrate(this.db, INFLUX_DB, INFLUX_MIGRATIONS);
    this.setCursorStmt = this.db.prepare("INSERT OR REPLACE INTO cursors (name, seq) VALUES (?, ?)");
    this.addTypeStmt = this.db.prepare(
      "INSERT OR IGNORE INTO field_types (measurement, field, type) VALUES (?, ?, ?)",
    );
    this.deadStmt = this.db.prepare(
      "INSERT INTO dead_letters (at_ms, seq, kind, line, status, reason) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.events = new StoredPosition(this.db, "events");
  }

  /** Where the events tail stands; `base` (events.db's tail_base) when only a journal seq was kept. */
  eventsPosition(base: { t: number; e: number }): TailPosition {
    return this.events.load(base);
  }

  /** Moves the events position and records the dead letters of that step in one transaction. */
  advanceEvents(pos: TailPosition, dead: DeadLetter[]): void {
    this.db
      .transaction(() => {
        for (const d of dead) this.deadStmt.run(d.at_ms, d.seq, d.kind, d.line, d.status, d.reason);
        this.events.save(pos);
      })
      .immediate();
  }

  cursor(name: "readings"): number {
    const row = this.db.query("SELECT seq FROM cursors WHERE name = ?").get(name) as { seq: number } | null;
    return row?.seq ?? 0;
  }

  /** Moves a cursor and records the dead letters of that step in one transaction. */
  advance(name: "readings", seq: number, dead: DeadLetter[]): void {
    this.db
      .transaction(() => {
        for (const d of dead) this.deadStmt.run(d.at_ms, d.seq, d.kind, d.line, d.status, d.reason);
        this.setCursorStmt.run(name, seq);
      })
      .immediate();
  }

  fieldTypes(): Map<string, FieldType> {
    const out = new Map<string, FieldType>();
    for (const r of this.db.query("SELECT measurement, field, type FROM field_types").all() as {
      measurement: string;
      field: string;
      type: FieldType;
    }[])
      out.set(`${r.measurement}\u0000${r.field}`, r.type);
    return out;
  }

  rememberType(measurement: string, field: string, type: FieldType): void {
    this.addTypeStmt.run(measurement, field, type);
  }

  deadLetters(limit = 100): DeadLetter[] {
    return this.db
      .query("SELECT at_ms, seq, kind, line, status, reason FROM dead_letters ORDER BY id DESC LIMIT ?")
      .all(limit) as DeadLetter[];
  }

  close(): void {
    this.db.close();
  }
}
