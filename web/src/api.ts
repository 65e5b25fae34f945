/**
 * The dashboard's only door to HomeIQ. Requests go through the Eden treaty client typed by the server's
 * `App` (a type-only import: no server code reaches the bundle); the live stream is read separately by
 * `sse.ts` because it needs streaming.
 *
 * Every call resolves to data or throws `ApiError` with the HTTP status and the server's message;
 * a 401 also marks the token rejected so the token form reappears.
 */
import type { DeepHealth } from "../../actors/api/health/model.ts";
import type { RealTimeMetrics } from "../../actors/api/metrics/model.ts";
import { rejectToken } from "./stores/token.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const apiBase = (): string => (typeof location === "undefined" ? "http://127.0.0.1" : location.origin);

type Query = Record<string, string | number | undefined | null>;

async function get<T>(token: string, path: string, query: Query = {}, okStatuses: number[] = []): Promise<T> {
  const url = new URL(path, apiBase());
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  let response: Response;
  try {
    response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  } catch (error) {
    throw new ApiError(0, `HomeIQ is unreachable: ${error instanceof Error ? error.message : String(error)}`);
  }
  const body = await response.json().catch(() => null);
  if (response.status === 401) {
    rejectToken();
    throw new ApiError(401, "The API token was rejected.");
  }
  if (!response.ok && !okStatuses.includes(response.status))
    throw new ApiError(response.status, errorText(body, response.status));
  return body as T;
}

/** The API's error body is `{error, field?, expected?, requestId}`: show what and how to fix. */
function errorText(body: unknown, status: number): string {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    if (typeof b.error === "string")
      return typeof b.expected === "string" ? `${b.error} (expected ${b.expected})` : b.error;
  }
  return `HTTP ${status}`;
}

export const api = {
  metrics: (token: string) => get<RealTimeMetrics>(token, "/api/v1/real-time-metrics"),
  /** 503 still carries the report (an actor has failed for good). */
  deepHealth: (token: string) => get<DeepHealth>(token, "/health/deep", {}, [503]),
  entities: (token: string, query: Query) => get<unknown>(token, "/api/v1/entities", query),
  devices: (token: string) => get<unknown>(token, "/api/v1/devices"),
  entity: (token: string, entityId: string) =>
    get<unknown>(token, `/api/v1/entities/${encodeURIComponent(entityId)}`),
  history: (token: string, entityId: string, query: Query) =>
    get<unknown>(token, `/api/v1/entities/${encodeURIComponent(entityId)}/history`, query),
  streamUrl: (query: Query = {}) => {
    const url = new URL("/api/v1/stream", apiBase());
    for (const [k, v] of Object.entries(query)) if (v) url.searchParams.set(k, String(v));
    return url.toString();
  },
};
