/**
 * Import of line protocol into the store: the parser of one line (pure; a bad line is a reason, never a
 * throw). ./import-stream.ts runs a whole upload through it with bounded memory; `parseLineProtocol` is
 * the all-in-memory form for small texts. Either way the whole input is checked first; any bad line makes
 * the import fail with the line number and what is wrong, and nothing is written (no partial import).
 * Each line must carry an `entity_id` tag and a `state` (string) or `value` (number) field; other scalar
 * fields become attributes (`attr_value`/`attr_state` map back to `value`/`state`). Timestamps use the
 * precision given, or the one stated in a HomeIQ export's first line, or nanoseconds (InfluxDB's default).
 */
import type { StateChange } from "../events/messages.ts";

export type Precision = "ns" | "us" | "ms" | "s";
const TO_US: Record<Precision, (t: bigint) => number> = {
  ns: (t) => Number(t / 1000n),
  us: (t) => Number(t),
  ms: (t) => Number(t * 1000n),
  s: (t) => Number(t * 1_000_000n),
};

/** A line refused by an import: its number (from 1) and why. */
export interface ImportRejection {
  line: number;
  reason: string;
}

/** The precision a HomeIQ export states in its first line (`# homeiq export precision=us`), if any. */
export function declaredPrecision(firstLine: string): Precision | undefined {
  return /^# homeiq export precision=(ns|us|ms|s)\b/.exec(firstLine)?.[1] as Precision | undefined;
}

/**
 * Why an imported time cannot be taken, or null. Rows dated ahead of the clock would pose as the newest
 * state (muting webhooks for that entity and moving the restart backfill into the future), so more than
 * `skewUs` ahead is refused; `minUs`/`maxUs` is what the store can hold.
 */
export function timeProblem(
  us: number,
  limits: { nowUs: number; skewUs: number; minUs?: number; maxUs?: number },
): string | null {
  if (us > limits.nowUs + limits.skewUs)
    return `timestamp ${new Date(us / 1000).toISOString()} is ${Math.round((us - limits.nowUs) / 1e6)} s in the future (more than ops.importFutureSkewMs = ${limits.skewUs / 1000} ms ahead of this clock); fix the clock or the timestamp precision (?precision=ns|us|ms|s)`;
  if ((limits.minUs !== undefined && us < limits.minUs) || (limits.maxUs !== undefined && us > limits.maxUs))
    return `timestamp ${us} µs is outside what the store holds (within ±4.4 years of its time origin); check the timestamp precision (?precision=ns|us|ms|s)`;
  return null;
}

export class ImportError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `import refused, nothing was written: ${problems.length} bad line${problems.length === 1 ? "" : "s"}\n  - ${problems.join("\n  - ")}`,
    );
    this.name = "ImportError";
  }
}

/** Splits on `sep` outside quotes and backslash escapes. */
function splitUnescaped(text: string, sep: string, respectQuotes: boolean): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length) {
      current += ch + text[i + 1];
      i++;
      continue;
    }
    if (respectQuotes && ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      parts.push(current);
      current = "";
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts;
}

