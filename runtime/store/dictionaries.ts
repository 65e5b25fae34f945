/**
 * The one dictionary cache of `events.db` readers: entity names, state texts, attribute JSON and user ids
 * by their small integer keys (./schema.ts `TABLES`). Every read module of the store (the API's reader,
 * the export feed, the history scan) decodes rows through one of these per connection, so there is one
 * implementation of the lookups and one bound (`store.dictionaryCache` where the caller passes it).
 *
 * The state and attribute caches are cleared when full: the working set is small (states and attribute
 * objects repeat), the history is not. Entity names are at most 65,535 (ENTITY_BITS) and dropped when a
 * rename bumps `meta.names_version`.
 *
 * @example
 * const dict = new Dictionaries(db, { stateMax: 10_000, attrMax: 10_000 });
 * const text = r.s === null ? String(r.v) : dict.stateText(r.s);
 */
import type { Database, Statement } from "bun:sqlite";

export interface DictionaryBounds {
  /** State texts kept (default 100,000). */
  stateMax?: number;
  /** Attribute JSON texts kept (default 10,000). */
  attrMax?: number;
}

export class Dictionaries {
  private readonly names = new Map<number, string>();
  private readonly stable = new Map<number, string>();
  private readonly states = new Map<number, string>();
  private readonly users = new Map<number, string>();
  private readonly attrs = new Map<number, string>();
  private readonly stateMax: number;
  private readonly attrMax: number;
  private readonly q: Record<"name" | "stable" | "state" | "user" | "attr" | "namesVersion", Statement>;
  private namesVersion = -1;

  constructor(db: Database, bounds: DictionaryBounds = {}) {
    this.stateMax = Math.max(1, bounds.stateMax ?? 100_000);
    this.attrMax = Math.max(1, bounds.attrMax ?? 10_000);
    this.q = {
      name: db.prepare("SELECT entity_id FROM entities WHERE e = ?"),
      stable: db.prepare("SELECT stable_id FROM entities WHERE e = ?"),
      state: db.prepare("SELECT state FROM states WHERE s = ?"),
      user: db.prepare("SELECT user_id FROM users WHERE u = ?"),
      attr: db.prepare("SELECT json FROM attrs WHERE a = ?"),
      namesVersion: db.prepare(
        "SELECT coalesce((SELECT value FROM meta WHERE key = 'names_version'), 0) AS value",
      ),
    };
  }

  /** The entity's current name (`unknown.<e>` for a key the store does not know). */
  entityName(e: number): string {
    let name = this.names.get(e);
    if (name === undefined) {
      name = (this.q.name.get(e) as { entity_id: string } | null)?.entity_id ?? `unknown.${e}`;
      this.names.set(e, name);
    }
    return name;
  }

  /** The entity's first name ever (the Influx series identity), or null for an unknown key. */
  stableId(e: number): string | null {
    let id = this.stable.get(e);
    if (id === undefined) {
      const row = this.q.stable.get(e) as { stable_id: string } | null;
      if (!row) return null;
      id = row.stable_id;
      this.stable.set(e, id);
    }
    return id;
  }

  stateText(s: number): string {
    let text = this.states.get(s);
    if (text === undefined) {
      text = (this.q.state.get(s) as { state: string } | null)?.state ?? "";
      if (this.states.size >= this.stateMax) this.states.clear();
      this.states.set(s, text);
    }
    return text;
  }

  userText(u: number): string {
    let text = this.users.get(u);
    if (text === undefined) {
      text = (this.q.user.get(u) as { user_id: string } | null)?.user_id ?? "";
      this.users.set(u, text);
    }
    return text;
  }

  /** The attribute object's JSON text ("{}" for an unknown key). */
  attrText(a: number): string {
    let text = this.attrs.get(a);
    if (text === undefined) {
      text = (this.q.attr.get(a) as { json: string } | null)?.json ?? "{}";
      if (this.attrs.size >= this.attrMax) this.attrs.clear();
      this.attrs.set(a, text);
    }
    return text;
  }

  /** Entity names change on rename (the writer bumps `names_version`); then cached names are dropped. */
  refreshNames(): void {
    const { value } = this.q.namesVersion.get() as { value: number };
    if (value !== this.namesVersion) {
      this.names.clear();
      this.namesVersion = value;
    }
  }

  /** Entries held now (states + attributes), for tests and gauges. */
  get size(): number {
    return this.states.size + this.attrs.size;
  }
}
