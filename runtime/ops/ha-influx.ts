/**
 * Reading line protocol written by Home Assistant's `influxdb` integration (1.x and 2.x write the same
 * lines) and by common Node-RED flows, one line at a time (pure; a line that cannot be mapped is a reason,
 * never a throw). ./ha-influx-import.ts merges the lines of one state change and stores them.
 *
 * Shapes read (first match wins):
 * 1. HA integration: tags `domain` and `entity_id` (the object id, without the domain) → `domain.object_id`.
 * 2. Node-RED with a fixed measurement: an `entity_id` tag holding the whole entity id.
 * 3. Node-RED with measurement = entity id (`sensor.living_temperature value=21.5 …`).
 * Fields: `state` (text) before `value` (number, or a string/boolean from Node-RED) gives the state; `X_str`
 * is the text attribute X (HA's float copy `X` of a text ending in digits is dropped); other fields are
 * attributes. HA renames an attribute named `state`/`value` to `state_`/`value_`: read back as such.
 * The measurement gives the unit (HA's default `measurement_attr: unit_of_measurement`, which leaves the
 * unit out of the fields) when it looks like one, or the device class (`domain__device_class`).
 * Exports (`influx_inspect export`, `influxd inspect export-lp`) write one field per line: each line is a
 * part of a state change; the importer merges parts with the same entity and time.
 */
import type { Precision } from "./import.ts";

/** Why a line (or a merged state change) was not imported. */
export const SKIP_REASONS = [
  "syntax",
  "line-too-long",
  "no-entity",
  "bad-entity-id",
  "no-timestamp",
  "bad-timestamp",
  "future",
  "out-of-range",
  "no-state",
  "store-refused",
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** How a measurement name was read. */
export type MeasurementReading = "unit" | "entity" | "device-class" | "domain" | "name";

/** One line's part of a state change. */
export interface PointPart {
  /** The `state` field (text). */
  state?: string;
  /** The `value` field, as state text. */
  value?: string;
  /** Attributes from numeric/boolean fields. */
  attrs: Record<string, unknown>;
  /** Attributes from text fields (`X_str`, Node-RED strings); they win over `attrs`. */
  text: Record<string, unknown>;
}

export type LineReading =
  | { kind: "ignored" }
  | { kind: "skipped"; reason: SkipReason; detail: string }
  | {
      kind: "point";
      entityId: string;
      us: number;
      measurement: string;
      readAs: MeasurementReading;
      part: PointPart;
    };

export interface HaInfluxMapping {
  precision: Precision;
  /** Tags that hold attributes (HA's `tags_attributes`), e.g. friendly_name. Other extra tags are dropped. */
  tagAttributes?: readonly string[];
}

const ENTITY_ID = /^[a-z0-9_]+\.[a-z0-9_]+$/;
const OBJECT_ID = /^[a-z0-9_]+$/;
const MAX_ENTITY_ID = 255;

/**
 * Units HA itself uses (homeassistant/const.py UnitOf*, percentage, concentration, light, sound, data
 * sizes and rates). A measurement in this list, or with a character no identifier has (`°`, `/`, `%`,
 * `³`, a space), or a three-letter currency code, is read as a unit; a plain identifier is a name.
 */
const KNOWN_UNITS = new Set(
  (
    "W kW MW GW TW mW Wh kWh MWh GWh TWh mWh J kJ MJ GJ cal kcal Mcal Gcal V mV kV MV µV A mA VA kVA var kvar " +
    "varh kvarh K s ms µs min h d w m mm cm km in ft yd mi nmi ac ha L mL gal g kg mg µg oz lb st Pa hPa kPa " +
    "bar cbar mbar mmHg inHg psi Hz kHz MHz GHz rpm ppm ppb lx lm dB dBm dBA bit kbit Mbit Gbit B kB MB GB TB " +
    "KiB MiB GiB mph kn mired pH CCF Beaufort"
  ).split(" "),
);

export function looksLikeUnit(measurement: string): boolean {
  if (KNOWN_UNITS.has(measurement)) return true;
  if (/^[A-Z]{3}$/.test(measurement)) return true;
  return /[^A-Za-z0-9_.-]/.test(measurement);
}

/** The measurement's reading for an entity of `domain`. */
export function readMeasurement(measurement: string, entityId: string, domain: string): MeasurementReading {
  if (measurement === entityId) return "entity";
  if (measurement === domain) return "domain";
  if (measurement.startsWith(`${domain}__`) && measurement.length > domain.length + 2) return "device-class";
  return looksLikeUnit(measurement) ? "unit" : "name";
}

/** Microseconds from an integer timestamp text at `precision`, or null when not a safe integer. */
export function toMicros(digits: string, precision: Precision): number | null {
  let us: number;
  if (precision === "ns") {
    // Drop the last three digits: exact (a BigInt division per line costs more than the whole parse).
    const neg = digits.startsWith("-");
    const body = neg ? digits.slice(1) : digits;
    us = body.length <= 3 ? 0 : Number(body.slice(0, -3));
    if (neg && us !== 0) us = -us;
  } else us = Number(digits) * (precision === "us" ? 1 : precision === "ms" ? 1000 : 1_000_000);
  return Number.isSafeInteger(us) ? us : null;
}

// --- line protocol scanning (influx's own rules: `\` escapes only the characters special where it stands)

const BACKSLASH = 92;
const COMMA = 44;
const SPACE = 32;
const EQUALS = 61;
const QUOTE = 34;

interface Cursor {
  s: string;
  i: number;
}

/**
 * Reads up to an unescaped stop (any of the char codes `stops`); `\` before an escapable character (codes
 * in `escapable`) takes it literally, before any other it is itself. Char codes, not one-character strings:
 * this loop runs for every byte of a multi-GB import.
 */
function readToken(c: Cursor, stops: readonly number[], escapable: readonly number[]): string {
  const { s } = c;
  let out = "";
  let from = c.i;
  let i = c.i;
  for (; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === BACKSLASH && i + 1 < s.length && escapable.includes(s.charCodeAt(i + 1))) {
      out += s.slice(from, i);
      from = i + 1;
      i++;
      continue;
    }
    if (stops.includes(ch)) break;
  }
  c.i = i;
  return out + s.slice(from, i);
}

