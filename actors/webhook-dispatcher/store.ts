/**
 * webhooks.db: rules, the durable delivery log, dead letters, and the rule-evaluation state that must
 * survive a restart (each watched entity's last evaluated change, threshold sides, keys of batches already
 * evaluated, and the watermark a catch-up from events.db starts at).
 *
 * The dispatcher actor writes deliveries and state; the API (main thread) writes rules through its own
 * connection and asks the actor to reload. WAL + busy_timeout make the two connections safe.
 */

import { Database, type Statement } from "bun:sqlite";
import { join } from "node:path";
import { privateDir, privateFile } from "../../runtime/kernel/private-files.ts";
import { migrate } from "../../runtime/kernel/sqlite.ts";
import type { Seen, Side } from "./logic.ts";
import type { Rule, Trigger } from "./rules.ts";

export type DeliveryStatus = "pending" | "delivered" | "dead" | "failed";

export interface DeliveryRow {
  id: string;
  rule_id: string;
  event: string;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  created_at: number;
  next_at: number;
  last_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  finished_at: number | null;
}

export interface DeadLetterRow extends DeliveryRow {
  reason: string;
  dead_at: number;
}

export interface NewDelivery {
  id: string;
  ruleId: string;
  event: string;
  body: string;
  createdAt: number;
}

interface RuleRow {
  id: string;
  name: string;
  url: string;
  secret: string;
  enabled: number;
  trigger: string;
  created_at: number;
  updated_at: number;
}

/** webhooks.db migrations by target `user_version` (runtime/kernel/sqlite.ts); append-only. */
const MIGRATIONS = [
  `
CREATE TABLE IF NOT EXISTS rules (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, url TEXT NOT NULL, secret TEXT NOT NULL,
  enabled INTEGER NOT NULL, trigger TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, event TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, next_at INTEGER NOT NULL,
  last_attempt_at INTEGER, last_status INTEGER, last_error TEXT, finished_at INTEGER);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries(status, next_at);
CREATE INDEX IF NOT EXISTS deliveries_rule ON deliveries(rule_id, created_at);
CREATE TABLE IF NOT EXISTS dead_letters (
  delivery_id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, reason TEXT NOT NULL, dead_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entity_seen (entity_id TEXT PRIMARY KEY, state TEXT NOT NULL, last_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rule_state (key TEXT PRIMARY KEY, side INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS processed (key TEXT PRIMARY KEY, at INTEGER NOT NULL);
`,
];

