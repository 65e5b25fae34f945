/**
 * A fold of the analysis window kept current through the store: each run folds in the rows stored since
 * the last (read in pages of `pageRows`), an entity with rows stored late (backfill, import) is folded
 * again from the store, and what leaves the window goes at the front. On start, after a rename (entity
 * keys' rows move) or when asked, the window is folded again from its start, page by page: one pass over
 * the window per actor life, not one per run. The fold is the health summary (./health-fold.ts) in the
 * insights actor, or the exact columns (./fold.ts) the tests hold against a full read.
 *
 * Runs take turns (a promise chain): a report is computed on exactly the rows before its `now`.
 */
import type { InsightsReader, WindowRow } from "../../runtime/store/insights-reader.ts";
import type { TailPosition } from "../../runtime/store/tail.ts";

/** What FoldedHistory keeps current: rows in per entity key, entities started again or dropped. */
export interface WindowFold {
  /** Folds one row of entity `e`; false when the entity must be folded again from the store (refold). */
  push(e: number, entityId: string, row: WindowRow): boolean;
  /** Starts entity `e` afresh before its rows are folded again. */
  refold(e: number, entityId: string): void;
  /** Forgets one entity (none of its rows is in the window any more). */
  drop(e: number): void;
  clear(): void;
  /** Lets go of what lies before `from`. */
  trim(from: number): void;
}

/** Several folds kept current by one read of the store: a row refused by any folds its entity again in all. */
export class Folds implements WindowFold {
  constructor(private readonly all: readonly WindowFold[]) {}

  push(e: number, entityId: string, row: WindowRow): boolean {
    let ok = true;
    for (const f of this.all) ok = f.push(e, entityId, row) && ok;
    return ok;
  }

  refold(e: number, entityId: string): void {
    for (const f of this.all) f.refold(e, entityId);
  }

  drop(e: number): void {
    for (const f of this.all) f.drop(e);
  }

  clear(): void {
    for (const f of this.all) f.clear();
  }

  trim(from: number): void {
    for (const f of this.all) f.trim(from);
  }
}

export interface FoldStats {
  /** Times the window was folded from its start (actor start, renames). */
  rebuilds: number;
  /** Entities folded again for rows stored late. */
  entityRebuilds: number;
  /** Rows read from the store. */
  rowsRead: number;
}

export class FoldedHistory<F extends WindowFold> {
  private pos: TailPosition | null = null;
  private version = -1;
  private turn: Promise<unknown> = Promise.resolve();
  private stopped = false;
  readonly stats: FoldStats = { rebuilds: 0, entityRebuilds: 0, rowsRead: 0 };

  /**
   * @param pageRows rows one read takes from the store
   * @param pause awaited between pages, so a long first fold lets calls and messages through
   */
  /**
   * @param fold what is kept of the window (empty: it is folded from the window's start on the first run)
   * @param historyDays the window's length
   * @param pageRows rows one read takes from the store
   * @param pause awaited between pages, so a long first fold lets calls and messages through
   */
  constructor(
    private readonly reader: InsightsReader,
    readonly fold: F,
    private readonly historyDays: number,
    private readonly pageRows: number,
    private readonly pause: () => Promise<void> = () => new Promise((r) => setTimeout(r, 0)),
  ) {}

  /** `report` over the fold once it holds exactly the window's rows before `now` (and none older). */
  at<T>(now: number, report: (fold: F) => T): Promise<T> {
    const run = this.turn.then(async () => {
      await this.catchUp(now);
      return report(this.fold);
    });
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Ends a fold in progress at its next page (the actor is stopping); later runs fail. */
  stop(): void {
    this.stopped = true;
  }

  /** Folds in every row stored before `now + 1` (the full read's bound) and drops those before the window. */
  private async catchUp(now: number): Promise<void> {
    const from = now - this.historyDays * 86400_000;
    const version = this.reader.namesVersion();
    if (this.pos === null || version !== this.version) {
      this.fold.clear();
      this.pos = this.reader.foldStart(from);
      this.version = version;
      this.stats.rebuilds++;
    }
    // Rows refused by the fold (not newer than their entity's newest) are late too.
    const late = new Set<number>();
    for (;;) {
      const page = this.reader.foldRead(this.pos, this.pageRows, from, now + 1, (e, entityId, row) => {
        this.stats.rowsRead++;
        if (!this.fold.push(e, entityId, row)) late.add(e);
      });
      this.pos = page.next;
      for (const e of page.late) late.add(e);
      for (const e of late) this.refold(e, from);
      late.clear();
      if (page.done) break;
      await this.pause();
      if (this.stopped) throw new Error("the fold was stopped");
    }
    this.fold.trim(from);
  }

  private refold(e: number, from: number): void {
    this.stats.entityRebuilds++;
    let started = false;
    this.reader.foldEntity(e, from, this.pos as TailPosition, (entityId, row) => {
      if (!started) this.fold.refold(e, entityId);
      started = true;
      this.stats.rowsRead++;
      this.fold.push(e, entityId, row);
    });
    if (!started) this.fold.drop(e);
  }
}
