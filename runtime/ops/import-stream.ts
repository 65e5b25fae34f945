/**
 * A whole import (line protocol, or HomeIQ's NDJSON export), streamed: the body is read chunk by chunk and split into lines with bounded memory (a cap
 * on total bytes and on one line), and parsing yields to the event loop every `chunkLines` lines, so a
 * large upload never freezes the API thread that runs it.
 *
 * Two passes, so an import is all-or-nothing without holding it in memory:
 * 1. check: every line is parsed and checked (syntax, future dates, the store's time range), and the
 *    entity ids new to the store are counted (`ImportTarget.check`). Any bad line, more new entities than
 *    `maxNewEntities`, or more than the keys imports may still take refuses the import: nothing is written.
 * 2. store: the lines are read again (the API spooled them to a file during pass 1; the CLI re-reads its
 *    file) and written in batches; the answer says what was stored, line by line for what was refused.
 *
 * @example
 * const outcome = await runImport(request.body, { limits, nowUs, target, reread: () => spool.stream() });
 */
import type { ImportCheckResult, ImportWriteResult, StateChange } from "../events/messages.ts";
import { MAX_REL_US } from "../store/schema.ts";
import type { StoreWriter } from "../store/writer.ts";
import {
  declaredPrecision,
  type ImportRejection,
  type Precision,
  parseLine,
  parseNdjsonLine,
  timeProblem,
} from "./import.ts";

export const IMPORT_FORMATS = ["lp", "ndjson"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface ImportLimits {
  /** Largest body (ops.importMaxBytes). */
  maxBytes: number;
  /** Longest line (ops.importMaxLineBytes). */
  maxLineBytes: number;
  /** Most entities new to the store one import may add (ops.importMaxNewEntities). */
  maxNewEntities: number;
  /** How far ahead of the clock a row may be dated (ops.importFutureSkewMs). */
  futureSkewMs: number;
}

/** Where an import goes: the batcher (API) or a store writer (CLI, when no HomeIQ runs). */
export interface ImportTarget {
  check(entityIds: string[]): Promise<ImportCheckResult>;
  write(events: StateChange[]): Promise<ImportWriteResult>;
}

export interface ImportOptions {
  limits: ImportLimits;
  /** Explicit precision (line protocol); else the export header's; else ns. */
  precision?: Precision;
  /** lp or ndjson; else NDJSON when the first line that is not blank or a comment starts with `{`. */
  format?: ImportFormat;
  nowUs: number;
  target: ImportTarget;
  /** Pass 1 hands each chunk it read here (the API's spool file). */
  tee?: (chunk: Uint8Array) => Promise<unknown> | unknown;
  /** The same bytes again, for pass 2. */
  reread: () => ReadableStream<Uint8Array>;
}

/** What an import did, as the API answers it (`ok: false` never means "nothing happened" unless stored is 0). */
export type ImportOutcome =
  | { ok: true; received: number; stored: number; duplicates: number; newEntities: number }
  | {
      ok: false;
      /** 400 bad lines, 413 too large, 422 over an entity bound or partly refused by the store, 500 a batch failed. */
      status: 400 | 413 | 422 | 500;
      error: string;
      expected: string;
      received: number;
      stored: number;
      duplicates: number;
      /** Lines refused, in total; `rejections` lists the first MAX_REJECTIONS. */
      rejected: number;
      rejections: ImportRejection[];
    };

/** Lines refused that an answer lists by number (the rest are counted). */
export const MAX_REJECTIONS = 20;
/** Lines parsed between two yields to the event loop: ~1 ms of parsing. */
export const CHUNK_LINES = 1000;
/** State changes per batch handed to the store (one transaction each). */
export const IMPORT_BATCH = 2000;
/** New entity ids asked about at once (pass 1). */
const CHECK_BATCH = 1000;

const EXPECTED =
  'InfluxDB line protocol: measurement,entity_id=<domain.object> state=".."|value=<number> <time>';

class TooLarge extends Error {}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The lines of a byte stream (CR LF or LF), a group per chunk read: per-line promises would cost more than
 * the parsing. Throws TooLarge past `maxBytes` in total or `maxLineBytes` in one line (measured in UTF-16
 * units, at most its bytes), after reading no more.
 */
async function* lineGroups(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  maxLineBytes: number,
  tee?: (chunk: Uint8Array) => Promise<unknown> | unknown,
): AsyncGenerator<string[]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let bytes = 0;
  let pending = "";
  let no = 0;
  const tooLong = () => new TooLarge(`line ${no + 1} is longer than ${maxLineBytes} bytes`);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > maxBytes) throw new TooLarge(`import too large: more than ${maxBytes} bytes`);
      if (tee) await tee(value);
      const text = pending + decoder.decode(value, { stream: true });
      const group: string[] = [];
      let start = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        group.push(text.slice(start, nl));
        start = nl + 1;
      }
      no += group.length;
      pending = text.slice(start);
      if (pending.length > maxLineBytes) throw tooLong();
      if (group.length) yield group;
    }
    pending += decoder.decode();
    if (pending.length > maxLineBytes) throw tooLong();
    if (pending !== "") yield [pending];
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

