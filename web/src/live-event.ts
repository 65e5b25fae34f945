/**
 * The live feed's record, normalised from whatever shape a stream message carries: the pipeline's
 * StateChange (times in microseconds, attributes as JSON text) or the store's StoredEvent (times in ms).
 * Attributes stay unparsed: at 1,000 events/s the list only needs id, state and time.
 */
import { domainOf } from "./format.ts";

export interface LiveEvent {
  /** Monotonic per page load; the list's stable key. */
  seq: number;
  entityId: string;
  domain: string;
  state: string;
  /** Milliseconds since the epoch. */
  ts: number;
}

let nextSeq = 1;

function toEvent(raw: unknown): LiveEvent | null {
  if (!raw || typeof raw !== "object") return null;
  const r = raw as Record<string, unknown>;
  const entityId = r.entity_id;
  if (typeof entityId !== "string") return null;
  let ts: number;
  if (typeof r.ts === "number") ts = r.ts;
  else if (typeof r.last_updated === "number") ts = r.last_updated / 1000;
  else if (typeof r.last_changed === "number") ts = r.last_changed / 1000;
  else ts = Date.now();
  return {
    seq: nextSeq++,
    entityId,
    domain: domainOf(entityId),
    state: typeof r.state === "string" ? r.state : String(r.state ?? ""),
    ts,
  };
}

/**
 * Decodes one stream message's data: a single event, an array of events, or `{events: [...]}`.
 * Anything else yields no events (notices are handled by the stream store).
 */
export function decodeEvents(data: unknown, out: LiveEvent[]): void {
  const list = Array.isArray(data)
    ? data
    : data && typeof data === "object" && Array.isArray((data as { events?: unknown }).events)
      ? (data as { events: unknown[] }).events
      : [data];
  for (const raw of list) {
    const event = toEvent(raw);
    if (event) out.push(event);
  }
}

/** Case-insensitive match on entity id or domain; an empty filter matches everything. */
export function matchesFilter(event: LiveEvent, filter: string): boolean {
  if (filter === "") return true;
  return event.entityId.toLowerCase().includes(filter) || event.domain === filter;
}
