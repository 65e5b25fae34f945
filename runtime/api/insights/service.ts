/**
 * Insights without Elysia's Context. Search, stats over 1 h / 24 h and traces read events.db on the API's
 * own insights connection (bounded, fast); stats over 7 d / 30 d, entity health and energy impact are kept
 * computed by the insights actor and fetched with `supervisor.call`.
 */

import type { HealthReport } from "../../../actors/insights/analyses.ts";
import type { EnergyReport } from "../../../actors/insights/energy.ts";
import { ACTOR, insightsRequest } from "../../../actors/insights/messages.ts";
import type { HomeIQConfig } from "../../config/schema.ts";
import { homeTimeZone, type LocalClock, localClock } from "../../kernel/local-time.ts";
import { errorMessage } from "../../kernel/log.ts";
import { type EventStats, STATS_WINDOWS, type StatsWindow } from "../../store/insights/stats.ts";
import {
  CursorError,
  type InsightsReader,
  openInsightsReader,
  SearchTermsError,
} from "../../store/insights-reader.ts";
import { storeExists } from "../../store/probe.ts";
import type { MetadataReader, SupervisorView } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { DEFAULT_SEARCH_SPAN_MS, type HEALTH_STATUSES } from "./model.ts";

const CALL_TIMEOUT_MS = 30_000;
/** Friendly names are re-read from metadata at most this often. */
const NAMES_TTL_MS = 60_000;
/** Bound on entities whose names are kept. */
const NAMES_MAX = 100_000;

export interface InsightsServiceDeps {
  config: HomeIQConfig;
  supervisor: SupervisorView;
  metadata?: MetadataReader;
  /** A reader to use instead of opening one on `config.dataDir` (tests). */
  insights?: InsightsReader;
}

