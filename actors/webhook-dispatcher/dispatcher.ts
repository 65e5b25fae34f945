/**
 * The dispatcher: evaluates rules on what arrives, records each match as a pending delivery in
 * webhooks.db (in the same transaction as the evaluation state and the batch key, so a re-sent batch
 * never makes a second delivery), then POSTs pending deliveries with retries, a per-target concurrency
 * limit and a per-target circuit breaker. Clock, randomness and fetch are injected; the worker is a thin
 * adapter around this class, and tests re-open it on the same database to simulate a restart.
 */
import { randomUUID } from "node:crypto";
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { EventSource, StateChange } from "../../runtime/events/messages.ts";
import { type EventView, viewOf } from "../../runtime/events/packed.ts";
import type { Clock, Random } from "../../runtime/kernel/clock.ts";
import { errorMessage, type Logger } from "../../runtime/kernel/log.ts";
import type { Registry } from "../../runtime/kernel/metrics.ts";
import { Breaker, decide, type Outcome, retryable } from "./delivery.ts";
import { type Fire, Matcher, ruleKey } from "./logic.ts";
import type { EnrichmentMessage, HealthMessage } from "./messages.ts";
import { deliveryBody, deliveryId, iso } from "./payload.ts";
import type { Rule } from "./rules.ts";
import { type FetchLike, sendSigned } from "./send.ts";
import type { DeliveryRow, NewDelivery, WebhookStore } from "./store.ts";
import { type Lookup, systemLookup, type TargetPolicy } from "./targets.ts";

export { deliveryBody, deliveryId } from "./payload.ts";
export type { FetchLike } from "./send.ts";

export type WebhookConfig = HomeIQConfig["webhooks"];

export interface DispatcherOptions {
  store: WebhookStore;
  config: WebhookConfig;
  clock: Clock;
  random: Random;
  fetch: FetchLike;
  /** Where webhooks may go (targets.ts): built from ha.url / the simulator and webhooks.allowHosts. */
  targets: TargetPolicy;
  /** Name resolution at send time; node:dns by default. */
  lookup?: Lookup;
  metrics: Registry;
  log: Logger;
  /**
   * Stored changes with last_updated >= `fromUs`, oldest first (see catch-up.ts): evaluated at start, so
   * changes stored but never evaluated before a crash still fire.
   */
  catchUp?: (fromUs: number, max: number) => { batches: StateChange[][]; truncated: boolean };
}

interface Pending {
  id: string;
  ruleId: string;
  event: string;
  body: string;
  attempts: number;
  createdAt: number;
  nextAt: number;
  inFlight: boolean;
  /** When the match was committed (this process only), for the match-to-POST histogram. */
  matchedAt?: number;
}

interface Target {
  inFlight: number;
  breaker: Breaker;
}

export interface TestFireResult {
  deliveryId: string;
  ok: boolean;
  status: number | null;
  error: string | null;
  latencyMs: number;
}

export class Dispatcher {
  private readonly matcher: Matcher;
  private rules = new Map<string, Rule>();
  private readonly pending = new Map<string, Pending>();
  private readonly targets = new Map<string, Target>();
  private readonly inFlight = new Set<Promise<void>>();
  private timer: unknown;
  private timerAt = Number.POSITIVE_INFINITY;
  private stopped = false;
  private commits = 0;
  private skippedSeen = 0;
  private skippedSourceSeen = 0;
  private skippedStaleSeen = 0;
  private readonly m;

