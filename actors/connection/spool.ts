/**
 * The bounded, disk-backed waiting room for event batches when the pipeline is slower than HA: append-only
 * segment files `${dataDir}/spool/seg-<n>.ndjson`, one packed batch per line (`{s, n, p, t}`: source, count,
 * the packed text and times), drained oldest first. A segment is
 * deleted once fully handed on. After a crash, leftover segments are drained on the next start; a batch
 * may then be handed on twice, which the store's (entity_id, last_updated) key absorbs.
 *
 * Memory stays bounded: only the segment being drained is held in memory (≤ `segmentBytes`).
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { StateChange } from "../../runtime/events/messages.ts";
import { type PackedEvents, packEvents } from "../../runtime/events/packed.ts";

export interface SpoolRecord {
  source: "live" | "snapshot" | "backfill";
  events: PackedEvents;
}

export interface SpoolOptions {
  maxBytes: number;
  segmentBytes: number;
  /** Called with a reason when a torn or unreadable line is skipped. */
  onCorrupt?: (detail: string) => void;
}

const SEGMENT = /^seg-(\d{12})\.ndjson$/;

export class Spool {
  readonly dir: string;
  private readonly opts: SpoolOptions;
  /** Segment numbers on disk, oldest first; the last may be open for writing. */
  private segments: number[] = [];
  private writeFd: number | null = null;
  private writeSeg = -1;
  private writeSize = 0;
  /** Lines of the head segment being drained, and the read position in them. */
  private lines: string[] | null = null;
  private lineSizes: number[] = [];
  private pos = 0;
  private headCounts: number[] = [];
  /** Bytes and events waiting (gauges `spool_bytes`, `spool_events`). */
  bytes = 0;
  events = 0;

  constructor(dir: string, opts: SpoolOptions) {
    this.dir = dir;
    this.opts = opts;
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // spooled events are the home's history: owner-only
    for (const name of readdirSync(dir).sort()) {
      const m = SEGMENT.exec(name);
      if (!m) continue;
      const n = Number(m[1]);
      this.segments.push(n);
      this.bytes += statSync(this.path(n)).size;
      for (const line of readFileSync(this.path(n), "utf8").split("\n")) {
        if (line) this.events += countEvents(line);
      }
    }
  }

  get empty(): boolean {
    return this.bytes === 0 && (this.lines === null || this.pos >= this.lines.length);
  }

  private path(n: number): string {
    return join(this.dir, `seg-${String(n).padStart(12, "0")}.ndjson`);
  }

  /**
   * Appends a batch; returns false (and writes nothing) if that would exceed `maxBytes`. `force` writes past
   * the bound (by this one batch) — only for the batch held in memory at shutdown.
   */
  append(record: SpoolRecord, force = false): boolean {
    const { n, text, times } = record.events;
    const line = `${JSON.stringify({ s: record.source, n, p: text, t: Array.from(times) })}\n`;
    const size = Buffer.byteLength(line);
    if (!force && this.bytes + size > this.opts.maxBytes) return false;
    if (this.writeFd === null || this.writeSize + size > this.opts.segmentBytes) this.rotate();
    writeSync(this.writeFd!, line);
    this.writeSize += size;
    this.bytes += size;
    this.events += n;
    return true;
  }

  private rotate(): void {
    if (this.writeFd !== null) closeSync(this.writeFd);
    const n = (this.segments.length > 0 ? this.segments[this.segments.length - 1] : 0) + 1;
    this.segments.push(n);
    this.writeSeg = n;
    this.writeFd = openSync(this.path(n), "a", 0o600);
    this.writeSize = 0;
  }

  /** The oldest waiting batch, or null. Call `shift()` once it has been handed on. */
  peek(): SpoolRecord | null {
    for (;;) {
      if (this.lines && this.pos < this.lines.length) {
        const line = this.lines[this.pos];
        try {
          const o = JSON.parse(line) as {
            s: SpoolRecord["source"];
            n: number;
            p?: string;
            t?: number[];
            e?: StateChange[];
          };
          // Lines written before batches were packed carry the records themselves (`e`).
          const events = o.e
            ? packEvents(o.e)
            : { n: o.n, text: o.p ?? "", times: Float64Array.from(o.t ?? []) };
          return { source: o.s, events };
        } catch (e) {
          this.opts.onCorrupt?.(`spool line skipped (${(e as Error).message}) in ${this.dir}`);
          this.shift();
          continue;
        }
      }
      if (!this.loadHead()) return null;
    }
  }

  /** Drops the batch `peek()` returned. */
  shift(): void {
    if (!this.lines || this.pos >= this.lines.length) return;
    this.bytes -= this.lineSizes[this.pos];
    this.events -= this.headCounts[this.pos];
    this.pos++;
    if (this.pos >= this.lines.length) {
      rmSync(this.path(this.segments.shift()!), { force: true });
      this.lines = null;
    }
  }

  private loadHead(): boolean {
    if (this.segments.length === 0) return false;
    // Never read the segment still being written: seal it first.
    if (this.segments[0] === this.writeSeg && this.writeFd !== null) {
      closeSync(this.writeFd);
      this.writeFd = null;
      this.writeSeg = -1;
    }
    const text = readFileSync(this.path(this.segments[0]), "utf8");
    const lines = text.split("\n").filter((l) => l.length > 0);
    if (lines.length === 0) {
      rmSync(this.path(this.segments.shift()!), { force: true });
      return this.loadHead();
    }
    this.lines = lines;
    this.lineSizes = lines.map((l) => Buffer.byteLength(l) + 1);
    // A torn last line (crash mid-write) has no newline.
    if (!text.endsWith("\n")) this.lineSizes[lines.length - 1]--;
    this.headCounts = lines.map(countEvents);
    this.pos = 0;
    return true;
  }

  close(): void {
    if (this.writeFd !== null) closeSync(this.writeFd);
    this.writeFd = null;
  }
}

/** Reads the event count a line declares (`"n":N` right after the source) without parsing the line. */
function countEvents(line: string): number {
  const m = /"n":(\d+)/.exec(line.slice(0, 40));
  return m ? Number(m[1]) : 0;
}
