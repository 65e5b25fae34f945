/**
 * One enricher at work: polls its source on its schedule, caches responses (TTL + LRU bound), serves the
 * last good value marked stale while it revalidates, backs off and trips its breaker on failure, and hands
 * new readings to the store and latest values to the webhook dispatcher. The rules live in logic.ts; this
 * class only sequences I/O around them. Nothing here throws out of a poll.
 */

import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { Clock, Random } from "../../runtime/kernel/clock.ts";
import { errorMessage, type Logger } from "../../runtime/kernel/log.ts";
import type { Counter, Gauge, Registry } from "../../runtime/kernel/metrics.ts";
import { TtlLruCache } from "./cache.ts";
import { type FetchFailure, fetchJson } from "./fetch.ts";
import {
  beginFetch,
  breakerWaitMs,
  type EnricherPolicy,
  type EnricherState,
  initialState,
  type LogEffect,
  mayFetch,
  onFailure,
  onSuccess,
  type SourceStatus,
  statusView,
} from "./logic.ts";
import {
  type EnrichmentBatch,
  type EnrichmentUpdate,
  enrichmentBatch,
  enrichmentUpdate,
} from "./messages.ts";
import { cacheKey, type EnricherSource, type Location, type Reading } from "./source.ts";

export interface EnricherDeps {
  source: EnricherSource;
  config: HomeIQConfig;
  clock: Clock;
  log: Logger;
  random?: Random;
  metrics?: Registry;
  fetch?: typeof fetch;
  /** Hands new readings to the store (awaits mailbox credit). Absent when the edge is not wired. */
  store?: (batch: EnrichmentBatch) => Promise<void>;
  /** Offers a latest value to the webhook dispatcher; returns false when it was dropped (receiver full). */
  announce?: (update: EnrichmentUpdate) => boolean;
}

interface EnricherMetrics {
  ok: Counter;
  failures: (reason: string) => Counter;
  stored: Counter;
  dropped: Counter;
  breakerOpen: Gauge;
  cacheEntries: Gauge;
  cacheEvictions: Counter;
  lastSuccess: Gauge;
}

export class Enricher {
  readonly source: EnricherSource;
  readonly policy: EnricherPolicy;
  private state: EnricherState = initialState();
  private readonly cache: TtlLruCache<string, Reading[]>;
  private location: Location | undefined;
  private readonly locationFixed: boolean;
  private inflight: Promise<void> | null = null;
  private rerun: { force: boolean } | null = null;
  private timer: unknown;
  private running = false;
  /** Set by stop(): a request still in flight is aborted and its outcome discarded. */
  private stopped = false;
  private abort: AbortController | null = null;
  private readonly m: EnricherMetrics | undefined;

  constructor(private readonly deps: EnricherDeps) {
    this.source = deps.source;
    const e = deps.config.enrichers;
    const s = deps.source.settings(deps.config);
    this.policy = {
      pollMs: s.pollMs,
      ttlMs: s.ttlMs,
      retryMinMs: e.retryMinMs,
      retryMaxMs: e.retryMaxMs,
      breakerThreshold: e.breakerThreshold,
      breakerCooldownMs: e.breakerCooldownMs,
      errorLogIntervalMs: e.errorLogIntervalMs,
    };
    this.cache = new TtlLruCache({ ttlMs: s.ttlMs, maxEntries: e.cacheMaxEntries });
    this.locationFixed = e.latitude !== undefined && e.longitude !== undefined;
    if (this.locationFixed) this.location = { latitude: e.latitude!, longitude: e.longitude! };
    this.m = deps.metrics && createMetrics(deps.metrics, e.cacheMaxEntries);
  }

  /** True while the source needs a location and has none (HA's get_config not yet forwarded). */
  get waitingForLocation(): boolean {
    return this.source.needsLocation && !this.location;
  }

  /** Starts the schedule with an immediate poll. */
  start(): void {
    this.running = true;
    this.schedule(0);
  }

  /** Stops the schedule and waits for a request in flight to settle. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    if (this.timer !== undefined) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    await this.inflight;
  }

  /** Sets the home's location (from HA); a config override wins. A new location polls at once. */
  setLocation(location: Location): void {
    if (!this.source.needsLocation) return;
    if (this.locationFixed) {
      this.deps.log.debug("location from Home Assistant ignored: overridden in config", {
        source: this.source.name,
      });
      return;
    }
    const changed = cacheKey(location) !== cacheKey(this.location);
    this.location = location;
    if (changed && this.running) this.schedule(0);
  }

  /**
   * One poll: serves a fresh cache entry without a request; otherwise fetches (unless the breaker is open),
   * stores new readings and reschedules. Concurrent calls share one request.
   */
  poll(force = false): Promise<void> {
    if (this.inflight) {
      // A poll asked for while one runs (new location, refresh) runs right after it, never in parallel.
      this.rerun = { force: force || (this.rerun?.force ?? false) };
      return this.inflight;
    }
    this.inflight = this.pollOnce(force).finally(() => {
      this.inflight = null;
      const again = this.rerun;
      this.rerun = null;
      if (again && this.running) void this.poll(again.force);
    });
    return this.inflight;
  }

  /** Latest values with staleness; a stale value triggers a background refresh (stale-while-revalidate). */
  latest(): SourceStatus {
    const now = this.deps.clock.now();
    const hit =
      this.location || !this.source.needsLocation ? this.cache.peek(cacheKey(this.location), now) : undefined;
    if (hit && !hit.fresh && this.running && !this.inflight && mayFetch(this.state, now)) void this.poll();
    return statusView(this.source.name, this.state, hit, now, this.waitingForLocation);
  }