  constructor(private readonly o: DispatcherOptions) {
    this.matcher = new Matcher(o.config.matchCacheMax);
    const r = o.metrics;
    this.m = {
      fired: r.counter("webhooks_fired_total", "Rule matches recorded as deliveries"),
      delivered: r.counter("webhooks_delivered_total", "Deliveries a target accepted (2xx)"),
      retried: r.counter("webhooks_retried_total", "Failed attempts scheduled for a retry"),
      dead: r.counter("webhooks_dead_lettered_total", "Deliveries given up on and moved to dead letters"),
      duplicate: r.counter("webhooks_duplicate_batches_total", "Re-sent batches skipped: already evaluated"),
      caughtUp: r.counter(
        "webhooks_catch_up_events_total",
        "Stored changes read back from events.db at start (stored but not yet evaluated before a crash)",
      ),
      skipped: r.counter(
        "webhooks_events_skipped_total",
        "State changes not evaluated: not newer than their entity's last evaluated change",
      ),
      firesSkippedSource: r.counter(
        "webhooks_fires_skipped_total",
        "Rule matches not fired, by reason: source (a snapshot, backfilled or imported change the rule does not select), stale (a live change older than webhooks.maxEventAgeMs)",
        { reason: "source" },
      ),
      firesSkippedStale: r.counter(
        "webhooks_fires_skipped_total",
        "Rule matches not fired, by reason: source (a snapshot, backfilled or imported change the rule does not select), stale (a live change older than webhooks.maxEventAgeMs)",
        { reason: "stale" },
      ),
      maxEventAge: r.gauge(
        "webhooks_max_event_age_ms",
        "Live changes older than this fire no webhook (webhooks.maxEventAgeMs; 0: no bound)",
      ),
      latency: r.histogram("webhook_latency_ms", "Time from sending a webhook POST to its response"),
      dispatch: r.histogram(
        "webhook_dispatch_delay_ms",
        "Time from a rule match to its first POST being sent",
      ),
      pending: r.gauge("webhooks_pending", "Deliveries waiting to be sent or retried"),
      pendingMax: r.gauge("webhooks_pending_max", "Bound on pending deliveries (webhooks.maxPending)"),
      rules: r.gauge("webhooks_rules", "Enabled rules being evaluated"),
      breakersOpen: r.gauge("webhooks_breakers_open", "Target hosts whose circuit breaker is open"),
      refused: r.counter(
        "webhooks_targets_refused_total",
        "Sends refused by the target policy (host not allowed, or resolved to an address webhooks may not reach)",
      ),
      truncated: r.counter(
        "webhooks_responses_truncated_total",
        "Webhook answers longer than webhooks.responseMaxBytes, cut off unread",
      ),
      responseMax: r.gauge(
        "webhooks_response_max_bytes",
        "Bound on the bytes of a webhook answer read (webhooks.responseMaxBytes)",
      ),
    };
    this.m.pendingMax.set(o.config.maxPending);
    this.m.responseMax.set(o.config.responseMaxBytes);
    this.m.maxEventAge.set(o.config.maxEventAgeMs);
  }

  /** Loads rules, evaluation state and pending deliveries (a restart resumes them with their ids). */
  start(): void {
    const state = this.o.store.loadState();
    this.matcher.restore(state.seen, state.sides, state.watermarkUs);
    this.reloadRules();
    for (const row of this.o.store.pending()) this.track(row);
    this.catchUp(state.watermarkUs);
    this.o.store.prune(this.o.config.logMax, this.o.config.deadLetterMax, this.processedMax());
    this.pump();
  }

  private catchUp(watermarkUs: number): void {
    if (!this.o.catchUp || watermarkUs === 0) return;
    const { batches, truncated } = this.o.catchUp(watermarkUs, this.o.config.catchUpMaxEvents);
    let events = 0;
    for (const batch of batches) {
      events += batch.length;
      // events.db does not record where a change came from: caught-up changes are judged as live ones,
      // so after a short crash they fire, and after a long outage (older than maxEventAgeMs) they do not.
      this.onStored(batch, "live");
    }
    this.m.caughtUp.inc(events);
    if (truncated)
      this.o.log.warn(
        "catch-up from events.db stopped at webhooks.catchUpMaxEvents; older changes not evaluated",
        {
          max: this.o.config.catchUpMaxEvents,
        },
      );
  }

  reloadRules(): number {
    const rules = this.o.store.rules();
    this.rules = new Map(rules.map((r) => [r.id, r]));
    this.matcher.setRules(rules);
    this.o.store.pruneRuleState(rules.map(ruleKey));
    const enabled = rules.filter((r) => r.enabled).length;
    this.m.rules.set(enabled);
    this.pump(); // pending deliveries of a deleted rule become dead letters now, not at the next event
    return enabled;
  }

  /**
   * Evaluates a batch the batcher stored, all from `source`. Idempotent: a batch seen before (same first
   * event) is skipped. Rules fire for live changes younger than webhooks.maxEventAgeMs, and for snapshot or
   * backfilled changes only when they select that source (logic.ts).
   */
  onStored(events: readonly StateChange[] | EventView, source: EventSource = "live"): void {
    const view = Array.isArray(events) ? viewOf(events as readonly StateChange[]) : (events as EventView);
    if (view.n === 0) return;
    const key = `s:${view.entityId(0)}@${view.lastUpdated(0)}`;
    if (this.o.store.wasProcessed(key)) {
      this.m.duplicate.inc();
      return;
    }
    const fires: Fire[] = [];
    this.matcher.matchStates(view, fires, {
      source,
      nowMs: this.o.clock.now(),
      maxAgeMs: this.o.config.maxEventAgeMs,
    });
    this.commit(key, fires);
  }

  onEnrichment(msg: EnrichmentMessage): void {
    const key = `e:${msg.source}/${msg.metric}@${msg.ts}`;
    if (this.o.store.wasProcessed(key)) {
      this.m.duplicate.inc();
      return;
    }
    const fires: Fire[] = [];
    this.matcher.matchEnrichment(msg.source, msg.metric, msg.value, msg.ts, fires);
    this.commit(key, fires);
  }

