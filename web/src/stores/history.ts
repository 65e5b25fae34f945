/**
 * The entity detail chart's data: one entity's history over a time range at a resolution. Zooming the
 * chart asks again for the zoomed range, so `auto` moves from daily to hourly to raw points as the range
 * narrows.
 */
import { atom } from "nanostores";
import { ApiError, api } from "../api.ts";
import { type HistoryColumns, type Resolution, toHistoryColumns } from "../history-view.ts";
import { $token } from "./token.ts";

export const HISTORY_RANGES = [
  { label: "1 hour", ms: 3600_000 },
  { label: "24 hours", ms: 24 * 3600_000 },
  { label: "7 days", ms: 7 * 24 * 3600_000 },
  { label: "30 days", ms: 30 * 24 * 3600_000 },
  { label: "90 days", ms: 90 * 24 * 3600_000 },
] as const;

/** Fewer rollup points than this (under `auto`) and the raw tier is tried instead. */
export const MIN_ROLLUP_POINTS = 3;

/**
 * Pages of one history the chart reads: the API answers at most `api.pageMax` points (1000 by default)
 * and says `truncated` with the `nextFrom` to go on from; past this many pages the chart shows what it has.
 */
export const HISTORY_PAGES_MAX = 20;

type HistoryQuery = { from: number; to: number; resolution: Resolution };

/** One history, its pages followed up to HISTORY_PAGES_MAX. */
async function fetchHistory(token: string, entityId: string, query: HistoryQuery) {
  let answer = await api.history(token, entityId, query);
  const points = [...answer.points];
  for (let page = 1; answer.nextFrom !== null && page < HISTORY_PAGES_MAX; page++) {
    answer = await api.history(token, entityId, { ...query, from: answer.nextFrom });
    points.push(...answer.points);
  }
  return toHistoryColumns({ ...answer, points });
}

export interface HistoryState {
  entityId: string | null;
  from: number;
  to: number;
  resolution: Resolution;
  status: "idle" | "loading" | "ready" | "error";
  columns: HistoryColumns | null;
  error: string | null;
}

export const $history = atom<HistoryState>({
  entityId: null,
  from: 0,
  to: 0,
  resolution: "auto",
  status: "idle",
  columns: null,
  error: null,
});

let generation = 0;

async function load(entityId: string, from: number, to: number, resolution: Resolution): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  const mine = ++generation;
  const previous = $history.get();
  $history.set({
    entityId,
    from,
    to,
    resolution,
    status: "loading",
    columns: previous.entityId === entityId ? previous.columns : null,
    error: null,
  });
  try {
    let columns = await fetchHistory(token, entityId, { from, to, resolution });
    // A store younger than the range answers `auto` from a rollup tier, which for a fresh install is a
    // single bucket; so little data is cheap to read raw, and a line beats one dot.
    if (resolution === "auto" && columns.tier !== "raw" && columns.xs.length < MIN_ROLLUP_POINTS) {
      const raw = await fetchHistory(token, entityId, { from, to, resolution: "raw" });
      if (raw.xs.length > columns.xs.length) columns = raw;
    }
    if (mine !== generation) return;
    $history.set({ ...$history.get(), status: "ready", columns, error: null });
  } catch (error) {
    if (mine !== generation) return;
    $history.set({
      ...$history.get(),
      status: "error",
      error: error instanceof ApiError ? error.message : String(error),
    });
  }
}

/** Shows the last `rangeMs` of an entity's history. */
export function showHistory(entityId: string, rangeMs: number, resolution?: Resolution): void {
  const to = Date.now();
  void load(entityId, to - rangeMs, to, resolution ?? $history.get().resolution);
}

/** The chart was zoomed to [from, to] (ms): fetch that range again at a fitting tier. */
export function zoomHistory(from: number, to: number): void {
  const { entityId, resolution } = $history.get();
  if (entityId && to > from) void load(entityId, Math.floor(from), Math.ceil(to), resolution);
}

export function setHistoryResolution(resolution: Resolution): void {
  const { entityId, from, to } = $history.get();
  if (entityId) void load(entityId, from, to, resolution);
}
