/**
 * Pure parsing of Home Assistant WebSocket frames and conversion of HA state objects into `StateChange`
 * records. A frame is one JSON message or, with `coalesce_messages`, a JSON array of messages. Anything
 * that is not what HA sends becomes a `Rejected` value with a reason label (for `frames_rejected_total`)
 * and a precise detail; it never throws.
 */
import type { StateChange } from "../batcher/messages.ts";
import { usFromIso, usFromSeconds } from "./time.ts";

export type RejectReason =
  | "too_large"
  | "not_json"
  | "binary"
  | "not_object"
  | "unknown_type"
  | "unknown_id"
  | "missing_fields"
  | "unexpected";

export interface Rejected {
  reason: RejectReason;
  detail: string;
}

/** One HA message: `{type, id?, ...}`. */
export type HAMessage = { type: string; id?: number } & Record<string, unknown>;

export type FrameResult = { ok: true; messages: HAMessage[] } | { ok: false; rejected: Rejected };

const preview = (text: string) => (text.length > 80 ? `${text.slice(0, 77)}...` : text);

/**
 * The id of a result frame, read from its first bytes without parsing (HA writes `{"id":N,"type":...`),
 * so a request whose answer was too large to take can be failed instead of waited on forever.
 */
export function peekId(text: string): number | null {
  const m = /^\s*\{\s*"id"\s*:\s*(\d+)/.exec(text.slice(0, 40));
  return m ? Number(m[1]) : null;
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
          detail: `message ${i} of the frame is not an object with a string "type": ${preview(JSON.stringify(m) ?? "undefined")}`,
        },
      };
    }
  }
  return { ok: true, messages: list as HAMessage[] };
}

export type Converted = { ok: true; change: StateChange } | { ok: false; rejected: Rejected };

const missing = (what: string, where: string): Converted => ({
  ok: false,
  rejected: { reason: "missing_fields", detail: `${where}: ${what}` },
});

/** Converts an HA state object (`new_state` of state_changed, or a get_states row) into a StateChange. */
export function stateToChange(s: unknown, where: string): Converted {
  if (s === null || typeof s !== "object") return missing("state object expected", where);
  const o = s as Record<string, unknown>;
  if (typeof o.entity_id !== "string" || !o.entity_id.includes("."))
    return missing(`field entity_id must be "domain.object_id", got ${JSON.stringify(o.entity_id)}`, where);
  if (typeof o.state !== "string") return missing(`field state must be a string (${o.entity_id})`, where);
  const lu = typeof o.last_updated === "string" ? usFromIso(o.last_updated) : Number.NaN;
  if (Number.isNaN(lu))
    return missing(
      `field last_updated must be an ISO timestamp (${o.entity_id}), got ${JSON.stringify(o.last_updated)}`,
      where,
    );
  const lc = typeof o.last_changed === "string" ? usFromIso(o.last_changed) : lu;
  const attrs = o.attributes;
  if (attrs !== undefined && (attrs === null || typeof attrs !== "object" || Array.isArray(attrs)))
    return missing(`field attributes must be an object (${o.entity_id})`, where);
  const ctx = (o.context ?? null) as Record<string, unknown> | null;
  return {
    ok: true,
    change: {
      entity_id: o.entity_id,
      state: o.state,
      attributes: attrs === undefined ? "{}" : JSON.stringify(attrs),
      last_changed: Number.isNaN(lc) ? lu : lc,
      last_updated: lu,
      context_id: typeof ctx?.id === "string" ? ctx.id : null,
      context_parent_id: typeof ctx?.parent_id === "string" ? ctx.parent_id : null,
      context_user_id: typeof ctx?.user_id === "string" ? ctx.user_id : null,
    },
  };
}

/**
 * Converts a `history/history_during_period` result (compressed: `{entity_id: [{s, a, lu, lc?}]}`) into
 * StateChanges. HA's history carries no context, so those fields are null. Bad rows are returned apart.
 */
export function historyToChanges(result: unknown): { changes: StateChange[]; rejected: Rejected[] } {
  const changes: StateChange[] = [];
  const rejected: Rejected[] = [];
  if (result === null || typeof result !== "object") {
    rejected.push({
      reason: "missing_fields",
      detail: "history result must be an object of entity_id -> rows",
    });
    return { changes, rejected };
  }
  for (const [entityId, rows] of Object.entries(result as Record<string, unknown>)) {
    if (!Array.isArray(rows)) {
      rejected.push({ reason: "missing_fields", detail: `history rows of ${entityId} must be an array` });
      continue;
    }
    let attrs = "{}";
    for (const row of rows as Record<string, unknown>[]) {
      if (
        row === null ||
        typeof row !== "object" ||
        typeof row.s !== "string" ||
        typeof row.lu !== "number"
      ) {
        rejected.push({
          reason: "missing_fields",
          detail: `history row of ${entityId} needs string "s" and number "lu": ${preview(JSON.stringify(row))}`,
        });
        continue;
      }
      // With minimal_response HA omits "a" on later rows; keep the last seen attributes then.
      if (row.a !== undefined) attrs = JSON.stringify(row.a);
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
  return { changes, rejected };
}