const COMMA_SPACE = [COMMA, SPACE];
const COMMA_EQUALS_SPACE = [COMMA, EQUALS, SPACE];
const NONE: number[] = [];

/** A quoted string field at `c.i` (on the opening quote); null when unterminated. */
function readQuoted(c: Cursor): string | null {
  const { s } = c;
  let out = "";
  let from = c.i + 1;
  for (let i = from; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === BACKSLASH && (s[i + 1] === '"' || s[i + 1] === "\\")) {
      out += s.slice(from, i);
      from = i + 1;
      i++;
      continue;
    }
    if (ch === QUOTE) {
      c.i = i + 1;
      return out + s.slice(from, i);
    }
  }
  return null;
}

const FLOAT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const INT = /^[-+]?\d+[iu]$/;

function fieldValue(raw: string): number | boolean | null {
  if (FLOAT.test(raw)) {
    const n = Number(raw);
    return Number.isFinite(n) ? n : null;
  }
  if (INT.test(raw)) {
    const n = Number(raw.slice(0, -1));
    return Number.isFinite(n) ? n : null;
  }
  if (raw === "t" || raw === "T" || raw === "true" || raw === "True" || raw === "TRUE") return true;
  if (raw === "f" || raw === "F" || raw === "false" || raw === "False" || raw === "FALSE") return false;
  return null;
}

interface Scanned {
  measurement: string;
  tags: Map<string, string>;
  fields: [string, string | number | boolean][];
  time: string | undefined;
}

/** Splits a line into measurement, tags, fields and time, or says what is wrong. */
export function scanLine(line: string): Scanned | string {
  const c: Cursor = { s: line, i: 0 };
  const measurement = readToken(c, COMMA_SPACE, COMMA_SPACE);
  if (!measurement) return "no measurement";
  const tags = new Map<string, string>();
  while (line.charCodeAt(c.i) === COMMA) {
    c.i++;
    const key = readToken(c, COMMA_EQUALS_SPACE, COMMA_EQUALS_SPACE);
    if (line.charCodeAt(c.i) !== EQUALS || !key) return `bad tag at column ${c.i + 1}`;
    c.i++;
    const value = readToken(c, COMMA_SPACE, COMMA_EQUALS_SPACE);
    if (!value) return `tag ${key} has no value`;
    tags.set(key, value);
  }
  if (line.charCodeAt(c.i) !== SPACE) return "expected a space before the fields";
  while (line.charCodeAt(c.i) === SPACE) c.i++;
  const fields: Scanned["fields"] = [];
  for (;;) {
    const key = readToken(c, COMMA_EQUALS_SPACE, COMMA_EQUALS_SPACE);
    if (line.charCodeAt(c.i) !== EQUALS || !key) return `bad field at column ${c.i + 1}`;
    c.i++;
    if (line.charCodeAt(c.i) === QUOTE) {
      const text = readQuoted(c);
      if (text === null) return `field ${key}: unterminated string`;
      fields.push([key, text]);
    } else {
      const raw = readToken(c, COMMA_SPACE, NONE);
      const value = fieldValue(raw);
      if (value === null)
        return `field ${key}: ${raw.slice(0, 30)} is not a number, boolean or quoted string`;
      fields.push([key, value]);
    }
    if (line.charCodeAt(c.i) !== COMMA) break;
    c.i++;
  }
  if (c.i >= line.length) return { measurement, tags, fields, time: undefined };
  if (line.charCodeAt(c.i) !== SPACE) return `unexpected ${line[c.i]} at column ${c.i + 1}`;
  const time = line.slice(c.i).trim();
  return { measurement, tags, fields, time: time === "" ? undefined : time };
}