type Parsed = { no: number; change: StateChange } | ImportRejection;

/**
 * The state changes of a byte stream, each with its line number, or the line's rejection, in groups of at
 * most CHUNK_LINES lines with a turn of the event loop after each. The first line may declare the
 * precision (HomeIQ's export does).
 */
async function* parsed(
  body: ReadableStream<Uint8Array>,
  opts: ImportOptions,
  range: { minUs?: number; maxUs?: number },
  tee?: ImportOptions["tee"],
): AsyncGenerator<Parsed[]> {
  const { limits } = opts;
  let precision = opts.precision;
  let format = opts.format;
  const skew = { nowUs: opts.nowUs, skewUs: limits.futureSkewMs * 1000, ...range };
  let no = 0;
  for await (const group of lineGroups(body, limits.maxBytes, limits.maxLineBytes, tee)) {
    for (let from = 0; from < group.length; from += CHUNK_LINES) {
      const out: Parsed[] = [];
      for (const text of group.slice(from, from + CHUNK_LINES)) {
        no++;
        if (no === 1) precision ??= declaredPrecision(text);
        const line = text.trim();
        if (!line || line.startsWith("#")) continue;
        format ??= line.startsWith("{") ? "ndjson" : "lp";
        const change = format === "ndjson" ? parseNdjsonLine(line) : parseLine(line, precision ?? "ns");
        if (typeof change === "string") {
          out.push({ line: no, reason: change });
          continue;
        }
        const late = timeProblem(change.last_updated, skew);
        out.push(late ? { line: no, reason: late } : { no, change });
      }
      yield out;
      await yieldToLoop();
    }
  }
}

function refused(
  status: 400 | 413 | 422 | 500,
  error: string,
  counts: { received: number; stored?: number; duplicates?: number; rejected?: number },
  rejections: ImportRejection[] = [],
  expected = EXPECTED,
): ImportOutcome {
  return {
    ok: false,
    status,
    error,
    expected,
    received: counts.received,
    stored: counts.stored ?? 0,
    duplicates: counts.duplicates ?? 0,
    rejected: counts.rejected ?? 0,
    rejections,
  };
}

