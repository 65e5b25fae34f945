/**
 * Import of Home Assistant's InfluxDB history (`--from ha-influxdb`), streamed with bounded memory.
 *
 * Unlike HomeIQ's own format, lines that cannot be mapped are skipped and counted by reason (a years-old
 * bucket always holds some: other writers' series, unavailable gaps, a broken export line), and the answer
 * says how many, why, and where (the first MAX_REJECTIONS with their line numbers). Bounds that protect
 * the store (new entities, entity keys, body size) still refuse the whole import before anything is written.
 *
 * 1. stage: each line is read (./ha-influx.ts) and its part of a state change goes into a scratch SQLite
 *    table in the data dir, keyed (µs, entity, line): exports write one field per line, grouped by series,
 *    so the parts of one change can be far apart, and a B-tree merges them with memory bounded by its page
 *    cache whatever the file size. New entity ids are checked against the store as they appear.
 * 2. store: the table is read in time order (the store takes rows in time order 3x faster than entity by
 *    entity: 137k/s against 40k/s here), parts with the same key are merged into one state change, and
 *    batches go to the target, which dedupes on the store's key (entity, last_updated µs):
 *    importing the same history twice, or history overlapping live data, stores each change once.
 *    last_changed is rebuilt per entity as the time its state last differed (HA's influxdb integration
 *    does not write it; a run of equal states across an unavailable gap it never wrote stays one run).
 */
import { Database, type Statement } from "bun:sqlite";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ImportCheckResult, StateChange } from "../events/messages.ts";
import {
  type HaInfluxMapping,
  type MeasurementReading,
  mergePart,
  type PointPart,
  pointState,
  readLine,
  SKIP_REASONS,
  type SkipReason,
} from "./ha-influx.ts";
import { timeProblem } from "./import.ts";
import {
  CHUNK_LINES,
  IMPORT_BATCH,
  type ImportLimits,
  type ImportTarget,
  MAX_REJECTIONS,
} from "./import-stream.ts";

export interface HaInfluxImportOptions {
  limits: ImportLimits;
  mapping: HaInfluxMapping;
  nowUs: number;
  target: ImportTarget;
  /** Where the scratch table goes (the data dir: it can grow to about the size of the input). */
  stagingDir: string;
}

/** What an import read, mapped, skipped and stored. lines = mappedLines + ignoredLines + skippedLines. */
export interface HaInfluxReport {
  lines: number;
  /** Lines that are part of a state change handed to the store. */
  mappedLines: number;
  /** Blank lines, comments and influx_inspect's DDL. */
  ignoredLines: number;
  skippedLines: number;
  /** Skipped lines by reason. */
  skipped: Record<SkipReason, number>;
  /** The first MAX_REJECTIONS skips: line number (of the first line of a merged change), reason, detail. */
  examples: { line: number; reason: SkipReason; detail: string }[];
  /** State changes after merging the lines of each (entity, time). */
  stateChanges: number;
  stored: number;
  /** State changes the store already held (same entity and last_updated µs). */
  duplicates: number;
  entities: number;
  newEntities: number;
  /** How each measurement was read (the first MAX_MEASUREMENTS; the rest are counted, not listed). */
  measurements: { measurement: string; readAs: MeasurementReading; lines: number }[];
}

export type HaInfluxOutcome =
  | ({ ok: true } & HaInfluxReport)
  | ({ ok: false; status: 413 | 422 | 500; error: string; expected: string } & HaInfluxReport);

/** Measurements listed in a report. */
export const MAX_MEASUREMENTS = 50;
/** New entity ids asked about at once while staging. */
const CHECK_BATCH = 1000;
/** Scratch table page cache: the only memory that grows with the input, and it does not. */
const STAGING_CACHE_KIB = 16 * 1024;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

class TooLarge extends Error {}

/**
 * The lines of a byte stream, chunk by chunk (`first` is the number of the chunk's first line, from 1). A
 * line longer than `maxLineBytes` (UTF-16 units, at most its bytes) comes as null and is never held whole.
 */
