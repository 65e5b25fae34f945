/**
 * Devices & entities: the search (debounced, ENTITY_SEARCH_DEBOUNCE_MS), the area and domain filters and
 * the current page of results. A newer query always wins over an older response still in flight.
 */
import { atom, onMount } from "nanostores";
import { ApiError, api } from "../api.ts";
import { type EntityView, toEntityPage } from "../entity-view.ts";
import { $token } from "./token.ts";

export const ENTITY_SEARCH_DEBOUNCE_MS = 250;
/** Rows requested per page. */
export const ENTITY_PAGE_SIZE = 200;

export interface EntitiesQuery {
  q: string;
  domain: string;
  area: string;
}

export interface EntitiesState {
  query: EntitiesQuery;
  status: "loading" | "ready" | "error";
  items: EntityView[];
  total: number | null;
  nextCursor: string | null;
  error: string | null;
  /** Every domain and area seen in the unfiltered catalogue, with entity counts, for the filters. */
  facets: { domains: [string, number][]; areas: [string, number][] };
}

export const $entities = atom<EntitiesState>({
  query: { q: "", domain: "", area: "" },
  status: "loading",
  items: [],
  total: null,
  nextCursor: null,
  error: null,
  facets: { domains: [], areas: [] },
});

let generation = 0;
let debounce: ReturnType<typeof setTimeout> | undefined;

async function load(append: boolean): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  const mine = ++generation;
  const state = $entities.get();
  if (!append) $entities.set({ ...state, status: "loading", error: null });
  try {
    const { q, domain, area } = state.query;
    const raw = await api.entities(token, {
      q,
      domain,
      area,
      limit: ENTITY_PAGE_SIZE,
      cursor: append ? (state.nextCursor ?? undefined) : undefined,
    });
    if (mine !== generation) return;
    const page = toEntityPage(raw);
    const current = $entities.get();
    $entities.set({
      ...current,
      status: "ready",
      items: append ? current.items.concat(page.items) : page.items,
      total: page.total,
      nextCursor: page.nextCursor,
      error: null,
    });
  } catch (error) {
    if (mine !== generation) return;
    $entities.set({
      ...$entities.get(),
      status: "error",
      error: error instanceof ApiError ? error.message : String(error),
    });
  }
}

function count(values: (string | null)[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

/** Loads the whole catalogue once (bounded by the server's page limit) to build the filter counts. */
async function loadFacets(): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  try {
    const page = toEntityPage(await api.entities(token, { limit: 1000 }));
    $entities.set({
      ...$entities.get(),
      facets: {
        domains: count(page.items.map((e) => e.domain)),
        areas: count(page.items.map((e) => e.area)),
      },
    });
  } catch {
    // The result list reports errors; the filters simply stay without counts.
  }
}

function setQuery(patch: Partial<EntitiesQuery>, delayMs: number): void {
  const state = $entities.get();
  $entities.set({ ...state, query: { ...state.query, ...patch } });
  clearTimeout(debounce);
  if (delayMs === 0) void load(false);
  else debounce = setTimeout(() => void load(false), delayMs);
}

export function searchEntities(q: string): void {
  setQuery({ q: q.trim() }, ENTITY_SEARCH_DEBOUNCE_MS);
}

export function filterByDomain(domain: string): void {
  setQuery({ domain }, 0);
}

export function filterByArea(area: string): void {
  setQuery({ area }, 0);
}

export function loadMoreEntities(): void {
  if ($entities.get().nextCursor) void load(true);
}

export function reloadEntities(): void {
  void load(false);
}

onMount($entities, () => {
  void load(false);
  void loadFacets();
  return () => clearTimeout(debounce);
});
