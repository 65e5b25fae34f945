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
/** Entities read once to count the domains for the domain filter. */
export const CATALOGUE_LIMIT = 1000;

export interface EntitiesQuery {
  q: string;
  domain: string;
  area: string;
}

export interface Facet {
  value: string;
  label: string;
  count: number;
}

export interface EntitiesState {
  query: EntitiesQuery;
  status: "loading" | "ready" | "error";
  items: EntityView[];
  total: number | null;
  nextCursor: string | null;
  error: string | null;
  /** The filters' choices with entity counts: domains seen in the catalogue, and the home's areas. */
  facets: { domains: Facet[]; areas: Facet[] };
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

/** Domains with counts from the catalogue's first page (bounded by the server's page limit). */
async function domainFacets(token: string): Promise<Facet[]> {
  const page = toEntityPage(await api.entities(token, { limit: CATALOGUE_LIMIT }));
  const counts = new Map<string, number>();
  for (const e of page.items) counts.set(e.domain, (counts.get(e.domain) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([value, count]) => ({ value, label: value, count }));
}

async function areaFacets(token: string): Promise<Facet[]> {
  const raw: unknown = await api.areas(token);
  const list = Array.isArray(raw) ? raw : ((raw as { items?: unknown[] }).items ?? []);
  return (list as { area_id?: unknown; name?: unknown; entity_count?: unknown }[])
    .filter((a) => typeof a.area_id === "string")
    .map((a) => ({
      value: a.area_id as string,
      label: typeof a.name === "string" && a.name ? a.name : (a.area_id as string),
      count: typeof a.entity_count === "number" ? a.entity_count : 0,
    }));
}

/** Loads the filter choices; on failure the filters simply stay without choices (the list reports errors). */
async function loadFacets(): Promise<void> {
  const token = $token.get().token;
  if (!token) return;
  const [domains, areas] = await Promise.all([
    domainFacets(token).catch(() => []),
    areaFacets(token).catch(() => []),
  ]);
  $entities.set({ ...$entities.get(), facets: { domains, areas } });
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
