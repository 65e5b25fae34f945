/**
 * The dashboard's only door to HomeIQ: the Eden treaty client from `runtime/api/client.ts`, typed by the
 * server's `App` (client.ts imports the server with `import type` only, so no server code reaches the
 * bundle). The live stream is read separately by `sse.ts`, which needs streaming.
 *
 * Every call resolves to data or throws `ApiError` with the HTTP status and the server's message
 * (`{error, expected}` bodies become one sentence); a 401 also marks the token rejected so the token
 * form reappears.
 */
import { type Client, createClient } from "../../runtime/api/client.ts";
import { INGRESS_TOKEN, rejectToken } from "./stores/token.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/**
 * The dashboard is served by the API (or proxied to it by Vite in development), so the API lives in the
 * page's own directory: `document.baseURI` (the server's `<base href>` under HA ingress) resolved to its
 * folder. At the root that is the origin; under HA ingress it is `<origin>/api/hassio_ingress/<token>`,
 * so no call ever leaves the path prefix (HA's own `/api/...` is next door). No trailing slash: Eden
 * appends `/api/v1/...`.
 */
export function apiBase(): string {
  const page =
    typeof document !== "undefined"
      ? document.baseURI
      : typeof location !== "undefined"
        ? (location.href ?? `${location.origin}/`)
        : "http://127.0.0.1/";
  return new URL(".", page).href.replace(/\/$/, "");
}

/** The bearer token to send, or null under HA ingress, where the Supervisor has authenticated the user. */
export const bearerFor = (token: string): string | null => (token === INGRESS_TOKEN ? null : token);

let cached: { token: string; client: Client } | null = null;

function client(token: string): Client {
  if (cached?.token !== token) cached = { token, client: createClient(apiBase(), bearerFor(token)) };
  return cached.client;
}

/** The API's error body is `{error, field?, expected?, requestId}`: say what, and how to fix it. */
function errorText(value: unknown, status: number): string {
  if (value && typeof value === "object") {
    const b = value as Record<string, unknown>;
    if (typeof b.error === "string")
      return typeof b.expected === "string" && !b.error.includes(b.expected)
        ? `${b.error} (expected ${b.expected})`
        : b.error;
  }
  if (typeof value === "string" && value !== "") return value;
  return status === 0 ? "HomeIQ is unreachable" : `HTTP ${status}`;
}

type EdenResult<T> = { data: T | null; error: { status: unknown; value: unknown } | null };

/** Unwraps an Eden answer; statuses in `accept` count as data (e.g. /health/deep's 503 report). */
async function unwrap<T>(call: Promise<EdenResult<T>>, accept: number[] = []): Promise<NonNullable<T>> {
  let result: EdenResult<T>;
  try {
    result = await call;
  } catch (error) {
    throw new ApiError(0, `HomeIQ is unreachable: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (result.error) {
    const status = typeof result.error.status === "number" ? result.error.status : 0;
    if (accept.includes(status) && result.error.value) return result.error.value as NonNullable<T>;
    if (status === 401) {
      rejectToken();
      throw new ApiError(401, "The API token was rejected.");
    }
    throw new ApiError(status, errorText(result.error.value, status));
  }
  if (result.data === null || result.data === undefined) throw new ApiError(0, "HomeIQ sent an empty answer");
  return result.data as NonNullable<T>;
}

/** A webhook rule as submitted (the dispatcher's own schema, shared with the API body). */
export type WebhookInput = Parameters<Client["api"]["v1"]["webhooks"]["post"]>[0];

export interface EntitiesParams {
  q?: string;
  domain?: string;
  area?: string;
  cursor?: string;
  limit?: number;
}

/** Drops empty filters: the API treats an absent filter as "all", an empty one as invalid. */
function defined<T extends object>(query: T): T {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== "")) as T;
}

export const api = {
  metrics: (token: string) => unwrap(client(token).api.v1["real-time-metrics"].get()),
  deepHealth: (token: string) => unwrap(client(token).health.deep.get(), [503]),
  entities: (token: string, query: EntitiesParams) =>
    unwrap(client(token).api.v1.entities.get({ query: defined(query) })),
  areas: (token: string) => unwrap(client(token).api.v1.areas.get()),
  entity: (token: string, entityId: string) =>
    unwrap(client(token).api.v1.entities({ entity_id: entityId }).get()),
  history: (
    token: string,
    entityId: string,
    query: { from: number; to: number; resolution: "auto" | "raw" | "hourly" | "daily" },
  ) => unwrap(client(token).api.v1.entities({ entity_id: entityId }).history.get({ query })),
  /** The newest stored event of one entity: its current state and attributes. */
  latestEvent: (token: string, entityId: string) =>
    unwrap(client(token).api.v1.events.get({ query: { entity_id: entityId, limit: 1 } })).then(
      (page) => page.items[0] ?? null,
    ),
  historyImport: (token: string) => unwrap(client(token).api.v1.import.history.get(), [503]),
  enrichment: (token: string) => unwrap(client(token).api.v1.enrichment.get()),
  webhooks: (token: string) => unwrap(client(token).api.v1.webhooks.get()),
  createWebhook: (token: string, body: WebhookInput) => unwrap(client(token).api.v1.webhooks.post(body)),
  updateWebhook: (token: string, id: string, body: Partial<WebhookInput>) =>
    unwrap(client(token).api.v1.webhooks({ id }).patch(body)),
  deleteWebhook: (token: string, id: string) =>
    unwrap(
      client(token)
        .api.v1.webhooks({ id })
        .delete()
        .then((r) => ({ ...r, data: r.data ?? true })),
    ),
  testWebhook: (token: string, id: string) => unwrap(client(token).api.v1.webhooks({ id }).test.post()),
  deliveries: (token: string, id: string) =>
    unwrap(
      client(token)
        .api.v1.webhooks({ id })
        .deliveries.get({ query: { limit: 20 } }),
    ),
  suggestions: (token: string, status: "open" | "accepted" | "dismissed" | "all") =>
    unwrap(client(token).api.v1.suggestions.get({ query: { status } })),
  mineSuggestions: (token: string) => unwrap(client(token).api.v1.suggestions.post()),
  decideSuggestion: (token: string, id: string, decision: "accept" | "dismiss") =>
    unwrap(
      decision === "accept"
        ? client(token).api.v1.suggestions({ id }).accept.post()
        : client(token).api.v1.suggestions({ id }).dismiss.post(),
    ),
  streamUrl: (): string => `${apiBase()}/api/v1/stream`,
};