const toRule = (r: RuleRow): Rule => ({
  id: r.id,
  name: r.name,
  url: r.url,
  secret: r.secret,
  enabled: r.enabled === 1,
  when: JSON.parse(r.trigger) as Trigger,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const webhooksDbPath = (dataDir: string): string => join(dataDir, "webhooks.db");

export class WebhookStore {
  readonly db: Database;
  private readonly q: {
    rules: Statement<RuleRow, []>;
    rule: Statement<RuleRow, [string]>;
    insertRule: Statement<unknown, [string, string, string, string, number, string, number, number]>;
    insertDelivery: Statement<unknown, [string, string, string, string, number, number]>;
    processed: Statement<{ key: string }, [string]>;
    markProcessed: Statement<unknown, [string, number]>;
    putSeen: Statement<unknown, [string, string, number]>;
    putMeta: Statement<unknown, [string, number]>;
    putSide: Statement<unknown, [string, number]>;
    attempt: Statement<unknown, [number, number, number, number | null, string | null, string]>;
    finish: Statement<unknown, [string, number, number, number, number | null, string | null, string]>;
    dead: Statement<unknown, [string, string, string, number]>;
  };

  constructor(dataDir: string) {
    privateDir(dataDir);
    privateFile(webhooksDbPath(dataDir)); // every rule's HMAC secret: owner-only, whatever the umask
    this.db = new Database(webhooksDbPath(dataDir), { create: true, strict: true });
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    migrate(this.db, "webhooks.db", MIGRATIONS);
    this.q = {
      rules: this.db.query("SELECT * FROM rules ORDER BY created_at, id"),
      rule: this.db.query("SELECT * FROM rules WHERE id = ?"),
      insertRule: this.db.query("INSERT OR REPLACE INTO rules VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
      insertDelivery: this.db.query(
        "INSERT OR IGNORE INTO deliveries (id, rule_id, event, body, status, created_at, next_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
      ),
      processed: this.db.query("SELECT key FROM processed WHERE key = ?"),
      markProcessed: this.db.query("INSERT OR IGNORE INTO processed VALUES (?, ?)"),
      putSeen: this.db.query("INSERT OR REPLACE INTO entity_seen VALUES (?, ?, ?)"),
      putMeta: this.db.query(
        "INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
      ),
      putSide: this.db.query("INSERT OR REPLACE INTO rule_state VALUES (?, ?)"),
      attempt: this.db.query(
        "UPDATE deliveries SET attempts = ?, next_at = ?, last_attempt_at = ?, last_status = ?, last_error = ? WHERE id = ?",
      ),
      finish: this.db.query(
        "UPDATE deliveries SET status = ?, attempts = ?, last_attempt_at = ?, finished_at = ?, last_status = ?, last_error = ? WHERE id = ?",
      ),
      dead: this.db.query("INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?)"),
    };
  }

  close(): void {
    this.db.close();
  }

  // ---- rules (written by the actor on the API's request: ./rule-writes.ts; read by both) ----

  /** Runs `fn` in one IMMEDIATE transaction (a check and the write it allows, together). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  rules(): Rule[] {
    return this.q.rules.all().map(toRule);
  }

  rule(id: string): Rule | undefined {
    const row = this.q.rule.get(id);
    return row ? toRule(row) : undefined;
  }

  ruleCount(): number {
    return (this.db.query("SELECT count(*) AS n FROM rules").get() as { n: number }).n;
  }

  putRule(r: Rule): void {
    this.q.insertRule.run(
      r.id,
      r.name,
      r.url,
      r.secret,
      r.enabled ? 1 : 0,
      JSON.stringify(r.when),
      r.createdAt,
      r.updatedAt,
    );
  }

  deleteRule(id: string): boolean {
    return this.db.query("DELETE FROM rules WHERE id = ?").run(id).changes > 0;
  }

  // ---- evaluation state ----

  /** Drops threshold state of rule versions that no longer exist (keys are `${id}@${updatedAt}\u0001...`). */
  pruneRuleState(liveRuleKeys: Iterable<string>): number {
    const live = new Set(liveRuleKeys);
    const stale = (this.db.query("SELECT key FROM rule_state").all() as { key: string }[]).filter(
      (r) => !live.has(r.key.slice(0, r.key.indexOf("\u0001"))),
    );
    const del = this.db.query("DELETE FROM rule_state WHERE key = ?");
    this.db.transaction(() => {
      for (const r of stale) del.run(r.key);
    })();
    return stale.length;
  }

  loadState(): { seen: [string, Seen][]; sides: [string, Side][]; watermarkUs: number } {
    const seen = (
      this.db.query("SELECT entity_id, state, last_us FROM entity_seen").all() as {
        entity_id: string;
        state: string;
        last_us: number;
      }[]
    ).map((r) => [r.entity_id, { state: r.state, lastUs: r.last_us }] as [string, Seen]);
    const sides = (
      this.db.query("SELECT key, side FROM rule_state").all() as { key: string; side: number }[]
    ).map((r) => [r.key, r.side as Side] as [string, Side]);
    const mark = this.db.query("SELECT value FROM meta WHERE key = 'watermark_us'").get() as {
      value: number;
    } | null;
    return { seen, sides, watermarkUs: mark?.value ?? 0 };
  }

  /** Whether a batch (by its key) was already evaluated and committed. */
  wasProcessed(key: string): boolean {
    return this.q.processed.get(key) !== null;
  }

  /**
   * Commits one evaluated batch atomically: its key, the state it changed and its new deliveries.
   * Returns the deliveries actually inserted (an id already in the log is skipped, never sent twice).
   */
  commitBatch(
    key: string,
    now: number,
    deliveries: NewDelivery[],
    seen: Map<string, Seen>,
    sides: Map<string, Side>,
    watermarkUs: number,
  ): NewDelivery[] {
    return this.db.transaction(() => {
      const inserted: NewDelivery[] = [];
      for (const d of deliveries) {
        if (this.q.insertDelivery.run(d.id, d.ruleId, d.event, d.body, d.createdAt, d.createdAt).changes > 0)
          inserted.push(d);
      }
      for (const [entity, x] of seen) this.q.putSeen.run(entity, x.state, x.lastUs);
      if (watermarkUs > 0) this.q.putMeta.run("watermark_us", watermarkUs);
      for (const [k, side] of sides) this.q.putSide.run(k, side);
      this.q.markProcessed.run(key, now);
      return inserted;
    })();
  }

  // ---- deliveries ----

  pending(): DeliveryRow[] {
    return this.db
      .query("SELECT * FROM deliveries WHERE status = 'pending' ORDER BY next_at, created_at")
      .all() as DeliveryRow[];
  }

  delivery(id: string): DeliveryRow | undefined {
    return (
      (this.db.query("SELECT * FROM deliveries WHERE id = ?").get(id) as DeliveryRow | null) ?? undefined
    );
  }

  /** Records a failed attempt and when the next one is due. */
  retryLater(
    id: string,
    attempts: number,
    nextAt: number,
    now: number,
    status: number | null,
    error: string,
  ): void {
    this.q.attempt.run(attempts, nextAt, now, status, error, id);
  }

  /** Records the end of a delivery: delivered, or failed (test fires are not retried). */
  finish(
    id: string,
    status: "delivered" | "failed",
    attempts: number,
    now: number,
    httpStatus: number | null,
    error: string | null,
  ): void {
    this.q.finish.run(status, attempts, now, now, httpStatus, error, id);
  }

  deadLetter(
    id: string,
    ruleId: string,
    reason: string,
    attempts: number,
    now: number,
    httpStatus: number | null,
  ): void {
    this.db.transaction(() => {
      this.q.finish.run("dead", attempts, now, now, httpStatus, reason, id);
      this.q.dead.run(id, ruleId, reason, now);
    })();
  }

  /** Records a test fire (already attempted once) in the log. */
  insertFinished(
    d: NewDelivery,
    status: "delivered" | "failed",
    now: number,
    httpStatus: number | null,
    error: string | null,
  ): void {
    this.db
      .query(
        "INSERT OR REPLACE INTO deliveries (id, rule_id, event, body, status, attempts, created_at, next_at, last_attempt_at, last_status, last_error, finished_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
      )
      .run(d.id, d.ruleId, d.event, d.body, status, d.createdAt, now, now, httpStatus, error, now);
  }

  /** A rule's deliveries, newest first, a page at a time. */
  deliveriesOf(ruleId: string, limit: number, offset = 0): DeliveryRow[] {
    return this.db
      .query("SELECT * FROM deliveries WHERE rule_id = ? ORDER BY created_at DESC, id LIMIT ? OFFSET ?")
      .all(ruleId, limit, offset) as DeliveryRow[];
  }

  /** Dead letters, newest first, a page at a time. */
  deadLetters(limit: number, offset = 0): DeadLetterRow[] {
    return this.db
      .query(
        "SELECT d.*, l.reason, l.dead_at FROM dead_letters l JOIN deliveries d ON d.id = l.delivery_id ORDER BY l.dead_at DESC, d.id LIMIT ? OFFSET ?",
      )
      .all(limit, offset) as DeadLetterRow[];
  }

  /** Moves a dead letter back to pending, same delivery id, attempts reset. Returns it, or undefined. */
  replay(id: string, now: number): DeliveryRow | undefined {
    return this.db.transaction(() => {
      if (this.db.query("DELETE FROM dead_letters WHERE delivery_id = ?").run(id).changes === 0)
        return undefined;
      this.db
        .query(
          "UPDATE deliveries SET status = 'pending', attempts = 0, created_at = ?, next_at = ?, finished_at = NULL WHERE id = ?",
        )
        .run(now, now, id);
      return this.delivery(id);
    })();
  }

  /** Keeps the log, dead letters and processed keys within their bounds; returns rows removed. */
  prune(logMax: number, deadMax: number, processedMax: number): number {
    let removed = 0;
    removed += this.db
      .query(
        `DELETE FROM deliveries WHERE status IN ('delivered','failed') AND id IN (
          SELECT id FROM deliveries WHERE status IN ('delivered','failed') ORDER BY finished_at DESC LIMIT -1 OFFSET ?)`,
      )
      .run(logMax).changes;
    const deadIds = this.db
      .query("SELECT delivery_id FROM dead_letters ORDER BY dead_at DESC LIMIT -1 OFFSET ?")
      .all(deadMax) as { delivery_id: string }[];
    if (deadIds.length > 0) {
      this.db.transaction(() => {
        for (const { delivery_id } of deadIds) {
          this.db.query("DELETE FROM dead_letters WHERE delivery_id = ?").run(delivery_id);
          this.db.query("DELETE FROM deliveries WHERE id = ?").run(delivery_id);
        }
      })();
      removed += deadIds.length;
    }
    removed += this.db
      .query(
        "DELETE FROM processed WHERE key IN (SELECT key FROM processed ORDER BY at DESC LIMIT -1 OFFSET ?)",
      )
      .run(processedMax).changes;
    return removed;
  }
}