async function* lineChunks(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  maxLineBytes: number,
): AsyncGenerator<{ first: number; lines: (string | null)[] }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let bytes = 0;
  let pending = "";
  let tooLong = false;
  let no = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      if (!done) {
        bytes += value.byteLength;
        if (bytes > maxBytes) throw new TooLarge(`import too large: more than ${maxBytes} bytes`);
      }
      const lines: (string | null)[] = [];
      let start = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        const line = tooLong ? null : pending + text.slice(start, nl);
        lines.push(line !== null && line.length > maxLineBytes ? null : line);
        pending = "";
        tooLong = false;
        start = nl + 1;
      }
      if (!tooLong) pending += text.slice(start);
      if (pending.length > maxLineBytes) {
        pending = "";
        tooLong = true;
      }
      if (done && (tooLong || pending !== "")) lines.push(tooLong ? null : pending);
      if (lines.length) yield { first: no + 1, lines };
      no += lines.length;
      if (done) return;
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}

let stagings = 0;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
};

/** Removes scratch files left by imports whose process died (a crash or kill mid-import). */
export function removeStaleStaging(dir: string): string[] {
  const stale = readdirSync(dir).filter((f) => {
    const m = /^\.import-(\d+)-\d+-\d+\.staging\.db$/.exec(f);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  });
  for (const f of stale) rmSync(join(dir, f), { force: true });
  return stale;
}

/** The scratch table: parts of state changes keyed (µs, entity, line), in a file removed afterwards. */
function openStaging(dir: string) {
  removeStaleStaging(dir);
  const path = join(dir, `.import-${process.pid}-${Date.now()}-${++stagings}.staging.db`);
  if (existsSync(path)) throw new Error(`${path} exists`);
  const db = new Database(path, { create: true });
  // A scratch file: no journal, no fsync; a crash loses only this import, which nothing has seen yet.
  db.exec("PRAGMA journal_mode = OFF");
  db.exec("PRAGMA synchronous = OFF");
  db.exec(`PRAGMA cache_size = -${STAGING_CACHE_KIB}`);
  db.exec("PRAGMA temp_store = FILE");
  db.exec(
    "CREATE TABLE part (e TEXT NOT NULL, t INTEGER NOT NULL, line INTEGER NOT NULL, j TEXT NOT NULL, PRIMARY KEY (t, e, line)) WITHOUT ROWID",
  );
  return {
    db,
    insert: db.prepare("INSERT INTO part (e, t, line, j) VALUES (?, ?, ?, ?)") as Statement,
    close() {
      db.close();
      rmSync(path, { force: true });
    },
  };
}

function emptyReport(): HaInfluxReport {
  return {
    lines: 0,
    mappedLines: 0,
    ignoredLines: 0,
    skippedLines: 0,
    skipped: Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>,
    examples: [],
    stateChanges: 0,
    stored: 0,
    duplicates: 0,
    entities: 0,
    newEntities: 0,
    measurements: [],
  };
}

