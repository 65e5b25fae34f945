/**
 * Pure parsing of Home Assistant WebSocket frames and conversion of HA state objects into `StateChange`
 * records. A frame is one JSON message or, with `coalesce_messages`, a JSON array of messages. Anything
 * that is not what HA sends becomes a `Rejected` value with a reason label (for `frames_rejected_total`)
 * and a precise detail; it never throws.
 */
import type { StateChange } from "../../runtime/events/messages.ts";
import {
  attributesJson,
  completeStripped,
  type KnownAttributes,
  MAX_ATTRIBUTE_DEPTH,
  previewJson,
  type SkipReason,
} from "./attributes.ts";
import { usFromIso, usFromSeconds } from "./time.ts";

export type RejectReason =
  | "too_large"
  | "not_json"
  | "binary"
  | "not_object"
  | "unknown_type"
  | "unknown_id"
  | "missing_fields"
  | "too_deep"
  | "unexpected";

export interface Rejected {
  reason: RejectReason;
  detail: string;
}

/** One HA message: `{type, id?, ...}`. */
export type HAMessage = { type: string; id?: number } & Record<string, unknown>;

export type FrameResult = { ok: true; messages: HAMessage[] } | { ok: false; rejected: Rejected };

const preview = (text: string) => (text.length > 80 ? `${text.slice(0, 77)}...` : text);

/** A message of a frame too large to parse, as far as `scanMessages` could read it. */
export interface ScannedMessage {
  type: string | null;
  id: number | null;
}

/**
 * The `type` and `id` of each message in a frame, read without parsing it: one pass over the text that
 * tracks nesting and strings and reads only the top-level keys of each message (HA writes results id
 * first and diffs id last, and coalesces any of them into one array). Used on frames over
 * `ha.maxFrameBytes` so every request they answer is failed and lost events are noticed. Linear in the
 * text, never throws; keys inside attributes never count (they are deeper). Stops after `maxMessages`
 * (`truncated`).
 */
export function scanMessages(
  text: string,
  maxMessages = 100_000,
): { messages: ScannedMessage[]; truncated: boolean } {
  const messages: ScannedMessage[] = [];
  const n = text.length;
  let i = 0;
  while (i < n && text.charCodeAt(i) <= 32) i++;
  const msgDepth = text.charCodeAt(i) === 91 ? 2 : 1;
  let depth = 0;
  let cur: ScannedMessage | null = null;
  let expectKey = false;
  let key: string | null = null;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 92) j += 2;
        else if (d === 34) break;
        else j++;
      }
      if (cur && depth === msgDepth) {
        if (expectKey) key = j - i <= 8 ? text.slice(i + 1, j) : null;
        else if (key === "type") cur.type = text.slice(i + 1, Math.min(j, i + 65));
      }
      i = j + 1;
      continue;
    }
    if (c === 123 || c === 91) {
      depth++;
      if (depth === msgDepth && c === 123) {
        if (messages.length >= maxMessages) return { messages, truncated: true };
        cur = { type: null, id: null };
        messages.push(cur);
        expectKey = true;
        key = null;
      }
    } else if (c === 125 || c === 93) {
      if (depth === msgDepth) cur = null;
      depth--;
    } else if (cur && depth === msgDepth) {
      if (c === 58) expectKey = false;
      else if (c === 44) {
        expectKey = true;
        key = null;
      } else if (key === "id" && !expectKey && c >= 48 && c <= 57) {
        let j = i;
        while (j < n && j - i < 16 && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
        cur.id = Number(text.slice(i, j));
        key = null;
        i = j;
        continue;
      }
    }
    i++;
  }
  return { messages, truncated: false };
}