// --- mapping

/** The entity a line is about, or why none. */
function entityOf(s: Scanned): { id: string } | { reason: SkipReason; detail: string } {
  const tag = s.tags.get("entity_id");
  const domain = s.tags.get("domain");
  let id: string | undefined;
  if (tag !== undefined && domain !== undefined && OBJECT_ID.test(tag)) id = `${domain}.${tag}`;
  else if (tag !== undefined) id = tag;
  else if (s.measurement.includes(".")) id = s.measurement;
  if (id === undefined)
    return {
      reason: "no-entity",
      detail: `no entity_id tag, and the measurement ${s.measurement.slice(0, 60)} is not an entity id`,
    };
  if (!ENTITY_ID.test(id) || id.length > MAX_ENTITY_ID)
    return {
      reason: "bad-entity-id",
      detail: `${id.slice(0, 80)} is not domain.object_id${tag !== undefined && !tag.includes(".") && domain === undefined ? " (an entity_id tag without the domain needs a domain tag)" : ""}`,
    };
  return { id };
}

const asState = (v: string | number | boolean): string =>
  typeof v === "string" ? v : typeof v === "boolean" ? (v ? "on" : "off") : String(v);

/** Maps one line; comments, blank lines and influx_inspect's DDL are ignored. */
export function readLine(raw: string, opts: HaInfluxMapping): LineReading {
  const line = raw.trim();
  if (line === "" || line.startsWith("#") || /^CREATE (DATABASE|RETENTION POLICY) /.test(line))
    return { kind: "ignored" };
  const s = scanLine(line);
  if (typeof s === "string") return { kind: "skipped", reason: "syntax", detail: s };
  const entity = entityOf(s);
  if ("reason" in entity) return { kind: "skipped", ...entity };
  if (s.time === undefined)
    return {
      kind: "skipped",
      reason: "no-timestamp",
      detail: "no timestamp: the time of the change is unknown",
    };
  if (!/^-?\d{1,30}$/.test(s.time))
    return {
      kind: "skipped",
      reason: "bad-timestamp",
      detail: `timestamp ${s.time.slice(0, 30)} is not an integer`,
    };
  const us = toMicros(s.time, opts.precision);
  if (us === null)
    return {
      kind: "skipped",
      reason: "bad-timestamp",
      detail: `timestamp ${s.time} is out of range at precision ${opts.precision} (--precision ns|us|ms|s)`,
    };
  // No prototype: an attribute named __proto__ is an attribute like any other.
  const part: PointPart = { attrs: Object.create(null), text: Object.create(null) };
  for (const [key, value] of s.fields) {
    if (key === "state") part.state = asState(value);
    else if (key === "value") part.value = asState(value);
    else if (typeof value === "string") {
      const name = key.endsWith("_str") && key.length > 4 ? key.slice(0, -4) : key;
      part.text[name === "state_" || name === "value_" ? name.slice(0, -1) : name] = value;
    } else part.attrs[key === "state_" || key === "value_" ? key.slice(0, -1) : key] = value;
  }
  for (const name of opts.tagAttributes ?? []) {
    const v = s.tags.get(name);
    if (v !== undefined) part.text[name] = v;
  }
  const domain = entity.id.slice(0, entity.id.indexOf("."));
  const readAs = readMeasurement(s.measurement, entity.id, domain);
  if (readAs === "unit" && !("unit_of_measurement" in part.text))
    part.text.unit_of_measurement = s.measurement;
  if (readAs === "device-class" && !("device_class" in part.text))
    part.text.device_class = s.measurement.slice(domain.length + 2);
  return { kind: "point", entityId: entity.id, us, measurement: s.measurement, readAs, part };
}

/** Merges `from` into `into` (two lines of one state change). */
export function mergePart(into: PointPart, from: PointPart): void {
  if (from.state !== undefined) into.state = from.state;
  if (from.value !== undefined) into.value = from.value;
  Object.assign(into.attrs, from.attrs);
  Object.assign(into.text, from.text);
}

/** The state and attributes of a merged point, or null when it has neither `state` nor `value`. */
export function pointState(part: PointPart): { state: string; attributes: Record<string, unknown> } | null {
  const state = part.state ?? part.value;
  if (state === undefined) return null;
  // Keys sorted: HA's order is not in the lines, and one order whatever the file's shape (whole points or
  // one field per line) gives the same stored attributes.
  const attributes: Record<string, unknown> = Object.create(null);
  for (const k of [...new Set([...Object.keys(part.attrs), ...Object.keys(part.text)])].sort())
    attributes[k] = k in part.text ? part.text[k] : part.attrs[k];
  return { state, attributes };
}