export class InsightsService {
  private reader: InsightsReader | undefined;
  private names = new Map<string, string>();
  private namesAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly deps: InsightsServiceDeps,
    private readonly now: () => number,
  ) {
    this.reader = deps.insights;
  }

  /** Opened on first use: the batcher creates events.db when HomeIQ starts, after the API is built. */
  private open(): InsightsReader {
    if (this.reader) return this.reader;
    const { dataDir, insights } = this.deps.config;
    if (!storeExists(dataDir))
      throw new ApiError(503, "the event store is not created yet", {
        expected: "a running store; see GET /health",
      });
    this.reader = openInsightsReader(dataDir, insights, () => this.friendlyNames());
    return this.reader;
  }

  private friendlyNames(): ReadonlyMap<string, string> {
    const meta = this.deps.metadata;
    if (!meta || this.now() - this.namesAt < NAMES_TTL_MS) return this.names;
    const names = new Map<string, string>();
    try {
      let cursor: string | undefined;
      do {
        const page = meta.entities({ limit: 1000, ...(cursor ? { cursor } : {}) });
        for (const item of page.items) {
          const name = item.name;
          if (typeof item.entity_id === "string" && typeof name === "string" && name)
            names.set(item.entity_id, name);
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor && names.size < NAMES_MAX);
      this.names = names;
    } catch {
      // Names are a nicety: without metadata, search still matches ids and states.
    }
    this.namesAt = this.now();
    return this.names;
  }

  /** The home's zone: `suggestions.timeZone` if set, else HA's time_zone as metadata recorded it. */
  private homeClock(): LocalClock {
    let haZone: unknown;
    try {
      haZone = this.deps.metadata?.haConfig()?.time_zone;
    } catch {
      // Without metadata the system zone is the best guess.
    }
    return localClock(homeTimeZone(this.deps.config.suggestions.timeZone, haZone));
  }

  private async call<T>(body: unknown): Promise<T> {
    try {
      return (await this.deps.supervisor.call(ACTOR, body, CALL_TIMEOUT_MS)) as T;
    } catch (error) {
      throw new ApiError(503, `the insights actor did not answer: ${errorMessage(error)}`, {
        expected: "a running insights actor; see GET /health",
      });
    }
  }

  search(q: { q: string; from?: number; to?: number; domain?: string; cursor?: string; limit: number }) {
    const to = q.to ?? this.now();
    const from = q.from ?? Math.max(0, to - DEFAULT_SEARCH_SPAN_MS);
    if (from >= to)
      throw new ApiError(400, `invalid query.from: ${from} is not before query.to ${to}`, {
        field: "query.from",
        expected: "a time before query.to",
      });
    try {
      const page = this.open().search({
        q: q.q,
        from,
        to,
        limit: q.limit,
        cursor: q.cursor,
        domain: q.domain,
      });
      return { q: q.q, from, to, ...page };
    } catch (error) {
      if (error instanceof SearchTermsError)
        throw new ApiError(400, `invalid query.q: ${error.message}`, {
          field: "query.q",
          expected: `at most ${error.max} terms (HOMEIQ_INSIGHTS_SEARCH_TERMS_MAX); quote a phrase to make it one term`,
        });
      if (error instanceof CursorError)
        throw new ApiError(400, `invalid query.cursor: ${error.message}`, {
          field: "query.cursor",
          expected: "the nextCursor value of a previous page",
        });
      throw error;
    }
  }

  async stats(window: StatsWindow): Promise<EventStats & { window: StatsWindow; computedAt: number }> {
    if (window === "7d" || window === "30d") {
      const kept = await this.call<(EventStats & { computedAt: number }) | null>(
        insightsRequest.stats(window),
      );
      if (!kept)
        throw new ApiError(503, "the insights actor has no stats yet", { expected: "a moment's patience" });
      return { window, ...kept };
    }
    const now = this.now();
    const { spanMs, bucketMs } = STATS_WINDOWS[window];
    const stats = this.open().stats({
      from: now - spanMs,
      to: now,
      bucketMs,
      top: this.deps.config.insights.statsTop,
      clock: this.homeClock(),
    });
    return { window, computedAt: now, ...stats };
  }

  trace(ref: { id: string } | { entityId: string; ts: number }) {
    let trace: ReturnType<InsightsReader["trace"]>;
    try {
      trace = this.open().trace(ref);
    } catch (error) {
      if (error instanceof SearchTermsError)
        throw new ApiError(400, `invalid query.q: ${error.message}`, {
          field: "query.q",
          expected: `at most ${error.max} terms (HOMEIQ_INSIGHTS_SEARCH_TERMS_MAX); quote a phrase to make it one term`,
        });
      if (error instanceof CursorError)
        throw new ApiError(400, `invalid params.event_id: ${error.message}`, { field: "params.event_id" });
      throw error;
    }
    if (!trace)
      throw new ApiError(
        404,
        "id" in ref
          ? `no stored event has id ${ref.id}`
          : `no stored event of ${ref.entityId} at or before ${ref.ts}`,
        "id" in ref ? { field: "params.event_id" } : { field: "query.ts" },
      );
    return trace;
  }

  async health(q: { status?: (typeof HEALTH_STATUSES)[number]; cursor?: string; limit: number }) {
    const report = await this.call<HealthReport | null>(insightsRequest.health());
    if (!report) throw new ApiError(503, "the insights actor has not judged health yet");
    const all =
      q.status && q.status !== "all"
        ? report.unhealthy.filter((v) => v.status === q.status)
        : report.unhealthy;
    const offset = q.cursor ? Number(q.cursor) : 0;
    const items = all.slice(offset, offset + q.limit);
    const next = offset + items.length;
    return {
      computedAt: report.computedAt,
      entities: report.entities,
      counts: report.counts,
      items,
      total: all.length,
      nextCursor: next < all.length ? String(next) : null,
    };
  }

  async energy(q: { limit: number }) {
    const report = await this.call<(EnergyReport & { computedAt: number }) | null>(insightsRequest.energy());
    if (!report) throw new ApiError(503, "the insights actor has not measured energy yet");
    return { ...report, devices: report.devices.slice(0, q.limit), totalDevices: report.devices.length };
  }
}
