/** What a receiver gets: the delivery id (derived, stable) and the JSON body of a fired rule. */
import { createHash } from "node:crypto";
import type { StateChange } from "../../runtime/events/messages.ts";
import type { Fire } from "./logic.ts";

/** Delivery id: the idempotency key receivers see; derived, so a re-evaluated event gets the same id. */
export const deliveryId = (ruleId: string, subject: string, at: number): string =>
  createHash("sha256").update(`${ruleId}\n${subject}\n${at}`).digest("hex").slice(0, 32);

export const iso = (ms: number): string => new Date(ms).toISOString();

function parseAttributes(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The JSON a receiver gets. State changes keep Home Assistant's field names. */
export function deliveryBody(id: string, fire: Fire, firedAt: number): string {
  const base = {
    id,
    event: fire.kind,
    rule: { id: fire.rule.id, name: fire.rule.name },
    fired_at: iso(firedAt),
  };
  const e: StateChange | null = fire.event;
  if (e) {
    return JSON.stringify({
      ...base,
      entity_id: e.entity_id,
      state: e.state,
      // The change's own time and where it came from (live, snapshot, backfill): fired_at is when it matched.
      time: iso(e.last_updated / 1000),
      source: fire.source ?? "live",
      previous_state: fire.previous,
      value: fire.value,
      attributes: parseAttributes(e.attributes),
      last_changed: iso(e.last_changed / 1000),
      last_updated: iso(e.last_updated / 1000),
      context: { id: e.context_id, parent_id: e.context_parent_id, user_id: e.context_user_id },
    });
  }
  return JSON.stringify({ ...base, value: fire.value, time: iso(fire.at), ...fire.extra });
}
