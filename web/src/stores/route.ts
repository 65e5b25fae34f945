/**
 * The current view, kept in the URL hash (`#/entities/sensor.kitchen_temperature`) so views are
 * linkable and the back button works.
 */
import { atom, onMount } from "nanostores";

export const VIEWS = [
  "overview",
  "live",
  "entities",
  "entity",
  "webhooks",
  "enrichment",
  "insights",
  "suggestions",
] as const;
export type View = (typeof VIEWS)[number];

export interface Route {
  view: View;
  /** For `entity`: the entity id. */
  param: string | null;
}

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/");
  const view = (VIEWS as readonly string[]).includes(parts[0] ?? "") ? (parts[0] as View) : "overview";
  const param = parts[1] ? decodeURIComponent(parts.slice(1).join("/")) : null;
  if (view === "entity" && !param) return { view: "entities", param: null };
  return { view, param };
}

export function hrefFor(view: View, param?: string): string {
  return param ? `#/${view}/${encodeURIComponent(param)}` : `#/${view}`;
}

export const $route = atom<Route>(parseHash(typeof location === "undefined" ? "" : location.hash));

onMount($route, () => {
  const update = () => $route.set(parseHash(location.hash));
  update();
  window.addEventListener("hashchange", update);
  return () => window.removeEventListener("hashchange", update);
});

export function navigate(view: View, param?: string): void {
  location.hash = hrefFor(view, param);
}