/** Splits a text frame into messages; `maxBytes` bounds the frame's UTF-8 size. */
export function parseFrame(text: string, maxBytes: number): FrameResult {
  // A string of n UTF-16 units is between n and 3n UTF-8 bytes: count exactly only when it matters.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes)) {
    return {
      ok: false,
      rejected: {
        reason: "too_large",
        detail: `frame of ${Buffer.byteLength(text)} bytes exceeds ha.maxFrameBytes (${maxBytes}); raise HOMEIQ_HA_MAX_FRAME_BYTES if HA really sends such frames`,
      },
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return {
      ok: false,
      rejected: {
        reason: "not_json",
        detail: `frame is not JSON (${(e as Error).message}): ${preview(text)}`,
      },
    };
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (let i = 0; i < list.length; i++) {
    const m = list[i];
    if (m === null || typeof m !== "object" || typeof (m as HAMessage).type !== "string") {
      return {
        ok: false,
        rejected: {
          reason: "not_object",
          detail: `message ${i} of the frame is not an object with a string "type": ${previewJson(m)}`,
        },
      };
    }
  }
  return { ok: true, messages: list as HAMessage[] };
}

/**
 * A converted record, or why not: malformed (`frames_rejected_total`), or, when `skipped` is set, left
 * out on purpose (`events_skipped_total`; `rejected` then describes it for callers that do not tell).
 */
export type Converted =
  | { ok: true; change: StateChange }
  | { ok: false; rejected: Rejected; skipped?: SkipReason };

const missing = (what: string, where: string): Converted => ({
  ok: false,
  rejected: { reason: "missing_fields", detail: `${where}: ${what}` },
});

/**
 * Converts an HA state object (`new_state` of state_changed, or a get_states row) into a StateChange;
 * attributes nested deeper than `maxDepth` skip the record (`too_deep`).
 */
export function stateToChange(s: unknown, where: string, maxDepth = MAX_ATTRIBUTE_DEPTH): Converted {
  if (s === null || typeof s !== "object") return missing("state object expected", where);
  const o = s as Record<string, unknown>;
  if (typeof o.entity_id !== "string" || !o.entity_id.includes("."))
    return missing(`field entity_id must be "domain.object_id", got ${previewJson(o.entity_id)}`, where);
  if (typeof o.state !== "string") return missing(`field state must be a string (${o.entity_id})`, where);
  const lu = typeof o.last_updated === "string" ? usFromIso(o.last_updated) : Number.NaN;
  if (Number.isNaN(lu))
    return missing(
      `field last_updated must be an ISO timestamp (${o.entity_id}), got ${previewJson(o.last_updated)}`,
      where,
    );
  const lc = typeof o.last_changed === "string" ? usFromIso(o.last_changed) : lu;
  const attrs = o.attributes;
  if (attrs !== undefined && (attrs === null || typeof attrs !== "object" || Array.isArray(attrs)))
    return missing(`field attributes must be an object (${o.entity_id})`, where);
  const json = attrs === undefined ? "{}" : attributesJson(attrs as Record<string, unknown>, maxDepth);
  if (json === null)
    return {
      ok: false,
      skipped: "too_deep",
      rejected: {
        reason: "too_deep",
        detail: `${where}: attributes of ${o.entity_id} nest deeper than ha.maxAttributeDepth (${maxDepth})`,
      },
    };
  const ctx = (o.context ?? null) as Record<string, unknown> | null;
  return {
    ok: true,
    change: {
      entity_id: o.entity_id,
      state: o.state,
      attributes: json,
      last_changed: Number.isNaN(lc) ? lu : lc,
      last_updated: lu,
      context_id: typeof ctx?.id === "string" ? ctx.id : null,
      context_parent_id: typeof ctx?.parent_id === "string" ? ctx.parent_id : null,
      context_user_id: typeof ctx?.user_id === "string" ? ctx.user_id : null,
    },
  };
}

export interface HistoryOptions {
  maxDepth: number;
  /** The entity's attributes as the live stream showed them around the gap, to complete stripped rows. */
  known?: (entityId: string) => KnownAttributes | undefined;
}

export interface HistoryChanges {
  changes: StateChange[];
  rejected: Rejected[];
  /** Rows not turned into changes on purpose: removals (`"s": null`) and too deeply nested attributes. */
  skipped: SkipReason[];
}

/**
 * Converts a `history/history_during_period` result (compressed: `{entity_id: [{s, a, lu, lc?}]}`) into
 * StateChanges. HA's history carries no context, so those fields are null; attributes the recorder
 * stripped are completed from `known` (see `completeStripped`). A removal (`"s": null`, as the recorder
 * stores it) is skipped, not rejected: live removals are not stored either. Bad rows are returned apart.
 */
export function historyToChanges(
  result: unknown,
  opts: HistoryOptions = { maxDepth: MAX_ATTRIBUTE_DEPTH },
): HistoryChanges {
  const changes: StateChange[] = [];
  const rejected: Rejected[] = [];
  const skipped: SkipReason[] = [];
  if (result === null || typeof result !== "object" || Array.isArray(result)) {
    rejected.push({
      reason: "missing_fields",
      detail: "history result must be an object of entity_id -> rows",
    });
    return { changes, rejected, skipped };
  }
  for (const [entityId, rows] of Object.entries(result as Record<string, unknown>)) {
    if (!Array.isArray(rows)) {
      rejected.push({ reason: "missing_fields", detail: `history rows of ${entityId} must be an array` });
      continue;
    }
    const known = opts.known?.(entityId);
    let attrs: string | null = "{}";
    for (const row of rows as Record<string, unknown>[]) {
      if (row !== null && typeof row === "object" && row.s === null && typeof row.lu === "number") {
        skipped.push("removed");
        continue;
      }
      if (
        row === null ||
        typeof row !== "object" ||
        typeof row.s !== "string" ||
        typeof row.lu !== "number" ||
        !Number.isFinite(row.lu) ||
        (row.lc !== undefined && (typeof row.lc !== "number" || !Number.isFinite(row.lc)))
      ) {
        rejected.push({
          reason: "missing_fields",
          detail: `history row of ${entityId} needs string "s" and number "lu": ${previewJson(row)}`,
        });
        continue;
      }
      // With minimal_response HA omits "a" on later rows; keep the last seen attributes then.
      if (row.a !== undefined) {
        const a = row.a;
        if (a === null || typeof a !== "object" || Array.isArray(a)) {
          rejected.push({
            reason: "missing_fields",
            detail: `history row of ${entityId}: "a" must be an object of attributes`,
          });
          continue;
        }
        const full = known ? completeStripped(a as Record<string, unknown>, known) : a;
        attrs = attributesJson(full as Record<string, unknown>, opts.maxDepth);
      }
      if (attrs === null) {
        skipped.push("too_deep");
        continue;
      }
      const lu = usFromSeconds(row.lu);
      changes.push({
        entity_id: entityId,
        state: row.s,
        attributes: attrs,
        last_changed: typeof row.lc === "number" ? usFromSeconds(row.lc) : lu,
        last_updated: lu,
        context_id: null,
        context_parent_id: null,
        context_user_id: null,
      });
    }
  }
  return { changes, rejected, skipped };
}
