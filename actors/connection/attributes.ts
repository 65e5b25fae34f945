/**
 * Attribute dictionaries from Home Assistant, turned into the JSON text a `StateChange` carries, with a
 * depth bound: `JSON.parse` takes any nesting, but `JSON.stringify` of an object nested ~100k deep throws
 * (stack overflow) and would crash the connection actor on every reconnect's snapshot. HA's own encoder
 * (orjson) refuses more than 254 levels, so anything deeper is hostile (a rogue HA or a MITM on plain
 * `ws://`): the record is skipped and counted (`events_skipped_total{reason="too_deep"}`), never thrown.
 */

/** `ha.maxAttributeDepth`'s default: the most HA's encoder writes. */
export const MAX_ATTRIBUTE_DEPTH = 254;

/** Why the client did not forward a state change (label of `events_skipped_total`). */
export type SkipReason =
  /** The same (entity_id, last_updated) was already forwarded (live, snapshot or backfill). */
  | "duplicate"
  /** A snapshot or backfill row at or before what was forwarded before the gap (the overlap margin). */
  | "before_gap"
  /** A snapshot or backfill row the live stream of this or an earlier connection already carried. */
  | "live_covered"
  /** Attributes nested deeper than `ha.maxAttributeDepth`. */
  | "too_deep"
  /** A history row of an entity's removal (`"s": null`): nothing to store, as for live removals. */
  | "removed"
  /** A diff for an entity HA left out of the opening `a` (it could not serialise it). */
  | "entity_unknown";

/** Whether `value` nests objects or arrays deeper than `maxDepth` (the value itself is level 1). */
export function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  if (value === null || typeof value !== "object") return false;
  // Iterative on purpose: recursion is what overflows on hostile input.
  const stack: object[] = [value];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const v = stack.pop() as Record<string, unknown> | unknown[];
    const d = depths.pop() as number;
    if (d > maxDepth) return true;
    if (Array.isArray(v)) {
      for (const x of v)
        if (x !== null && typeof x === "object") {
          stack.push(x);
          depths.push(d + 1);
        }
    } else
      for (const k in v) {
        const x = v[k];
        if (x !== null && typeof x === "object") {
          stack.push(x);
          depths.push(d + 1);
        }
      }
  }
  return false;
}

/** The attributes as JSON text, or null when they nest deeper than `maxDepth` (or cannot be written). */
export function attributesJson(attrs: Record<string, unknown>, maxDepth: number): string | null {
  if (nestedDeeperThan(attrs, maxDepth)) return null;
  try {
    return JSON.stringify(attrs);
  } catch {
    return null;
  }
}

/**
 * JSON text for an error message: never throws, and never stringifies deep nesting (an overflowing
 * `JSON.stringify` costs JSC seconds before it throws, so the depth is checked first).
 */
export function previewJson(value: unknown, max = 80): string {
  let text: string;
  try {
    text = nestedDeeperThan(value, 32)
      ? "(a value too deeply nested to show)"
      : (JSON.stringify(value) ?? "undefined");
  } catch {
    text = "(a value that cannot be shown)";
  }
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/**
 * A backfilled row's attributes, completed with what the live stream showed on both sides of the gap.
 *
 * HA's recorder does not store every attribute (`recorder/db_schema.py` `shared_attrs_bytes_from_event`):
 * it drops `supported_features`, `attribution` and `restored` everywhere, each integration's unrecorded
 * attributes (climate's `hvac_modes`, `min_temp`, ...; light's `supported_color_modes` but also its
 * `brightness` and colours), all but a few for MATCH_ALL entities, and writes `{}` when the attributes
 * exceed 16 KiB. Stored verbatim, an entity's attribute JSON changes at every gap boundary
 * (live -> backfill -> live) although nothing changed in HA, and which copy the store keeps would depend
 * on timing.
 *
 * Decision: a backfilled row keeps every value the recorder kept, and a key it lacks is filled only
 * when the live copies before and after the gap agree on its value (`known`):
 * capability lists and static metadata then match the live rows, while a stripped value that changed
 * across the gap (a light's brightness) stays absent instead of being made up. Keys come in the live
 * order (HA's dict order), keys only the row has appended. The cost: a key that changed and changed back
 * during the gap is filled with the value it had at both ends. After a process restart there is no
 * "before" copy, so those rows are stored as the recorder returned them. Rows carry no context (history
 * has none); their source is `backfill`.
 */
export function completeStripped(
  row: Record<string, unknown>,
  known: KnownAttributes,
): Record<string, unknown> {
  const { before, after } = known;
  // No prototype: a hostile "__proto__" key is then just a key.
  const out: Record<string, unknown> = Object.create(null);
  for (const k in after) {
    if (Object.hasOwn(row, k)) out[k] = row[k];
    else if (Object.hasOwn(before, k) && sameValue(before[k], after[k])) out[k] = after[k];
  }
  for (const k in row) if (!Object.hasOwn(after, k)) out[k] = row[k];
  return out;
}

/** An entity's attributes as the live stream showed them just before the gap and just after it. */
export interface KnownAttributes {
  before: Record<string, unknown>;
  after: Record<string, unknown>;
}

const sameValue = (a: unknown, b: unknown): boolean =>
  a === b ||
  (a !== null &&
    b !== null &&
    typeof a === "object" &&
    typeof b === "object" &&
    JSON.stringify(a) === JSON.stringify(b));
