/**
 * Export of a time range as line protocol, CSV or NDJSON, streamed page by page through the store reader
 * so memory stays bounded by one page whatever the range. Line protocol follows HomeIQ's InfluxDB schema
 * (measurement per domain, `entity_id`/`domain` tags, `value` float or `state` string, scalar attributes as
 * fields) with microsecond timestamps, so it can go straight into InfluxDB or back into HomeIQ.
 */
import { escapeKey, escapeMeasurement, quoteString } from "../../actors/influx-writer/lines.ts";
import type { StoredEvent, StoreReader } from "../store/reader.ts";

export const EXPORT_FORMATS = ["lp", "csv", "ndjson"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  lp: "text/plain; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  ndjson: "application/x-ndjson",
};

export interface ExportQuery {
  /** Inclusive, ms. */
  from: number;
  /** Exclusive, ms. */
  to: number;
  entityIds?: string[];
  domain?: string;
}

/** The first line of a line-protocol export: importers read the timestamp precision from it. */
export const LP_HEADER = "# homeiq export precision=us";
const CSV_HEADER =
  "time,entity_id,state,value,last_changed,context_id,context_parent_id,context_user_id,attributes";

const RESERVED_FIELDS = new Set(["value", "state"]);

function lpLine(e: StoredEvent): string {
  const domain = e.entity_id.slice(0, e.entity_id.indexOf("."));
  let line = `${escapeMeasurement(domain)},entity_id=${escapeKey(e.entity_id)},domain=${escapeKey(domain)} `;
  line += e.value !== null ? `value=${e.value}` : `state=${quoteString(e.state)}`;
  for (const [key, v] of Object.entries(e.attributes)) {
    const field = escapeKey(RESERVED_FIELDS.has(key) ? `attr_${key}` : key);
    if (typeof v === "number" && Number.isFinite(v)) line += `,${field}=${v}`;
    else if (typeof v === "boolean") line += `,${field}=${v}`;
    else if (typeof v === "string") line += `,${field}=${quoteString(v)}`;
  }
  return `${line} ${Math.round(e.ts * 1000)}`;
}

const PLAIN_NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/**
 * A CSV cell. Text that a spreadsheet would run as a formula or DDE (starting with = + - @, tab or CR;
 * HA states such as an input_text are set by any HA user) gets a leading `'`, as OWASP advises. Numbers
 * stay numbers: a value of -3.5, or a numeric state "-3.5", is a plain decimal no spreadsheet runs.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text = typeof value === "string" ? value : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text) && !PLAIN_NUMBER.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvLine(e: StoredEvent): string {
  return [
    new Date(e.ts).toISOString(),
    e.entity_id,
    e.state,
    e.value,
    new Date(e.last_changed).toISOString(),
    e.context_id,
    e.context_parent_id,
    e.context_user_id,
    JSON.stringify(e.attributes),
  ]
    .map(csvField)
    .join(",");
}

function ndjsonLine(e: StoredEvent): string {
  return JSON.stringify({
    time: new Date(e.ts).toISOString(),
    ...e,
  });
}

const FORMATTERS: Record<ExportFormat, (e: StoredEvent) => string> = {
  lp: lpLine,
  csv: csvLine,
  ndjson: ndjsonLine,
};

/**
 * Yields the export as text chunks (one per page of `pageSize` events, newest first as the store pages).
 * The caller writes each chunk before asking for the next, so only one page is ever in memory.
 */
export function* exportChunks(
  reader: Pick<StoreReader, "events">,
  q: ExportQuery,
  format: ExportFormat,
  pageSize = 5000,
): Generator<string> {
  if (format === "lp") yield `${LP_HEADER}\n`;
  if (format === "csv") yield `${CSV_HEADER}\n`;
  const line = FORMATTERS[format];
  let cursor: string | undefined;
  for (;;) {
    const page = reader.events({
      from: q.from,
      to: q.to,
      entityIds: q.entityIds,
      domain: q.domain,
      cursor,
      limit: pageSize,
    });
    if (page.items.length) yield `${page.items.map(line).join("\n")}\n`;
    if (!page.nextCursor) return;
    cursor = page.nextCursor;
  }
}

/** A streamed HTTP body for an export (pull-based: the next page is read when the client has taken the last). */
export function exportStream(
  reader: Pick<StoreReader, "events">,
  q: ExportQuery,
  format: ExportFormat,
  pageSize = 5000,
): ReadableStream<Uint8Array> {
  const chunks = exportChunks(reader, q, format, pageSize);
  const encoder = new TextEncoder();
  return new ReadableStream({
    pull(controller) {
      const next = chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
  });
}
