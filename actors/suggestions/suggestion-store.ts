/**
 * `suggestions.db`: the suggestions the miner proposed, their accept/dismiss state, optional LLM rewrites,
 * and a short log of runs. Written only by the suggestions worker.
 *
 * Invariants:
 * - A dismissed suggestion is never re-opened: its id is kept, and a new suggestion of the same family
 *   (same kind, entities and action) whose parameter drifted only a little (time within 45 min, threshold
 *   within 1.5 units) counts as the same and stays suppressed. The same holds for an accepted one, so a
 *   drifted copy of an automation the user already took is not offered again.
 * - Open suggestions the latest run no longer finds are removed (the habit is gone); accepted and
 *   dismissed ones stay as the user's decisions.
 * - At most `maxOpen` suggestions are open; the most confident win.
 */

import type { Database } from "bun:sqlite";
import { join } from "node:path";
import { migrate, openDatabase } from "../../runtime/kernel/sqlite.ts";
import type { Evidence, Suggestion, SuggestionKind } from "./miner/types.ts";

export const SUGGESTIONS_DB = "suggestions.db";
export type SuggestionStatus = "open" | "accepted" | "dismissed";
const RUNS_KEPT = 100;

export interface StoredSuggestion {
  id: string;
  kind: SuggestionKind;
  status: SuggestionStatus;
  /** The LLM's title when it rewrote this suggestion, else the miner's. */
  title: string;
  explanation: string;
  /** The miner's own text, always kept. */
  minerTitle: string;
  minerExplanation: string;
  rewritten: boolean;
  entities: string[];
  evidence: Evidence;
  yaml: string;
  firstSeen: number;
  lastSeen: number;
  statusAt: number | null;
}

export interface RunRecord {
  id: number;
  trigger: "schedule" | "manual";
  startedAt: number;
  finishedAt: number;
  ms: number;
  events: number;
  found: number;
  added: number;
  suppressed: number;
  removed: number;
  open: number;
  error: string | null;
}

interface Row {
  id: string;
  kind: SuggestionKind;
  status: SuggestionStatus;
  title: string;
  explanation: string;
  llm_title: string | null;
  llm_explanation: string | null;
  entities: string;
  evidence: string;
  yaml: string;
  first_seen: number;
  last_seen: number;
  status_at: number | null;
}

/** How far a parameter may drift and still be "the same" suggestion as a dismissed one. */
function tolerance(kind: SuggestionKind, a: number, b: number): boolean {
  if (kind === "time_of_day") {
    const d = Math.abs(a - b) % 1440;
    return Math.min(d, 1440 - d) <= 45;
  }
  if (kind === "threshold") return Math.abs(a - b) <= Math.max(1.5, Math.abs(b) * 0.1);
  return a === b;
}

/** suggestions.db migrations by target `user_version` (runtime/kernel/sqlite.ts); append-only. */
const SUGGESTIONS_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS suggestions (
      id TEXT PRIMARY KEY, family TEXT NOT NULL, param REAL NOT NULL, kind TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'dismissed')),
      title TEXT NOT NULL, explanation TEXT NOT NULL, llm_title TEXT, llm_explanation TEXT, llm_tried INTEGER NOT NULL DEFAULT 0,
      entities TEXT NOT NULL, evidence TEXT NOT NULL, yaml TEXT NOT NULL, confidence REAL NOT NULL,
      first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, status_at INTEGER);
