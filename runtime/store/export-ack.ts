/**
 * What the Influx writer has acknowledged, as the batcher (events.db's writer) knows it: the writer tells
 * the batcher its position by message (`export-position` on `influx->batcher`), the batcher keeps the last
 * one here, in events.db's `cursors` table (`export`, `export.id`), on its own writer connection. Retention
 * and the disk bound never delete a row past it (store.unexportedHoldBytes), and the journal is trimmed
 * only behind it (./maintenance.ts).
 *
 * Why this is safe across restarts: the writer's own position (influx.db) only moves forward after the
 * server accepted rows, so any position it reported earlier is at or behind the true one. A restarted
 * batcher starts from the last position it stored (never ahead of the truth: holds more, never less); a
 * restarted writer reports its position again at once. A writer whose influx.db was reset reports an
 * earlier position, and the batcher takes it as is (never the max of the two).
 * Before the writer has ever spoken, nothing counts as exported: `start` (tail_base, journal seq 0).
 */
import type { Database } from "bun:sqlite";
import { StoredPosition, type TailPosition } from "./tail.ts";

const CURSOR = "export";

export class ExportAcknowledged {
  private readonly stored: StoredPosition;
  private pos: TailPosition;

  /** `start`: the position of a sink that has exported nothing (tail_base, seq 0). */
  constructor(db: Database, start: TailPosition) {
    this.stored = new StoredPosition(db, CURSOR);
    this.pos = this.stored.load(start);
    // A cursor never written loads as `start` with seq 0: the same as "nothing exported".
  }

  /** The last position the writer reported (or the stored one, or `start`). */
  get current(): TailPosition {
    return this.pos;
  }

  /** Takes the writer's report; writes only when it moved. Returns whether it did. */
  set(next: TailPosition): boolean {
    if (next.t === this.pos.t && next.e === this.pos.e && next.seq === this.pos.seq) return false;
    this.stored.save(next);
    this.pos = { t: next.t, e: next.e, seq: next.seq };
    return true;
  }
}
