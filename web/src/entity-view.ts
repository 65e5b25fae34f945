/**
 * Entities as the dashboard shows them, decoded from `/api/v1/entities` and `/api/v1/entities/:id`.
 * Pure mapping, tolerant of absent fields ("—" rather than a broken page).
 */
import { domainOf } from "./format.ts";

export interface EntityView {
  entityId: string;
  name: string;
  domain: string;
  /** Area name (or id when it has no name); `areaId` is what the area filter takes. */
  area: string | null;
  areaId: string | null;
  device: string | null;
  state: string | null;
  unit: string | null;
  lastChanged: number | null;
  attributes: Record<string, unknown>;
}

export interface EntityPage {
  items: EntityView[];
  nextCursor: string | null;
  /** Matching entities in all pages, when the server reports it. */
  total: number | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const s = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

function ms(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v > 1e14 ? v / 1000 : v; // µs or ms
  if (typeof v === "string") {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : null;
  }
  return null;
}

export function toEntityView(raw: unknown): EntityView | null {
  if (!isObj(raw)) return null;
  const entityId = s(raw.entity_id) ?? s(raw.entityId);
  if (!entityId) return null;
  const current = isObj(raw.state) ? raw.state : isObj(raw.current) ? raw.current : null;
  let attributes: unknown = current?.attributes ?? raw.attributes;
  if (typeof attributes === "string") {
    try {
      attributes = JSON.parse(attributes);
    } catch {
      attributes = {};
    }
  }
  const attrs = isObj(attributes) ? attributes : {};
  const area = raw.area_name ?? raw.area_id;
  const device = raw.device_name ?? raw.device_id;
  return {
    entityId,
    name: s(raw.name) ?? s(raw.friendly_name) ?? s(raw.original_name) ?? s(attrs.friendly_name) ?? entityId,
    domain: s(raw.domain) ?? domainOf(entityId),
    area: s(area),
    areaId: s(raw.area_id),
    device: s(device),
    state: current ? s(current.state) : typeof raw.state === "string" ? raw.state : null,
    unit: s(raw.unit) ?? s(raw.unit_of_measurement) ?? s(attrs.unit_of_measurement),
    lastChanged: ms(current?.last_changed ?? raw.last_changed ?? current?.ts ?? raw.ts),
    attributes: attrs,
  };
}

/** What the newest stored event of an entity adds to its registry entry. */
export interface LatestEvent {
  state: string;
  last_changed: number;
  attributes: Record<string, unknown>;
}

/**
 * The entity with its newest event's state and attributes. The registry's name wins (the user set it);
 * without one, HA's `friendly_name` attribute names the entity rather than its id; the registry's unit
 * wins over `unit_of_measurement` likewise.
 */
export function withLatest(entity: EntityView, latest: LatestEvent | null): EntityView {
  if (!latest) return entity;
  const attrs = latest.attributes ?? {};
  const named = entity.name !== entity.entityId;
  return {
    ...entity,
    state: latest.state,
    lastChanged: latest.last_changed,
    attributes: { ...entity.attributes, ...attrs },
    name: named ? entity.name : (s(attrs.friendly_name) ?? entity.name),
    unit: entity.unit ?? s(attrs.unit_of_measurement),
  };
}

export function toEntityPage(raw: unknown): EntityPage {
  const list = Array.isArray(raw) ? raw : isObj(raw) ? (raw.items ?? raw.entities ?? raw.data) : [];
  const items: EntityView[] = [];
  for (const r of Array.isArray(list) ? list : []) {
    const e = toEntityView(r);
    if (e) items.push(e);
  }
  const total = isObj(raw) && typeof raw.total === "number" ? raw.total : null;
  const next = isObj(raw) ? (raw.nextCursor ?? raw.next_cursor) : null;
  return { items, nextCursor: typeof next === "string" ? next : null, total };
}
