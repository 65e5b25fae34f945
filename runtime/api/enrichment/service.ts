/**
 * Enrichment status and history for the API, without Elysia: each source's latest values come from its
 * actor (`call({type: "latest"})`), history from the store's read API when it offers enrichment series.
 */

import type { SourceStatus } from "../../../actors/enricher/logic.ts";
import { enricherActor, enricherMessage } from "../../../actors/enricher/messages.ts";
import type { Reading } from "../../../actors/enricher/source.ts";
import { ENRICHERS } from "../../../actors/enricher/sources/index.ts";
import { errorMessage } from "../../kernel/log.ts";
import type { ApiDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import type { SourceView } from "./model.ts";

/** The store's read API for enrichment series (`openStoreReader`); optional until the store offers it. */
export interface EnrichmentHistoryReader {
  enrichmentHistory(
    source: string,
    query: { metric?: string; from: number; to: number; limit: number },
  ): { points: Reading[] };
}

export interface EnrichmentDeps extends Pick<ApiDeps, "config" | "supervisor"> {
  history?: EnrichmentHistoryReader;
}

/** The store reader, when it offers enrichment series (duck-typed: the method is the contract). */
export function historyReader(store: unknown): EnrichmentHistoryReader | undefined {
  return typeof (store as Partial<EnrichmentHistoryReader> | null)?.enrichmentHistory === "function"
    ? (store as EnrichmentHistoryReader)
    : undefined;
}

const CALL_TIMEOUT_MS = 2000;
const DAY = 24 * 3600_000;

const empty = (source: string, enabled: boolean, health: SourceView["health"]): SourceView => ({
  source,
  enabled,
  health,
  stale: false,
  ageMs: null,
  fetchedAt: null,
  values: [],
  lastError: null,
  breaker: "closed",
  consecutiveFailures: 0,
});

/** Every known source: latest values, stale flag, age and last error; disabled ones listed as such. */
export async function overview(deps: EnrichmentDeps): Promise<{ sources: SourceView[] }> {
  const running = new Set(
    deps.supervisor
      .status()
      .filter((s) => s.state === "running")
      .map((s) => s.name),
  );
  const sources = await Promise.all(
    ENRICHERS.map(async ([source, enabled]): Promise<SourceView> => {
      if (!enabled(deps.config)) return empty(source, false, "disabled");
      const actor = enricherActor(source);
      if (!running.has(actor)) return empty(source, true, "not-running");
      try {
        const status = (await deps.supervisor.call(
          actor,
          enricherMessage.latest(),
          CALL_TIMEOUT_MS,
        )) as SourceStatus;
        return { ...status, enabled: true };
      } catch (error) {
        return {
          ...empty(source, true, "not-running"),
          lastError: { reason: "no-answer", detail: errorMessage(error), at: Date.now() },
        };
      }
    }),
  );
  return { sources };
}

export function history(
  deps: EnrichmentDeps,
  source: string,
  query: { metric?: string; from?: number; to?: number; limit?: number },
  now: number,
): { source: string; points: Reading[] } {
  if (!ENRICHERS.some(([name]) => name === source))
    throw new ApiError(404, `no enrichment source "${source}"`, {
      field: "params.source",
      expected: `one of ${ENRICHERS.map(([n]) => n).join(", ")}`,
    });
  if (!deps.history)
    throw new ApiError(
      501,
      "enrichment history is not available: the store does not offer enrichment series yet",
    );
  const to = query.to ?? now;
  const from = query.from ?? to - DAY;
  if (from >= to)
    throw new ApiError(400, "invalid query.from: must be before query.to", {
      field: "query.from",
      expected: `a time before ${to}`,
    });
  const limit = query.limit ?? deps.config.api.pageMax;
  return {
    source,
    points: deps.history.enrichmentHistory(source, { metric: query.metric, from, to, limit }).points,
  };
}
