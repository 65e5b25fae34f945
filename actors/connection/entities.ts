/**
 * The client side of Home Assistant's `subscribe_entities`: the stream HA's own frontend reads. It opens
 * with every entity's compressed state (`a`), then sends per state change only what changed (`c`: `+` for
 * new values, `-` for removed attribute keys), and `r` when an entity goes away. A change costs HA ~100
 * bytes instead of the ~1 KB of a `state_changed` event (which carries old and new state in full), and
 * costs us a parse of that much.
 *
 * This keeps each entity's current state so every change becomes a whole `StateChange` record, exactly as
 * `state_changed` would have given it. Times are HA's float seconds (as in history), turned into µs the
 * same way (`usFromSeconds`), so keys match the backfill's. Pure: no I/O; bad parts become `Rejected`.
 * Attributes nested deeper than the depth bound keep the entity's state current but skip its records
 * (`too_deep`) until they are shallow again: this never throws, whatever HA sends.
 *
 * Compressed state: `{s, a, c, lc, lu?}` — state, attributes, context (its id as a string when parent and
 * user are null, else `{id, parent_id, user_id}`), last_changed and, only when different, last_updated.
 */
import type { StateChange } from "../../runtime/events/messages.ts";
import { attributesJson, MAX_ATTRIBUTE_DEPTH, type SkipReason } from "./attributes.ts";
import type { Rejected } from "./frames.ts";
import { usFromSeconds } from "./time.ts";

interface Current {
  state: string;
  attrs: Record<string, unknown>;
  /** null while the attributes nest deeper than the bound: the entity's records are skipped. */
  attrsJson: string | null;
  lc: number;
  lu: number;
  ctxId: string | null;
  ctxParent: string | null;
  ctxUser: string | null;
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  x !== null && typeof x === "object" && !Array.isArray(x);

const bad = (detail: string): Rejected => ({ reason: "missing_fields", detail });

/** Where `apply` reports what it did not turn into records. */
export interface ApplyReport {
  reject(r: Rejected): void;
  skipped(reason: SkipReason, detail: string): void;
}

export class EntityStates {
  private readonly states = new Map<string, Current>();
  private readonly maxDepth: number;

  /** `maxDepth`: `ha.maxAttributeDepth`. */
  constructor(maxDepth = MAX_ATTRIBUTE_DEPTH) {
    this.maxDepth = maxDepth;
  }

  get size(): number {
    return this.states.size;
  }

  /** Forgets everything (a new connection starts with a full `a` again). */
  clear(): void {
    this.states.clear();
  }

  /** An entity was renamed in HA's registry: its current state moves to the new id. */
  rename(from: string, to: string): void {
    const cur = this.states.get(from);
    if (!cur) return;
    this.states.delete(from);
    this.states.set(to, cur);
  }

  /**
   * Applies one `subscribe_entities` event: appends the state changes it makes to `out` (additions and
   * changes, in message order) and reports each bad part, applying the rest. Returns how many diffs
   * could not be applied (bad, or for an entity never added): a change is lost or an entity's state is
   * stale from then on, so the caller must resync.
   */
  apply(event: unknown, out: StateChange[], reportTo: ApplyReport | ((r: Rejected) => void)): number {
    // A bare function takes rejections and skips alike (as rejections).
    const report: ApplyReport =
      typeof reportTo === "function"
        ? {
            reject: reportTo,
            skipped: (reason, detail) => reportTo({ reason: "unexpected", detail: `${reason}: ${detail}` }),
          }
        : reportTo;
    const reject = (r: Rejected) => report.reject(r);
    let failed = 0;
    if (!isObject(event)) {
      reject(bad("subscribe_entities event must be an object with a, c or r"));
      return failed;
    }
    const { a: added, c: changed, r: removed } = event;
    if (added !== undefined) {
      if (!isObject(added)) reject(bad('subscribe_entities "a" must map entity ids to compressed states'));
      else
        for (const id in added) {
          const problem = this.add(id, added[id], out, report);
          if (problem) reject(bad(problem));
        }
    }
    if (changed !== undefined) {
      if (!isObject(changed)) reject(bad('subscribe_entities "c" must map entity ids to diffs'));
      else
        for (const id in changed) {
          if (!this.states.has(id)) {
            // HA leaves an entity out of `a` while it cannot serialise it; its first diff after has no
            // base. Counted, and reported like a failed diff: a resync's fresh `a` includes the entity
            // and its backfill brings this change.
            report.skipped("entity_unknown", `change for ${id}, which was never added (no "a" for it first)`);
            failed++;
            continue;
          }
          const problem = this.change(id, changed[id], out, report);
          if (problem) {
            reject(bad(problem));
            failed++;
          }
        }
    }
    if (removed !== undefined) {
      if (!Array.isArray(removed)) reject(bad('subscribe_entities "r" must be a list of entity ids'));
      else for (const id of removed) if (typeof id === "string") this.states.delete(id);
    }
    if (added === undefined && changed === undefined && removed === undefined)
      reject(bad("subscribe_entities event has none of a, c, r"));
    return failed;
  }

