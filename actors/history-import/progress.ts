/**
 * `history-import.db`, owned by the history-import actor alone: the current plan and how many of its
 * steps are committed to the store. One row; replaced when a new import is asked for.
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { privateFile } from "../../runtime/kernel/private-files.ts";
import type { ImportPlan } from "./logic.ts";

export const HISTORY_IMPORT_DB = "history-import.db";

export interface SavedImport {
  plan: ImportPlan;
  done: number;
  events: number;
  hours: number;
  /** Why this import was made: "first-start" or "on-demand". */
  reason: string;
  createdMs: number;
}

export class ImportProgress {
  private readonly db: Database;

  constructor(dataDir: string) {
    const file = join(dataDir, HISTORY_IMPORT_DB);
    privateFile(file);
    this.db = new Database(file, { create: true });
    this.db.run("PRAGMA journal_mode = WAL");
    this.db.run(`CREATE TABLE IF NOT EXISTS import (id INTEGER PRIMARY KEY CHECK (id = 1), plan TEXT NOT NULL,
      done INTEGER NOT NULL, events INTEGER NOT NULL, hours INTEGER NOT NULL, reason TEXT NOT NULL,
      created_ms INTEGER NOT NULL)`);
  }

  load(): SavedImport | null {
    const row = this.db.query("SELECT * FROM import WHERE id = 1").get() as Record<string, unknown> | null;
    if (!row) return null;
    return {
      plan: JSON.parse(String(row.plan)) as ImportPlan,
      done: Number(row.done),
      events: Number(row.events),
      hours: Number(row.hours),
      reason: String(row.reason),
      createdMs: Number(row.created_ms),
    };
  }

  begin(plan: ImportPlan, reason: string, nowMs: number): SavedImport {
    this.db.run("INSERT OR REPLACE INTO import VALUES (1, ?, 0, 0, 0, ?, ?)", [
      JSON.stringify(plan),
      reason,
      nowMs,
    ]);
    return { plan, done: 0, events: 0, hours: 0, reason, createdMs: nowMs };
  }

  /** Records one more step as committed (with what it stored). */
  stepDone(s: SavedImport, events: number, hours: number): void {
    s.done++;
    s.events += events;
    s.hours += hours;
    this.db.run("UPDATE import SET done = ?, events = ?, hours = ? WHERE id = 1", [
      s.done,
      s.events,
      s.hours,
    ]);
  }

  close(): void {
    this.db.close();
  }
}