/** Runs an import of HA InfluxDB line protocol: stage and check everything, then store it in batches. */
export async function runHaInfluxImport(
  body: ReadableStream<Uint8Array>,
  opts: HaInfluxImportOptions,
): Promise<HaInfluxOutcome> {
  const { limits, target, mapping } = opts;
  const report = emptyReport();
  const skip = (line: number, reason: SkipReason, detail: string, lines = 1) => {
    report.skippedLines += lines;
    report.skipped[reason] += lines;
    if (report.examples.length < MAX_REJECTIONS) report.examples.push({ line, reason, detail });
  };
  const refuse = (status: 413 | 422 | 500, error: string, expected: string): HaInfluxOutcome => ({
    ok: false,
    status,
    error,
    expected,
    ...report,
  });
  const measurements = new Map<string, { readAs: MeasurementReading; lines: number }>();
  const notStaged = (error: unknown) =>
    refuse(
      500,
      `import failed before anything was written: ${(error as Error).message}`,
      "a running store (see /health/deep and the log) and a writable data dir with free space about the input's size",
    );
  let start: ImportCheckResult;
  try {
    start = await target.check([]);
  } catch (error) {
    return notStaged(error);
  }
  const limitsUs = {
    nowUs: opts.nowUs,
    skewUs: limits.futureSkewMs * 1000,
    minUs: start.minUs,
    maxUs: start.maxUs,
  };
  let keysLeft = start.keysLeft;
  const seen = new Set<string>();
  let asking: string[] = [];
  const ask = async () => {
    if (!asking.length) return;
    const answer = await target.check(asking);
    asking = [];
    report.newEntities += answer.unknown.length;
    keysLeft = answer.keysLeft;
  };
  const overNew = () =>
    refuse(
      422,
      `import would add ${report.newEntities} entities new to the store; one import may add at most ${limits.maxNewEntities} (ops.importMaxNewEntities). Nothing was written. Fix: split the import, or raise ops.importMaxNewEntities`,
      "fewer new entities",
    );

  let staging: ReturnType<typeof openStaging>;
  try {
    staging = openStaging(opts.stagingDir);
  } catch (error) {
    return notStaged(error);
  }
  try {
    // Pass 1: stage.
    let staged = 0;
    let sinceYield = 0;
    try {
      for await (const { first, lines } of lineChunks(body, limits.maxBytes, limits.maxLineBytes)) {
        staging.db.exec("BEGIN");
        for (let k = 0; k < lines.length; k++) {
          const no = first + k;
          const text = lines[k];
          report.lines++;
          if (text === null) {
            skip(no, "line-too-long", `longer than ${limits.maxLineBytes} (ops.importMaxLineBytes)`);
            continue;
          }
          const r = readLine(text, mapping);
          if (r.kind === "ignored") report.ignoredLines++;
          else if (r.kind === "skipped") skip(no, r.reason, r.detail);
          else {
            const late = timeProblem(r.us, limitsUs);
            if (late) {
              skip(no, r.us > limitsUs.nowUs ? "future" : "out-of-range", late);
              continue;
            }
            staging.insert.run(r.entityId, r.us, no, JSON.stringify(r.part));
            staged++;
            const m = measurements.get(r.measurement);
            if (m) m.lines++;
            else if (measurements.size < MAX_MEASUREMENTS)
              measurements.set(r.measurement, { readAs: r.readAs, lines: 1 });
            if (!seen.has(r.entityId)) {
              seen.add(r.entityId);
              asking.push(r.entityId);
            }
          }
        }
        staging.db.exec("COMMIT");
        if (asking.length >= CHECK_BATCH) {
          await ask();
          // Known ids in `seen` are bounded by the key space; new ones by this refusal.
          if (report.newEntities > limits.maxNewEntities) return overNew();
        }
        sinceYield += lines.length;
        if (sinceYield >= CHUNK_LINES) {
          sinceYield = 0;
          await yieldToLoop();
        }
      }
      await ask();
    } catch (error) {
      if (error instanceof TooLarge)
        return refuse(
          413,
          `${error.message}. Nothing was written`,
          `at most ${limits.maxBytes} bytes (ops.importMaxBytes)`,
        );
      return notStaged(error);
    }
    report.entities = seen.size;
    report.measurements = [...measurements].map(([measurement, m]) => ({ measurement, ...m }));
    if (report.newEntities > limits.maxNewEntities) return overNew();
    if (report.newEntities > keysLeft)
      return refuse(
        422,
        `import would add ${report.newEntities} entities new to the store, but imports may take only ${keysLeft} more entity keys (the rest are kept for the home's own entities, ops.importEntityKeyReserve). Nothing was written`,
        "fewer new entities",
      );
    return await store(staging.db, staged, target, report, skip, refuse);
  } finally {
    staging.close();
  }
}