// One pass: "\\n" is an escaped backslash followed by n, not a newline (two passes would read it as one).
const unescapeLp = (s: string) => s.replace(/\\([,= "\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));

function parseFieldValue(raw: string): { value: unknown } | { error: string } {
  if (raw.startsWith('"')) {
    if (!raw.endsWith('"') || raw.length < 2) return { error: `unterminated string ${raw.slice(0, 30)}` };
    return { value: raw.slice(1, -1).replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c)) };
  }
  if (/^(t|T|true|True|TRUE)$/.test(raw)) return { value: true };
  if (/^(f|F|false|False|FALSE)$/.test(raw)) return { value: false };
  const n = Number(raw.replace(/[iu]$/, ""));
  if (raw !== "" && Number.isFinite(n)) return { value: n };
  return { error: `field value ${raw.slice(0, 30)} is not a number, boolean or quoted string` };
}

/** Parses one line; returns the state change or a reason. */
export function parseLine(line: string, precision: Precision): StateChange | string {
  const sections = splitUnescaped(line, " ", true).filter((s) => s !== "");
  if (sections.length < 2 || sections.length > 3) return "expected `measurement,tags fields [timestamp]`";
  const [seriesPart, fieldPart, timePart] = sections;
  const series = splitUnescaped(seriesPart, ",", false);
  const tags = new Map<string, string>();
  for (const tag of series.slice(1)) {
    const [k, v, ...rest] = splitUnescaped(tag, "=", false);
    if (v === undefined || rest.length) return `bad tag ${tag.slice(0, 40)}`;
    tags.set(unescapeLp(k), unescapeLp(v));
  }
  const entityId = tags.get("entity_id");
  if (!entityId || !/^[a-z0-9_]+\.[a-z0-9_]+$/.test(entityId))
    return `missing or invalid entity_id tag ${entityId ?? ""}`.trim();
  // No prototype: a field named __proto__ is an attribute like any other, not a silent no-op.
  const attributes: Record<string, unknown> = Object.create(null);
  let state: string | undefined;
  for (const field of splitUnescaped(fieldPart, ",", true)) {
    const eq = splitUnescaped(field, "=", true);
    if (eq.length !== 2) return `bad field ${field.slice(0, 40)}`;
    const key = unescapeLp(eq[0]);
    const parsed = parseFieldValue(eq[1]);
    if ("error" in parsed) return parsed.error;
    if (key === "state") state = String(parsed.value);
    else if (key === "value") {
      if (typeof parsed.value !== "number") return "field value must be a number";
      state ??= String(parsed.value);
    } else
      attributes[
        key.startsWith("attr_") && (key === "attr_value" || key === "attr_state") ? key.slice(5) : key
      ] = parsed.value;
  }
  if (state === undefined) return "no state or value field";
  if (timePart === undefined) return "no timestamp (HomeIQ keeps each state change at the time it happened)";
  if (!/^-?\d+$/.test(timePart)) return `timestamp ${timePart.slice(0, 30)} is not an integer`;
  const us = TO_US[precision](BigInt(timePart));
  if (!Number.isSafeInteger(us)) return `timestamp ${timePart} is out of range for precision ${precision}`;
  return {
    entity_id: entityId,
    state,
    attributes: JSON.stringify(attributes),
    last_changed: us,
    last_updated: us,
    context_id: null,
    context_parent_id: null,
    context_user_id: null,
  };
}

/**
 * Parses a whole line-protocol text. Throws ImportError listing up to `maxProblems` bad lines (with
 * their numbers) if any line is bad.
 */
export function parseLineProtocol(text: string, precision?: Precision, maxProblems = 20): StateChange[] {
  const lines = text.split(/\r?\n/);
  const p = precision ?? declaredPrecision(lines[0] ?? "") ?? "ns";
  const out: StateChange[] = [];
  const problems: string[] = [];
  let bad = 0;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const parsed = parseLine(line, p);
    if (typeof parsed === "string") {
      bad++;
      if (problems.length < maxProblems) problems.push(`line ${i + 1}: ${parsed}`);
    } else out.push(parsed);
  });
  if (bad > problems.length) problems.push(`... and ${bad - problems.length} more`);
  if (problems.length) throw new ImportError(problems);
  return out;
}

const isText = (v: unknown): v is string | null | undefined =>
  v === null || v === undefined || typeof v === "string";

/**
 * Parses one line of HomeIQ's NDJSON export (`GET /api/v1/export?format=ndjson`): an object with
 * `entity_id`, `state` (or a numeric `value`), `ts` (last_updated, ms with a µs fraction; or `time`, ISO),
 * optional `last_changed` (ms), `attributes` (object) and context ids. Returns the state change or a reason.
 */
export function parseNdjsonLine(line: string): StateChange | string {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch (error) {
    return `not JSON (${String((error as Error).message).slice(0, 60)})`;
  }
  if (o === null || typeof o !== "object" || Array.isArray(o)) return "expected one JSON object per line";
  const r = o as Record<string, unknown>;
  const entityId = r.entity_id;
  if (typeof entityId !== "string" || !/^[a-z0-9_]+\.[a-z0-9_]+$/.test(entityId))
    return `missing or invalid entity_id ${typeof entityId === "string" ? entityId.slice(0, 40) : ""}`.trim();
  let state: string;
  if (typeof r.state === "string") state = r.state;
  else if (typeof r.value === "number" && Number.isFinite(r.value)) state = String(r.value);
  else return "no state (string) or value (number)";
  const attrs = r.attributes ?? {};
  if (attrs === null || typeof attrs !== "object" || Array.isArray(attrs))
    return "attributes must be an object";
  let attributes: string;
  try {
    attributes = JSON.stringify(attrs);
  } catch {
    return "attributes are nested too deeply";
  }
  const us =
    typeof r.ts === "number"
      ? Math.round(r.ts * 1000)
      : typeof r.time === "string"
        ? Date.parse(r.time) * 1000
        : Number.NaN;
  if (!Number.isSafeInteger(us)) return "no time: expected ts (ms since the epoch) or time (ISO 8601)";
  const lastChanged = typeof r.last_changed === "number" ? Math.round(r.last_changed * 1000) : us;
  if (!Number.isSafeInteger(lastChanged) || lastChanged > us)
    return "last_changed must be ms since the epoch, not after ts";
  for (const k of ["context_id", "context_parent_id", "context_user_id"] as const)
    if (!isText(r[k])) return `${k} must be a string or null`;
  return {
    entity_id: entityId,
    state,
    attributes,
    last_changed: lastChanged,
    last_updated: us,
    context_id: (r.context_id as string | null | undefined) ?? null,
    context_parent_id: (r.context_parent_id as string | null | undefined) ?? null,
    context_user_id: (r.context_user_id as string | null | undefined) ?? null,
  };
}