  onHealth(msg: HealthMessage): void {
    const key = `h:${msg.entity_id}:${msg.status}@${msg.ts}`;
    if (this.o.store.wasProcessed(key)) {
      this.m.duplicate.inc();
      return;
    }
    const fires: Fire[] = [];
    this.matcher.matchHealth(
      msg.entity_id,
      msg.status,
      msg.ts,
      msg.reason ? { reason: msg.reason } : {},
      fires,
    );
    this.commit(key, fires);
  }

  private commit(key: string, fires: Fire[]): void {
    const now = this.o.clock.now();
    const deliveries: NewDelivery[] = fires.map((f) => {
      const id = deliveryId(f.rule.id, f.subject, f.at);
      return { id, ruleId: f.rule.id, event: f.kind, body: deliveryBody(id, f, now), createdAt: now };
    });
    const dirty = this.matcher.takeDirty();
    const inserted = this.o.store.commitBatch(
      key,
      now,
      deliveries,
      dirty.seen,
      dirty.sides,
      this.matcher.watermarkUs,
    );
    this.m.skipped.inc(this.matcher.skipped - this.skippedSeen);
    this.skippedSeen = this.matcher.skipped;
    this.m.firesSkippedSource.inc(this.matcher.skippedSource - this.skippedSourceSeen);
    this.skippedSourceSeen = this.matcher.skippedSource;
    this.m.firesSkippedStale.inc(this.matcher.skippedStale - this.skippedStaleSeen);
    this.skippedStaleSeen = this.matcher.skippedStale;
    this.m.fired.inc(inserted.length);
    for (const d of inserted) {
      if (this.pending.size >= this.o.config.maxPending) {
        this.o.store.deadLetter(
          d.id,
          d.ruleId,
          "pending deliveries reached webhooks.maxPending",
          0,
          now,
          null,
        );
        this.m.dead.inc();
        continue;
      }
      this.pending.set(d.id, { ...d, attempts: 0, nextAt: now, inFlight: false, matchedAt: now });
    }
    if (++this.commits % 256 === 0)
      this.o.store.prune(this.o.config.logMax, this.o.config.deadLetterMax, this.processedMax());
    this.m.pending.set(this.pending.size);
    if (inserted.length > 0) this.pump();
  }

  /** Keys of evaluated batches kept for duplicate detection: far more than any edge can re-send. */
  private processedMax(): number {
    return 10_000;
  }

  private track(row: DeliveryRow): void {
    this.pending.set(row.id, {
      id: row.id,
      ruleId: row.rule_id,
      event: row.event,
      body: row.body,
      attempts: row.attempts,
      createdAt: row.created_at,
      nextAt: row.next_at,
      inFlight: false,
    });
    this.m.pending.set(this.pending.size);
  }

  /** Moves a dead letter back to pending with the same delivery id; undefined when there is no such one. */
  replay(id: string): DeliveryRow | undefined {
    const row = this.o.store.replay(id, this.o.clock.now());
    if (!row) return undefined;
    this.track(row);
    this.pump();
    return row;
  }

  /** Sends one signed test delivery for a rule right away (no retries) and reports the outcome. */
  async testFire(ruleId: string): Promise<TestFireResult | undefined> {
    const rule = this.rules.get(ruleId) ?? this.o.store.rule(ruleId);
    if (!rule) return undefined;
    const now = this.o.clock.now();
    const id = `test-${randomUUID()}`;
    const body = JSON.stringify({
      id,
      event: "test",
      rule: { id: rule.id, name: rule.name },
      fired_at: iso(now),
      test: true,
    });
    const outcome = await this.post(rule, id, "test", body);
    const status = "status" in outcome ? outcome.status : null;
    const ok = status !== null && status >= 200 && status < 300;
    const error = "error" in outcome ? outcome.error : ok ? null : `HTTP ${status}`;
    const done = this.o.clock.now();
    this.o.store.insertFinished(
      { id, ruleId, event: "test", body, createdAt: now },
      ok ? "delivered" : "failed",
      done,
      status,
      error,
    );
    return { deliveryId: id, ok, status, error, latencyMs: done - now };
  }

  status(): { pending: number; rules: number; breakers: Record<string, string> } {
    const breakers: Record<string, string> = {};
    const now = this.o.clock.now();
    for (const [host, t] of this.targets) breakers[host] = t.breaker.stateAt(now);
    return { pending: this.pending.size, rules: this.m.rules.value, breakers };
  }

