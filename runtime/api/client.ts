/**
 * The typed API client (Eden treaty): every route, query and response type comes from the server's own
 * route chain, so the dashboard and the tests break at compile time when the API changes.
 *
 * @example
 * const api = createClient("http://localhost:8787", token);
 * const { data, error } = await api.api.v1.events.get({ query: { domain: "light", limit: 50 } });
 * const { data: entity } = await api.api.v1.entities({ entity_id: "light.kitchen" }).get();
 */
import { treaty } from "@elysiajs/eden";
import type { App } from "./app.ts";

export type { App } from "./app.ts";

/** `token` null sends no Authorization header (the dashboard under HA ingress, which HA authenticates). */
export function createClient(baseUrl: string, token: string | null) {
  return treaty<App>(baseUrl, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
}

export type Client = ReturnType<typeof createClient>;