CREATE INDEX IF NOT EXISTS suggestions_by_family ON suggestions (family, status);
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, trigger TEXT NOT NULL,
      started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL, ms REAL NOT NULL, events INTEGER NOT NULL,
      found INTEGER NOT NULL, added INTEGER NOT NULL, suppressed INTEGER NOT NULL, removed INTEGER NOT NULL,
      open INTEGER NOT NULL, error TEXT);`,
];

export class SuggestionStore {
  private readonly db: Database;

  constructor(dataDir: string) {
    this.db = openDatabase(join(dataDir, SUGGESTIONS_DB));
    migrate(this.db, SUGGESTIONS_DB, SUGGESTIONS_MIGRATIONS);
  }

  /** Applies one run's findings (best first) in one transaction. */
  reconcile(
    found: readonly Suggestion[],
    now: number,
    maxOpen: number,
  ): { added: number; suppressed: number; removed: number; open: number } {
    const get = this.db.prepare("SELECT status FROM suggestions WHERE id = ?");
    // Decided (dismissed or accepted) habits of the same family cover small drifts of their parameter.
    const decidedParams = this.db.prepare(
      "SELECT param FROM suggestions WHERE family = ? AND status IN ('dismissed', 'accepted')",
    );
    const insert =
      this.db.prepare(`INSERT INTO suggestions (id, family, param, kind, status, title, explanation,
      entities, evidence, yaml, confidence, first_seen, last_seen) VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)`);
    const update = this.db.prepare(`UPDATE suggestions SET title = ?, explanation = ?, evidence = ?, yaml = ?,
      confidence = ?, last_seen = ? WHERE id = ?`);
    const counts = { added: 0, suppressed: 0, removed: 0, open: 0 };
    this.db.transaction(() => {
      let open = 0;
      for (const s of found) {
        const row = get.get(s.id) as { status: SuggestionStatus } | null;
        if (row?.status === "dismissed") {
          counts.suppressed++;
          continue;
        }
        if (row) {
          update.run(
            s.title,
            s.explanation,
            JSON.stringify(s.evidence),
            s.yaml,
            s.evidence.confidence,
            now,
            s.id,
          );
          if (row.status === "open") open++;
          continue;
        }
        const params = decidedParams.all(s.family) as { param: number }[];
        if (params.some((p) => tolerance(s.kind, s.param, p.param))) {
          counts.suppressed++;
          continue;
        }
        if (open >= maxOpen) continue;
        insert.run(
          s.id,
          s.family,
          s.param,
          s.kind,
          s.title,
          s.explanation,
          JSON.stringify(s.entities),
          JSON.stringify(s.evidence),
          s.yaml,
          s.evidence.confidence,
          now,
          now,
        );
        counts.added++;
        open++;
      }
      counts.removed = this.db.run("DELETE FROM suggestions WHERE status = 'open' AND last_seen < ?", [
        now,
      ]).changes;
      counts.open = open;
    })();
    return counts;
  }

  list(status: SuggestionStatus | "all" = "open"): StoredSuggestion[] {
    const rows = (
      status === "all"
        ? this.db.query("SELECT * FROM suggestions ORDER BY confidence DESC, id").all()
        : this.db.query("SELECT * FROM suggestions WHERE status = ? ORDER BY confidence DESC, id").all(status)
    ) as Row[];
    return rows.map(view);
  }

  get(id: string): StoredSuggestion | undefined {
    const row = this.db.query("SELECT * FROM suggestions WHERE id = ?").get(id) as Row | null;
    return row ? view(row) : undefined;
  }

  /** Accept or dismiss; idempotent. Returns undefined for an unknown id. */
  setStatus(id: string, status: "accepted" | "dismissed", now: number): StoredSuggestion | undefined {
    this.db.run("UPDATE suggestions SET status = ?, status_at = ? WHERE id = ? AND status != ?", [
      status,
      now,
      id,
      status,
    ]);
    return this.get(id);
  }

  /** Open suggestions the LLM has not been asked about yet, best first. */
  pendingRewrites(limit: number): StoredSuggestion[] {
    return (
      this.db
        .query(
          "SELECT * FROM suggestions WHERE status = 'open' AND llm_tried = 0 ORDER BY confidence DESC, id LIMIT ?",
        )
        .all(limit) as Row[]
    ).map(view);
  }

  /** Records an LLM attempt; `text` is null when it failed (the miner's text stands, and it is not retried). */
  saveRewrite(id: string, text: { title: string; explanation: string } | null): void {
    this.db.run("UPDATE suggestions SET llm_tried = 1, llm_title = ?, llm_explanation = ? WHERE id = ?", [
      text?.title ?? null,
      text?.explanation ?? null,
      id,
    ]);
  }

  recordRun(run: Omit<RunRecord, "id">): RunRecord {
    const result = this.db.run(
      `INSERT INTO runs (trigger, started_at, finished_at, ms, events, found, added, suppressed, removed, open, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        run.trigger,
        run.startedAt,
        run.finishedAt,
        run.ms,
        run.events,
        run.found,
        run.added,
        run.suppressed,
        run.removed,
        run.open,
        run.error,
      ],
    );
    const id = Number(result.lastInsertRowid);
    this.db.run("DELETE FROM runs WHERE id <= ?", [id - RUNS_KEPT]);
    return { id, ...run };
  }

  lastRun(): RunRecord | null {
    const row = this.db.query("SELECT * FROM runs ORDER BY id DESC LIMIT 1").get() as Record<
      string,
      unknown
    > | null;
    if (!row) return null;
    return {
      id: row.id as number,
      trigger: row.trigger as RunRecord["trigger"],
      startedAt: row.started_at as number,
      finishedAt: row.finished_at as number,
      ms: row.ms as number,
      events: row.events as number,
      found: row.found as number,
      added: row.added as number,
      suppressed: row.suppressed as number,
      removed: row.removed as number,
      open: row.open as number,
      error: (row.error as string | null) ?? null,
    };
  }

  close(): void {
    this.db.close();
  }
}

function view(r: Row): StoredSuggestion {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    title: r.llm_title ?? r.title,
    explanation: r.llm_explanation ?? r.explanation,
    minerTitle: r.title,
    minerExplanation: r.explanation,
    rewritten: r.llm_title !== null,
    entities: JSON.parse(r.entities),
    evidence: JSON.parse(r.evidence),
    yaml: r.yaml,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    statusAt: r.status_at,
  };
}