/** Pass 2: merge the staged parts of each (time, entity), rebuild last_changed, store in batches. */
async function store(
  db: Database,
  staged: number,
  target: ImportTarget,
  report: HaInfluxReport,
  skip: (line: number, reason: SkipReason, detail: string, lines?: number) => void,
  refuse: (status: 413 | 422 | 500, error: string, expected: string) => HaInfluxOutcome,
): Promise<HaInfluxOutcome> {
  let mapped = staged;
  let batch: StateChange[] = [];
  let batchLines: { line: number; lines: number }[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const result = await target.write(batch);
    report.stored += result.stored;
    report.duplicates += result.duplicates;
    for (const r of result.rejected) {
      const { line, lines } = batchLines[r.index];
      mapped -= lines;
      skip(line, "store-refused", r.error, lines);
    }
    batch = [];
    batchLines = [];
    await yieldToLoop();
  };
  // The merge in progress, and each entity's last state (for last_changed; as many as the entity bounds let
  // through pass 1).
  let cur: { e: string; t: number; line: number; lines: number; part: PointPart } | null = null;
  const last = new Map<string, { state: string; lc: number }>();
  const finish = async () => {
    if (!cur) return;
    const st = pointState(cur.part);
    if (!st) {
      mapped -= cur.lines;
      skip(
        cur.line,
        "no-state",
        `${cur.e} at ${new Date(cur.t / 1000).toISOString()}: no state or value field in its ${cur.lines} line(s)`,
        cur.lines,
      );
      return;
    }
    const prev = last.get(cur.e);
    const lc = prev && prev.state === st.state ? prev.lc : cur.t;
    if (prev) {
      prev.state = st.state;
      prev.lc = lc;
    } else last.set(cur.e, { state: st.state, lc });
    batch.push({
      entity_id: cur.e,
      state: st.state,
      attributes: JSON.stringify(st.attributes),
      last_changed: lc,
      last_updated: cur.t,
      context_id: null,
      context_parent_id: null,
      context_user_id: null,
    });
    batchLines.push({ line: cur.line, lines: cur.lines });
    report.stateChanges++;
    if (batch.length >= IMPORT_BATCH) await flush();
  };
  try {
    const rows = db.query("SELECT e, t, line, j FROM part ORDER BY t, e, line");
    for (const row of rows.iterate() as IterableIterator<{ e: string; t: number; line: number; j: string }>) {
      const part = JSON.parse(row.j) as PointPart;
      if (cur && cur.e === row.e && cur.t === row.t) {
        mergePart(cur.part, part);
        cur.lines++;
        continue;
      }
      await finish();
      cur = { e: row.e, t: row.t, line: row.line, lines: 1, part };
    }
    await finish();
    await flush();
  } catch (error) {
    report.mappedLines = mapped;
    return refuse(
      500,
      `import failed after storing ${report.stored} of ${report.stateChanges} state changes: ${(error as Error).message}. Importing the same file again stores only what is missing`,
      "a running store (see /health/deep and the log)",
    );
  }
  report.mappedLines = mapped;
  if (report.stateChanges === 0 && report.skippedLines > 0)
    return refuse(
      422,
      `no line could be mapped to a state change (${report.skippedLines} skipped; reasons and examples listed)`,
      "line protocol written by Home Assistant's influxdb integration or a Node-RED flow (see docs/operations.md)",
    );
  return { ok: true, ...report };
}

/** A report as text for people: totals, skips by reason with the first examples, measurement readings. */
export function describeHaInflux(r: HaInfluxReport): string {
  const reasons = Object.entries(r.skipped)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`);
  return [
    `${r.lines} lines: ${r.mappedLines} mapped, ${r.skippedLines} skipped, ${r.ignoredLines} ignored (blank, comments, DDL)`,
    `${r.stateChanges} state changes of ${r.entities} entities (${r.newEntities} new): ${r.stored} stored, ${r.duplicates} already stored`,
    ...(reasons.length ? [`skipped by reason: ${reasons.join(", ")}`] : []),
    ...r.examples.map((e) => `  - line ${e.line}: ${e.reason}: ${e.detail}`),
    `measurements read as: ${r.measurements.map((m) => `${m.measurement} (${m.readAs}, ${m.lines})`).join(", ") || "none"}`,
  ].join("\n");
}
