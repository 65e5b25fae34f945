/**
 * The insights endpoints for the dashboard, through the same Eden treaty client as api.ts (typed by the
 * server's `App`) and the same error rules: `{error, expected}` bodies become one sentence, 401 marks the
 * token rejected. Kept beside api.ts so the insights view lands without touching the shared call table.
 */
import { createClient } from "../../runtime/api/client.ts";
import { ApiError, apiBase, bearerFor } from "./api.ts";
import { rejectToken } from "./stores/token.ts";

type EdenResult<T> = { data: T | null; error: { status: unknown; value: unknown } | null };

async function unwrap<T>(call: Promise<EdenResult<T>>): Promise<NonNullable<T>> {
  let result: EdenResult<T>;
  try {
    result = await call;
  } catch (error) {
    throw new ApiError(0, `HomeIQ is unreachable: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (result.error) {
    const status = typeof result.error.status === "number" ? result.error.status : 0;
    if (status === 401) {
      rejectToken();
      throw new ApiError(401, "The API token was rejected.");
    }
    const body = result.error.value as { error?: unknown; expected?: unknown } | null;
    const text =
      body && typeof body.error === "string"
        ? typeof body.expected === "string"
          ? `${body.error} (expected ${body.expected})`
          : body.error
        : `HTTP ${status}`;
    throw new ApiError(status, text);
  }
  if (result.data === null || result.data === undefined) throw new ApiError(0, "HomeIQ sent an empty answer");
  return result.data as NonNullable<T>;
}

const insights = (token: string) => createClient(apiBase(), bearerFor(token)).api.v1.insights;

export const insightsApi = {
  health: (token: string) => unwrap(insights(token).health.get({ query: { limit: 200 } })),
  energy: (token: string) => unwrap(insights(token).energy.get({ query: { limit: 20 } })),
  stats: (token: string, window: "1h" | "24h" | "7d" | "30d") =>
    unwrap(insights(token).stats.get({ query: { window } })),
  search: (token: string, query: { q: string; cursor?: string }) =>
    unwrap(insights(token).search.get({ query: { ...query, limit: 50 } })),
  trace: (token: string, eventId: string) => unwrap(insights(token).trace({ event_id: eventId }).get()),
};