/** Runs an import: check everything (nothing written on any problem), then store it in batches. */
export async function runImport(
  body: ReadableStream<Uint8Array>,
  opts: ImportOptions,
): Promise<ImportOutcome> {
  const { limits, target } = opts;
  // Pass 1: check.
  const notChecked = (error: unknown) =>
    refused(
      500,
      `import failed before anything was written: ${(error as Error).message}`,
      { received: 0 },
      [],
      "a running store (see /health/deep and the log)",
    );
  let start: ImportCheckResult;
  try {
    start = await target.check([]);
  } catch (error) {
    return notChecked(error);
  }
  const range = { minUs: start.minUs, maxUs: start.maxUs };
  let keysLeft = start.keysLeft;
  const seen = new Set<string>();
  let asking: string[] = [];
  let newEntities = 0;
  const ask = async () => {
    if (!asking.length) return;
    const answer = await target.check(asking);
    asking = [];
    newEntities += answer.unknown.length;
    keysLeft = answer.keysLeft;
  };
  const overNew = (all: boolean) =>
    `import would add ${all ? "" : "at least "}${newEntities} entities new to the store; one import may add at most ${limits.maxNewEntities} (ops.importMaxNewEntities). Nothing was written. Fix: split the import, or raise ops.importMaxNewEntities`;
  const rejections: ImportRejection[] = [];
  let rejected = 0;
  let received = 0;
  try {
    for await (const group of parsed(body, opts, range, opts.tee))
      for (const item of group) {
        if ("reason" in item) {
          rejected++;
          if (rejections.length < MAX_REJECTIONS) rejections.push(item);
          continue;
        }
        received++;
        const id = item.change.entity_id;
        if (seen.has(id)) continue;
        seen.add(id);
        asking.push(id);
        if (asking.length < CHECK_BATCH) continue;
        await ask();
        // Known ids in `seen` are bounded by the key space; new ones by this refusal.
        if (newEntities > limits.maxNewEntities)
          return refused(422, overNew(false), { received }, [], "fewer new entities");
      }
    await ask();
  } catch (error) {
    if (error instanceof TooLarge)
      return refused(
        413,
        `${error.message}. Nothing was written`,
        { received },
        [],
        `at most ${limits.maxBytes} bytes (ops.importMaxBytes), lines of at most ${limits.maxLineBytes} (ops.importMaxLineBytes)`,
      );
    return notChecked(error);
  }
  if (rejected > 0)
    return refused(
      400,
      `import refused, nothing was written: ${rejected} bad line${rejected === 1 ? "" : "s"} (the first ${rejections.length} listed in rejections)`,
      { received, rejected },
      rejections,
    );
  if (newEntities > limits.maxNewEntities)
    return refused(422, overNew(true), { received }, [], "fewer new entities");
  if (newEntities > keysLeft)
    return refused(
      422,
      `import would add ${newEntities} entities new to the store, but imports may take only ${keysLeft} more entity keys (the rest are kept for the home's own entities, ops.importEntityKeyReserve). Nothing was written`,
      { received },
      [],
      "fewer new entities",
    );

  // Pass 2: store.
  let stored = 0;
  let duplicates = 0;
  let batch: StateChange[] = [];
  let batchLines: number[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const result = await target.write(batch);
    stored += result.stored;
    duplicates += result.duplicates;
    for (const r of result.rejected) {
      rejected++;
      if (rejections.length < MAX_REJECTIONS) rejections.push({ line: batchLines[r.index], reason: r.error });
    }
    batch = [];
    batchLines = [];
  };
  try {
    for await (const group of parsed(opts.reread(), opts, range))
      for (const item of group) {
        // The bytes are the ones pass 1 checked; a difference means the spool changed under us.
        if ("reason" in item) throw new Error(`line ${item.line} changed between the check and the store`);
        batch.push(item.change);
        batchLines.push(item.no);
        if (batch.length >= IMPORT_BATCH) await flush();
      }
    await flush();
  } catch (error) {
    return refused(
      500,
      `import failed after storing ${stored} of ${received} state changes: ${(error as Error).message}. Importing the same data again stores only what is missing`,
      { received, stored, duplicates, rejected },
      rejections,
      "a running store (see /health/deep and the log)",
    );
  }
  if (rejected > 0)
    return refused(
      422,
      `the store refused ${rejected} of ${received} state changes (listed in rejections); ${stored} were stored`,
      { received, stored, duplicates, rejected },
      rejections,
      "state changes the store can hold",
    );
  return { ok: true, received, stored, duplicates, newEntities };
}

/**
 * An import straight into a store writer (the CLI when no HomeIQ runs, tests): the checks the batcher
 * makes, with new entities limited to keys up to `ceiling`.
 */
export function writerTarget(writer: StoreWriter, ceiling: number): ImportTarget {
  return {
    check: async (ids) => ({
      unknown: ids.filter((id) => !writer.knowsEntity(id)),
      keysLeft: Math.max(0, ceiling - writer.entityKeysUsed()),
      minUs: writer.baseUs - MAX_REL_US,
      maxUs: writer.baseUs + MAX_REL_US,
    }),
    write: async (events) => {
      const r = writer.writeEvents(events, 0, undefined, { newKeyCeiling: ceiling });
      return {
        stored: r.inserted.length,
        duplicates: r.duplicates,
        rejected: r.rejected.map(({ index, error }) => ({ index, error })),
      };
    },
  };
}
