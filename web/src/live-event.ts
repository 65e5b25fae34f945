/**
 * The live feed's record, normalised from whatever shape a stream message carries: the pipeline's
 * StateChange (times in microseconds, attributes as JSON text) or the store's StoredEvent (times in ms).
 * Of the attributes only the two the list shows are kept (friendly name, unit): at 1,000 events/s a
 * StateChange's attribute text is parsed only when it holds one of them.
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
  /** HA's `friendly_name` attribute, when the event carries one. */
  name: string | null;
  /** HA's `unit_of_measurement` attribute, when the event carries one. */
  unit: string | null;
}

const text = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** The friendly name and unit from attributes given as an object (StoredEvent) or JSON text (StateChange). */
function shownAttributes(attributes: unknown): { name: string | null; unit: string | null } {
  let a = attributes;
  if (typeof a === "string") {
    if (!a.includes('"friendly_name"') && !a.includes('"unit_of_measurement"'))
      return { name: null, unit: null };
    try {
      a = JSON.parse(a);
    } catch {
      return { name: null, unit: null };
    }
  }
  if (!a || typeof a !== "object") return { name: null, unit: null };
  const r = a as Record<string, unknown>;
  return { name: text(r.friendly_name), unit: text(r.unit_of_measurement) };
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
    ...shownAttributes(r.attributes),
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
