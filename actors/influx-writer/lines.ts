/**
 * InfluxDB line protocol for HomeIQ's schema — pure functions, no I/O.
 *
 *   <domain>,entity_id=<stable id>,domain=<domain>[,device=<name>][,area=<name>] value=<float>|state="<text>"[,<attr>=...] <µs>
 *   enrichment_<source> <metric>=<float> <µs>
 *
 * No type conflicts by construction: numeric states only ever go to `value` (float), text states only to
 * `state` (string), and each numeric or boolean attribute keeps the type it had the first time it was
 * written (`FieldTypes`); a later value of another type is left out of that point rather than refused by
 * the server. Text attributes are not exported (they stay in events.db).
 */
import type { FieldType } from "./state.ts";

/** Measurement names: escape commas and spaces. */
export function escapeMeasurement(s: string): string {
  return /[, \\\n]/.test(s)
    ? s
        .replace(/\\/g, "\\\\")
        .replace(/\n/g, "\\n")
        .replace(/([, ])/g, "\\$1")
    : s;
}

/** Tag keys/values and field keys: escape commas, equals signs and spaces. */
export function escapeKey(s: string): string {
  return /[,= \\\n]/.test(s)
    ? s
        .replace(/\\/g, "\\\\")
        .replace(/\n/g, "\\n")
        .replace(/([,= ])/g, "\\$1")
    : s;
}

/** String field values: quoted, with backslashes and double quotes escaped. */
export function quoteString(s: string): string {
  return `"${/["\\\n]/.test(s) ? s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : s}"`;
}

/** A float field value (line protocol floats have no suffix; integers would need `i`). */
export function floatValue(v: number): string {
  return String(v);
}

/** The series key part of an entity's lines: measurement and tags, escaped once per entity. */
export function seriesKey(stableId: string, meta: { device?: string | null; area?: string | null }): string {
  const domain = stableId.slice(0, stableId.indexOf("."));
  let key = `${escapeMeasurement(domain)},entity_id=${escapeKey(stableId)},domain=${escapeKey(domain)}`;
  if (meta.area) key += `,area=${escapeKey(meta.area)}`;
  if (meta.device) key += `,device=${escapeKey(meta.device)}`;
  return key;
}

/** Field names the schema owns; attributes with these names get an `attr_` prefix. */
const RESERVED = new Set(["value", "state"]);

/**
 * Remembers the first type of every (measurement, field) and says whether a value fits it.
 * `onNew` persists a newly fixed type (influx.db), so restarts keep it.
 */
export class FieldTypes {
  constructor(
    private readonly types: Map<string, FieldType>,
    private readonly onNew: (measurement: string, field: string, type: FieldType) => void,
  ) {}

  /** The field fragment for one attribute value, or null when it does not fit the field's type. */
  fragment(measurement: string, key: string, value: unknown): string | null {
    const field = RESERVED.has(key) ? `attr_${key}` : key;
    const id = `${measurement}\u0000${field}`;
    let type: FieldType;
    let text: string;
    if (typeof value === "number") {
      if (!Number.isFinite(value)) return null;
      type = "float";
      text = floatValue(value);
    } else if (typeof value === "boolean") {
      type = "bool";
      text = value ? "true" : "false";
    } else if (typeof value === "string") {
      // Text attributes stay in events.db (units, classes, names: they would repeat on every point); a
      // numeric text fits a field already typed float.
      const n = Number(value);
      if (value === "" || !Number.isFinite(n) || this.types.get(`${measurement}\u0000${key}`) !== "float")
        return null;
      type = "float";
      text = floatValue(n);
    } else return null; // objects and lists stay in events.db
    const known = this.types.get(id);
    if (known === undefined) {
      this.types.set(id, type);
      this.onNew(measurement, field, type);
    } else if (known !== type) return null;
    return `${escapeKey(field)}=${text}`;
  }

  /** The attribute fields of one attributes object (JSON text), joined, with a leading comma; "" if none. */
  attributes(measurement: string, json: string, exclude: ReadonlySet<string>): string {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      return "";
    }
    if (parsed === null || typeof parsed !== "object") return "";
    let out = "";
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      if (exclude.has(k)) continue;
      const f = this.fragment(measurement, k, v);
      if (f !== null) out += `,${f}`;
    }
    return out;
  }
}

/** One state change as a line. `attrFields` comes from `FieldTypes.attributes` (cached per attributes id). */
export function eventLine(
  series: string,
  value: number | null,
  stateText: string | null,
  attrFields: string,
  timeUs: number,
): string {
  const main = value !== null ? `value=${floatValue(value)}` : `state=${quoteString(stateText ?? "")}`;
  return `${series} ${main}${attrFields} ${timeUs}`;
}

/** One enrichment reading as a line. */
export function readingLine(source: string, metric: string, value: number, tsMs: number): string {
  return `${escapeMeasurement(`enrichment_${source}`)} ${escapeKey(metric)}=${floatValue(value)} ${Math.round(tsMs * 1000)}`;
}
