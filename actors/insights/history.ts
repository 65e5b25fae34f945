/**
 * A folded history (./fold.ts) kept current through the store: each run folds in the rows stored since
 * the last (read in pages of `pageRows`), an entity with rows stored late
 * (backfill, import) is folded again from the store, and the window's old rows leave at the front. On
 * start, after a rename (entity keys' rows move) or when asked, the window is folded again from its start,
 * page by page: one pass over the window per actor life, not one per run.
 *
 * Runs take turns (a promise chain): a report is computed on exactly the rows before its `now`.
 */
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { InsightsReader } from "../../runtime/store/insights-reader.ts";
import type { TailPosition } from "../../runtime/store/tail.ts";
import { energyOfFold, type HealthReport, healthOfFold } from "./analyses.ts";
import type { EnergyReport } from "./energy.ts";
import { HistoryFold } from "./fold.ts";
import type { EntityMeta } from "./inputs.ts";

type Settings = HomeIQConfig["insights"];

export interface FoldStats {
  /** Times the window was folded from its start (actor start, renames). */
  rebuilds: number;
  /** Entities folded again for rows stored late. */
  entityRebuilds: number;
  /** Rows read from the store. */
  rowsRead: number;
}

export class FoldedHistory {
  private readonly fold: HistoryFold;
  private pos: TailPosition | null = null;
  private version = -1;
  private turn: Promise<unknown> = Promise.resolve();
  readonly stats: FoldStats = { rebuilds: 0, entityRebuilds: 0, rowsRead: 0 };

  /**
   * @param pageRows rows one read takes from the store
   * @param pause awaited between pages, so a long first fold lets calls and messages through
   */
  constructor(
    private readonly reader: InsightsReader,
    private readonly s: Settings,
    private readonly pageRows: number,
    private readonly pause: () => Promise<void> = () => new Promise((r) => setTimeout(r, 0)),
  ) {
    this.fold = new HistoryFold(s.lowBatteryPct);
  }

  health(now: number, meta: ReadonlyMap<string, EntityMeta>): Promise<HealthReport> {
    return this.inTurn(now, () =>
      healthOfFold(this.fold, this.s, now, meta, (state, value) => this.reader.stateTextOf(state, value)),
    );
  }

  energy(now: number, meta: ReadonlyMap<string, EntityMeta>): Promise<EnergyReport & { computedAt: number }> {
    return this.inTurn(now, () => energyOfFold(this.fold, this.s, now, meta));
  }

  /** Rows and bytes the fold holds, and the entities it holds them for. */
  usage(): { rows: number; bytes: number; entities: number } {
    return { ...this.fold.usage(), entities: this.fold.size };
  }

  private inTurn<T>(now: number, report: () => T): Promise<T> {
    const run = this.turn.then(async () => {
      await this.catchUp(now);
      return report();
    });
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Folds in every row stored before `now + 1` (the full read's bound) and drops those before the window. */
  private async catchUp(now: number): Promise<void> {
    const from = now - this.s.historyDays * 86400_000;
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
