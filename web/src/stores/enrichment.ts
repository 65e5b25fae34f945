/**
 * The enrichment panel's data: every source (weather, air quality, carbon, prices) with its latest values,
 * health and last error; polled every ENRICHMENT_POLL_MS while the panel is shown.
 */
import { atom, onMount } from "nanostores";
import type { SourceView } from "../../../runtime/api/enrichment/model.ts";
import { ApiError, api } from "../api.ts";
import { $token } from "./token.ts";

export const ENRICHMENT_POLL_MS = 10_000;

export interface EnrichmentState {
  status: "loading" | "ready" | "error";
  sources: SourceView[];
  error: string | null;
}

export const $enrichment = atom<EnrichmentState>({ status: "loading", sources: [], error: null });

export async function refreshEnrichment(): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  try {
    const { sources } = await api.enrichment(token);
    $enrichment.set({ status: "ready", sources, error: null });
  } catch (error) {
    $enrichment.set({
      ...$enrichment.get(),
      status: "error",
      error: error instanceof ApiError ? error.message : String(error),
    });
  }
}

onMount($enrichment, () => {
  void refreshEnrichment();
  const timer = setInterval(() => void refreshEnrichment(), ENRICHMENT_POLL_MS);
  return () => clearInterval(timer);
});
