/**
 * The overview's data: `/api/v1/real-time-metrics`, polled every METRICS_POLL_MS while the overview is
 * shown. A failed poll keeps the last good figures and says the data is stale.
 */
import { atom, onMount } from "nanostores";
import { ApiError, api } from "../api.ts";
import { type MetricsView, toMetricsView } from "../metrics-view.ts";
import { $token } from "./token.ts";

export const METRICS_POLL_MS = 1000;

export interface MetricsState {
  status: "loading" | "ready" | "error";
  data: MetricsView | null;
  error: string | null;
  /** When `data` was fetched (ms since epoch). */
  updatedAt: number | null;
}

export const $metrics = atom<MetricsState>({ status: "loading", data: null, error: null, updatedAt: null });

export async function refreshMetrics(): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  try {
    const [metrics, deep] = await Promise.all([api.metrics(token), api.deepHealth(token).catch(() => null)]);
    $metrics.set({ status: "ready", data: toMetricsView(metrics, deep), error: null, updatedAt: Date.now() });
  } catch (error) {
    const message = error instanceof ApiError ? error.message : String(error);
    $metrics.set({ ...$metrics.get(), status: "error", error: message });
  }
}

onMount($metrics, () => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const tick = async () => {
    await refreshMetrics();
    if (!stopped) timer = setTimeout(tick, METRICS_POLL_MS);
  };
  void tick();
  const unlisten = $token.listen(() => void refreshMetrics());
  return () => {
    stopped = true;
    clearTimeout(timer);
    unlisten();
  };
});
