/**
 * The suggestions panel: automations HomeIQ proposes from the home's history, filtered by status, with
 * accept / dismiss and "mine now". Loaded when the panel is shown.
 */
import { atom, onMount } from "nanostores";
import { ApiError, api } from "../api.ts";
import { $token } from "./token.ts";

export type SuggestionStatus = "open" | "accepted" | "dismissed" | "all";
type List = Awaited<ReturnType<typeof api.suggestions>>;
export type Suggestion = List["suggestions"][number];

export interface SuggestionsState {
  filter: SuggestionStatus;
  status: "loading" | "ready" | "error";
  items: Suggestion[];
  lastRun: List["lastRun"];
  running: boolean;
  error: string | null;
  busy: boolean;
}

export const $suggestions = atom<SuggestionsState>({
  filter: "open",
  status: "loading",
  items: [],
  lastRun: null,
  running: false,
  error: null,
  busy: false,
});

const message = (error: unknown) => (error instanceof ApiError ? error.message : String(error));
const patch = (p: Partial<SuggestionsState>) => $suggestions.set({ ...$suggestions.get(), ...p });

export async function loadSuggestions(filter: SuggestionStatus = $suggestions.get().filter): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  patch({ filter, status: "loading", error: null });
  try {
    const list = await api.suggestions(token, filter);
    if ($suggestions.get().filter !== filter) return;
    patch({ status: "ready", items: list.suggestions, lastRun: list.lastRun, running: list.running });
  } catch (error) {
    patch({ status: "error", error: message(error) });
  }
}

/** Mines the history now (joins a run in progress), then shows the open suggestions. */
export async function mineSuggestions(): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  patch({ busy: true, error: null });
  try {
    const list = await api.mineSuggestions(token);
    patch({
      busy: false,
      filter: "open",
      status: "ready",
      items: list.suggestions,
      lastRun: list.lastRun,
      running: list.running,
    });
  } catch (error) {
    patch({ busy: false, error: message(error) });
  }
}

export async function decideSuggestion(id: string, decision: "accept" | "dismiss"): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  patch({ busy: true, error: null });
  try {
    await api.decideSuggestion(token, id, decision);
    patch({ busy: false });
    await loadSuggestions();
  } catch (error) {
    patch({ busy: false, error: message(error) });
  }
}

onMount($suggestions, () => {
  void loadSuggestions();
});