  /** Stops starting attempts and waits (up to `deadlineMs`) for those in flight to be recorded. */
  async stop(deadlineMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight.size === 0) return;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => setTimeout(resolve, deadlineMs)),
    ]);
  }

  private target(host: string): Target {
    let t = this.targets.get(host);
    if (!t) {
      t = {
        inFlight: 0,
        breaker: new Breaker(this.o.config.breakerThreshold, this.o.config.breakerCooldownMs),
      };
      this.targets.set(host, t);
    }
    return t;
  }

  /** Starts every due attempt the concurrency limits and breakers allow, then sleeps until the next one. */
  private pump(): void {
    if (this.stopped) return;
    const now = this.o.clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const p of this.pending.values()) {
      if (p.inFlight) continue;
      const rule = this.rules.get(p.ruleId);
      if (!rule) {
        this.giveUp(p, "its rule was deleted", null, now);
        continue;
      }
      if (p.nextAt > now) {
        if (p.nextAt < next) next = p.nextAt;
        continue;
      }
      const url = new URL(rule.url);
      const allowed = this.o.targets.checkHost(url.hostname);
      if (!allowed.ok) {
        this.m.refused.inc();
        this.giveUp(p, allowed.error, null, now);
        continue;
      }
      const t = this.target(url.host);
      if (t.inFlight >= this.o.config.concurrencyPerTarget) continue; // pumped again when one finishes
      if (!t.breaker.allow(now)) {
        const at = t.breaker.retryAt;
        if (at > now && at < next) next = at;
        continue;
      }
      this.attempt(p, rule, t);
    }
    let open = 0;
    for (const t of this.targets.values()) if (t.breaker.stateAt(now) === "open") open++;
    this.m.breakersOpen.set(open);
    this.schedule(next);
  }

  private schedule(at: number): void {
    if (at === this.timerAt && this.timer !== undefined) return;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (!Number.isFinite(at)) return;
    this.timer = this.o.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, at - this.o.clock.now()),
    );
  }

  private attempt(p: Pending, rule: Rule, t: Target): void {
    p.inFlight = true;
    t.inFlight++;
    if (p.matchedAt !== undefined) {
      this.m.dispatch.observe(this.o.clock.now() - p.matchedAt);
      p.matchedAt = undefined;
    }
    const run = this.post(rule, p.id, p.event, p.body)
      .then((outcome) => this.settle(p, t, outcome))
      .catch((error) =>
        this.o.log.error("recording a delivery attempt failed", {
          delivery: p.id,
          error: errorMessage(error),
        }),
      )
      .finally(() => this.inFlight.delete(run));
    this.inFlight.add(run);
  }

  /** One signed POST; never throws. The timestamp is per attempt, so retries stay within tolerance. */
  private async post(rule: Rule, id: string, event: string, body: string): Promise<Outcome> {
    const started = this.o.clock.now();
    const sent = await sendSigned(
      {
        fetch: this.o.fetch,
        targets: this.o.targets,
        lookup: this.o.lookup ?? systemLookup,
        timeoutMs: this.o.config.timeoutMs,
        responseMaxBytes: this.o.config.responseMaxBytes,
      },
      rule.url,
      rule.secret,
      { id, event, body },
      Math.floor(started / 1000),
    );
    if ("refused" in sent.outcome) this.m.refused.inc();
    else this.m.latency.observe(this.o.clock.now() - started);
    if (sent.truncated) this.m.truncated.inc();
    return sent.outcome;
  }

  private settle(p: Pending, t: Target, outcome: Outcome): void {
    t.inFlight--;
    p.inFlight = false;
    const now = this.o.clock.now();
    p.attempts++;
    const verdict = decide(outcome, p, now, this.o.config, this.o.random);
    const status = "status" in outcome ? outcome.status : null;
    // A target that answered (2xx, or a refusal that will not change) is healthy; errors and 5xx/429 are not.
    // A send the target policy refused never reached the target, so it says nothing about its health.
    if ("error" in outcome && outcome.refused) t.breaker.release();
    else if ("error" in outcome || retryable(outcome.status)) t.breaker.failure(now);
    else t.breaker.success();
    if (verdict.kind === "delivered") {
      this.o.store.finish(p.id, "delivered", p.attempts, now, status, null);
      this.pending.delete(p.id);
      this.m.delivered.inc();
    } else if (verdict.kind === "retry") {
      this.o.store.retryLater(p.id, p.attempts, verdict.at, now, status, verdict.reason);
      p.nextAt = verdict.at;
      this.m.retried.inc();
    } else {
      this.giveUp(p, verdict.reason, status, now);
    }
    this.m.pending.set(this.pending.size);
    this.pump();
  }

  private giveUp(p: Pending, reason: string, status: number | null, now: number): void {
    this.o.store.deadLetter(p.id, p.ruleId, reason, p.attempts, now, status);
    this.pending.delete(p.id);
    this.m.dead.inc();
    this.o.log.warn("webhook dead-lettered", { delivery: p.id, rule: p.ruleId, reason });
  }
}