  /** For tests and metrics: the cache's current size and bound. */
  cacheStats(): { size: number; maxEntries: number; evictions: number } {
    return { size: this.cache.size, maxEntries: this.cache.maxEntries, evictions: this.cache.evictions };
  }

  private async pollOnce(force: boolean): Promise<void> {
    try {
      if (this.stopped || this.waitingForLocation) return; // setLocation polls once HA's location arrives
      const now = this.deps.clock.now();
      const key = cacheKey(this.location);
      const hit = this.cache.get(key, now);
      if (hit?.fresh && !force) return this.schedule(this.policy.ttlMs - hit.ageMs);
      if (!mayFetch(this.state, now)) return this.schedule(breakerWaitMs(this.state, now));
      this.state = beginFetch(this.state, now);
      const outcome = await this.request(now);
      if (this.stopped) return; // shutting down: neither a failure to log nor readings to send
      const done = this.deps.clock.now();
      if ("failure" in outcome) return this.fail(done, outcome.failure);
      this.cache.set(key, outcome.readings, done);
      this.m?.cacheEntries.set(this.cache.size);
      this.m?.cacheEvictions.inc(this.cache.evictions - this.m.cacheEvictions.value);
      await this.succeed(done, outcome.readings);
    } catch (error) {
      // A bug in a parser or a send must not stop the schedule: count it as a failure of this poll.
      this.fail(this.deps.clock.now(), {
        reason: "changed-schema",
        detail: `unexpected: ${errorMessage(error)}`,
      });
    }
  }

  private async request(now: number): Promise<{ readings: Reading[] } | { failure: FetchFailure }> {
    const e = this.deps.config.enrichers;
    const url = this.source.request(this.deps.config, this.location, now);
    this.abort = new AbortController();
    const fetched = await fetchJson(url, {
      timeoutMs: e.timeoutMs,
      maxBytes: e.maxResponseBytes,
      fetch: this.deps.fetch,
      signal: this.abort.signal,
    });
    this.abort = null;
    if (!fetched.ok) return { failure: fetched.failure };
    const parsed = this.source.parse(fetched.json, now);
    if (!parsed.ok) return { failure: { reason: "changed-schema", detail: parsed.detail } };
    if (parsed.readings.length === 0)
      return { failure: { reason: "changed-schema", detail: "the response holds no values" } };
    return { readings: parsed.readings };
  }

  private async succeed(now: number, readings: Reading[]): Promise<void> {
    const r = onSuccess(this.state, now, readings, this.policy, this.source.name);
    this.state = r.state;
    this.m?.ok.inc();
    this.m?.breakerOpen.set(0);
    this.m?.lastSuccess.set(now / 1000);
    this.emitLog(r.log);
    if (r.store.length > 0 && this.deps.store) {
      await this.deps.store(enrichmentBatch(this.source.name, r.store));
      this.m?.stored.inc(r.store.length);
    }
    for (const reading of r.announce) {
      if (this.deps.announce && !this.deps.announce(enrichmentUpdate(this.source.name, reading)))
        this.m?.dropped.inc();
    }
    this.schedule(r.delayMs);
  }

  private fail(now: number, failure: FetchFailure): void {
    const r = onFailure(
      this.state,
      now,
      failure,
      this.policy,
      this.source.name,
      this.deps.random ?? Math.random,
    );
    this.state = r.state;
    this.m?.failures(failure.reason).inc();
    this.m?.breakerOpen.set(r.state.breaker.state === "open" ? 1 : 0);
    this.emitLog(r.log);
    this.schedule(r.delayMs);
  }

  private emitLog(effect: LogEffect | null): void {
    if (effect) this.deps.log[effect.level](effect.msg, effect.fields);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer !== undefined) this.deps.clock.clearTimeout(this.timer);
    this.timer = this.deps.clock.setTimeout(
      () => {
        this.timer = undefined;
        void this.poll();
      },
      Math.max(0, delayMs),
    );
  }
}

function createMetrics(registry: Registry, maxEntries: number): EnricherMetrics {
  const failures = new Map<string, Counter>();
  registry.gauge("enricher_cache_max_entries", "Bound of each enricher's response cache").set(maxEntries);
  return {
    ok: registry.counter("enricher_requests_ok_total", "API requests that returned valid data"),
    failures: (reason) => {
      let c = failures.get(reason);
      if (!c) {
        c = registry.counter("enricher_failures_total", "Failed API requests, by reason", { reason });
        failures.set(reason, c);
      }
      return c;
    },
    stored: registry.counter("enricher_readings_stored_total", "Readings sent to the store"),
    dropped: registry.counter(
      "enricher_updates_dropped_total",
      "Latest values not offered to the webhook dispatcher because it was full",
    ),
    breakerOpen: registry.gauge("enricher_breaker_open", "1 while the source's circuit breaker is open"),
    cacheEntries: registry.gauge("enricher_cache_entries", "Responses in the enricher's cache"),
    cacheEvictions: registry.counter(
      "enricher_cache_evictions_total",
      "Cache entries evicted by the LRU bound",
    ),
    lastSuccess: registry.gauge(
      "enricher_last_success_timestamp_seconds",
      "When the source last returned valid data",
    ),
  };
}