  /** Takes a full compressed state; returns what is wrong with it instead (nothing changes then). */
  private add(id: string, s: unknown, out: StateChange[], report: ApplyReport): string | null {
    if (!id.includes(".")) return `entity id must be "domain.object_id", got ${JSON.stringify(id)}`;
    if (!isObject(s) || typeof s.s !== "string" || typeof s.lc !== "number" || !Number.isFinite(s.lc))
      return `compressed state of ${id} needs string "s" and number "lc"`;
    if (s.lu !== undefined && (typeof s.lu !== "number" || !Number.isFinite(s.lu)))
      return `compressed state of ${id}: "lu" must be a number`;
    if (s.a !== undefined && !isObject(s.a))
      return `compressed state of ${id}: "a" must be an object of attributes`;
    const lc = usFromSeconds(s.lc);
    const attrs = (s.a as Record<string, unknown> | undefined) ?? {};
    const cur: Current = {
      state: s.s,
      attrs,
      attrsJson: attributesJson(attrs, this.maxDepth),
      lc,
      lu: s.lu === undefined ? lc : usFromSeconds(s.lu as number),
      ctxId: null,
      ctxParent: null,
      ctxUser: null,
    };
    if (!setContext(cur, s.c, true)) return `compressed state of ${id}: bad context "c"`;
    this.states.set(id, cur);
    this.emit(id, cur, out, report);
    return null;
  }

  private emit(id: string, cur: Current, out: StateChange[], report: ApplyReport): void {
    if (cur.attrsJson !== null) out.push(record(id, cur));
    else
      report.skipped(
        "too_deep",
        `attributes of ${id} nest deeper than ha.maxAttributeDepth (${this.maxDepth})`,
      );
  }

  /** Applies a diff; returns what is wrong with it instead (nothing changes then). */
  private change(id: string, diff: unknown, out: StateChange[], report: ApplyReport): string | null {
    const cur = this.states.get(id) as Current;
    if (!isObject(diff)) return `diff of ${id} must be an object with "+" and/or "-"`;
    const plus = diff["+"];
    const minus = diff["-"];
    if (plus !== undefined && !isObject(plus)) return `diff of ${id}: "+" must be an object`;
    if (minus !== undefined && !isObject(minus)) return `diff of ${id}: "-" must be an object`;
    // Check everything before changing anything: a bad diff leaves the entity as it was.
    const p = plus ?? {};
    if (p.s !== undefined && typeof p.s !== "string") return `diff of ${id}: "s" must be a string`;
    for (const k of ["lc", "lu"] as const)
      if (p[k] !== undefined && (typeof p[k] !== "number" || !Number.isFinite(p[k])))
        return `diff of ${id}: "${k}" must be a number`;
    if (p.a !== undefined && !isObject(p.a)) return `diff of ${id}: "a" must be an object`;
    const gone = minus?.a;
    if (gone !== undefined && !(Array.isArray(gone) && gone.every((k) => typeof k === "string")))
      return `diff of ${id}: "-" "a" must be a list of attribute names`;
    const next: Current = { ...cur };
    if (!setContext(next, p.c, false)) return `diff of ${id}: bad context "c"`;
    if (p.s !== undefined) next.state = p.s as string;
    // A new last_changed moves last_updated with it (HA then omits lu).
    if (p.lc !== undefined) next.lc = next.lu = usFromSeconds(p.lc as number);
    else if (p.lu !== undefined) next.lu = usFromSeconds(p.lu as number);
    if (p.a !== undefined || gone !== undefined) {
      // Changed keys keep their place, new ones are appended: the order HA's attribute dict has.
      const attrs = { ...cur.attrs, ...(p.a as Record<string, unknown> | undefined) };
      for (const k of (gone as string[] | undefined) ?? []) delete attrs[k];
      next.attrs = attrs;
      next.attrsJson = attributesJson(attrs, this.maxDepth);
    }
    this.states.set(id, next);
    this.emit(id, next, out, report);
    return null;
  }
}

/**
 * Sets the context from a compressed `c`: a string is the id (in a full state, parent and user are then
 * null; in a diff they stay as they were), an object carries the fields that changed.
 */
function setContext(cur: Current, c: unknown, full: boolean): boolean {
  if (c === undefined) return true;
  if (typeof c === "string") {
    cur.ctxId = c;
    if (full) cur.ctxParent = cur.ctxUser = null;
    return true;
  }
  if (!isObject(c)) return false;
  const field = (v: unknown, was: string | null): string | null | undefined =>
    v === undefined ? was : v === null || typeof v === "string" ? v : undefined;
  const id = field(c.id, full ? null : cur.ctxId);
  const parent = field(c.parent_id, full ? null : cur.ctxParent);
  const user = field(c.user_id, full ? null : cur.ctxUser);
  if (id === undefined || parent === undefined || user === undefined) return false;
  cur.ctxId = id;
  cur.ctxParent = parent;
  cur.ctxUser = user;
  return true;
}

const record = (id: string, cur: Current): StateChange => ({
  entity_id: id,
  state: cur.state,
  attributes: cur.attrsJson as string,
  last_changed: cur.lc,
  last_updated: cur.lu,
  context_id: cur.ctxId,
  context_parent_id: cur.ctxParent,
  context_user_id: cur.ctxUser,
});
