/**
 * The insights view's data: entity health and energy impact (kept computed by the insights actor), the
 * activity of the last 24 h, and a search with the trace of a chosen event. Health, energy and activity
 * are polled every INSIGHTS_POLL_MS while the view is shown; search and trace run on demand.
 */
import { atom, onMount } from "nanostores";
import { ApiError } from "../api.ts";
import { insightsApi as api } from "../insights-api.ts";
import { $token } from "./token.ts";

export const INSIGHTS_POLL_MS = 30_000;

export type HealthPage = Awaited<ReturnType<typeof api.health>>;
export type EnergyPage = Awaited<ReturnType<typeof api.energy>>;
export type StatsPage = Awaited<ReturnType<typeof api.stats>>;
export type SearchPage = Awaited<ReturnType<typeof api.search>>;
export type TracePage = Awaited<ReturnType<typeof api.trace>>;

export interface InsightsState {
  health: HealthPage | null;
  energy: EnergyPage | null;
  stats: StatsPage | null;
  /** Per part: a failure of one (e.g. energy not measured yet) leaves the others shown. */
  errors: { health?: string; energy?: string; stats?: string };
}

export const $insights = atom<InsightsState>({ health: null, energy: null, stats: null, errors: {} });

export interface SearchState {
  q: string;
  status: "idle" | "loading" | "ready" | "error";
  page: SearchPage | null;
  error: string | null;
  trace: TracePage | null;
}

export const $insightSearch = atom<SearchState>({
  q: "",
  status: "idle",
  page: null,
  error: null,
  trace: null,
});

const message = (error: unknown) => (error instanceof ApiError ? error.message : String(error));

export async function refreshInsights(): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  const [health, energy, stats] = await Promise.allSettled([
    api.health(token),
    api.energy(token),
    api.stats(token, "24h"),
  ]);
  const prev = $insights.get();
  $insights.set({
    health: health.status === "fulfilled" ? health.value : prev.health,
    energy: energy.status === "fulfilled" ? energy.value : prev.energy,
    stats: stats.status === "fulfilled" ? stats.value : prev.stats,
    errors: {
      ...(health.status === "rejected" ? { health: message(health.reason) } : {}),
      ...(energy.status === "rejected" ? { energy: message(energy.reason) } : {}),
      ...(stats.status === "rejected" ? { stats: message(stats.reason) } : {}),
    },
  });
}

/** Searches (a new query), or loads the next page of the current one (`more`). */
export async function searchInsights(q: string, more = false): Promise<void> {
  const token = $token.get().token;
  const current = $insightSearch.get();
  if (!token || !q.trim()) return;
  const cursor = more ? (current.page?.nextCursor ?? undefined) : undefined;
  $insightSearch.set({ ...current, q, status: "loading", error: null, ...(more ? {} : { trace: null }) });
  try {
    const page = await api.search(token, cursor ? { q, cursor } : { q });
    const items = more && current.page ? [...current.page.items, ...page.items] : page.items;
    $insightSearch.set({ ...$insightSearch.get(), status: "ready", page: { ...page, items } });
  } catch (error) {
    $insightSearch.set({ ...$insightSearch.get(), status: "error", error: message(error) });
  }
}

export async function traceInsight(eventId: string): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  try {
    const trace = await api.trace(token, eventId);
    $insightSearch.set({ ...$insightSearch.get(), trace });
  } catch (error) {
    $insightSearch.set({ ...$insightSearch.get(), error: message(error) });
  }
}

onMount($insights, () => {
  void refreshInsights();
  const timer = setInterval(() => void refreshInsights(), INSIGHTS_POLL_MS);
  return () => clearInterval(timer);
});
