/**
 * The live feed behind `GET /api/v1/stream`: the batcher sends each committed batch to the hub
 * (`batcher->hub`, lossy), `runtime/app/main.ts` hands it to `LiveFeed.publish`, and every SSE client reads
 * from its own bounded queue. A client that falls `queueMax` events behind is cut off with one final
 * overflow notice (it can catch up from `/api/v1/events`), so a slow reader never makes the hub buffer
 * without bound and never slows the other clients.
 */

import type { StateChange, StoredBatch } from "../events/messages.ts";
import { type EventColumns, openPacked, ownString } from "../events/packed.ts";
import type { Counter, Gauge, Registry } from "../kernel/metrics.ts";
import type { StoredEvent } from "../store/index.ts";

/** Which events a client wants; empty sets mean "all". */
export interface LiveFilter {
  entityIds: ReadonlySet<string>;
  domains: ReadonlySet<string>;
}

/** One event ready to send: serialised once per batch, shared by every client that wants it. */
export interface LiveEvent {
  entityId: string;
  /** Event time in ms, used as the SSE `id` so a client knows where it stopped. */
  ts: number;
  /** JSON text of the StoredEvent. */
  data: string;
}

export type LiveItem =
  | { type: "event"; event: LiveEvent }
  | { type: "overflow"; queueMax: number; lastTs: number | null }
  /** Nothing arrived within the wait's timeout (the stream sends a keep-alive). */
  | { type: "idle" };

const domainOf = (entityId: string) => entityId.slice(0, entityId.indexOf("."));

/** A state change as the API shows it: the same shape the store reader returns (times in ms). */
export function toStoredEvent(c: StateChange): StoredEvent {
  let attributes: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(c.attributes);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) attributes = parsed;
  } catch {
    // The connection actor serialised it; a broken string shows as no attributes rather than no event.
  }
  const n = c.state.trim() === "" ? Number.NaN : Number(c.state);
  return {
    entity_id: c.entity_id,
    state: c.state,
    value: Number.isFinite(n) ? n : null,
    attributes,
    ts: c.last_updated / 1000,
    last_changed: c.last_changed / 1000,
    context_id: c.context_id,
    context_parent_id: c.context_parent_id,
    context_user_id: c.context_user_id,
  };
}

export class LiveSubscription {
  private queue: LiveEvent[] = [];
  private head = 0;
  private overflowed = false;
  private closed = false;
  private lastTs: number | null = null;
  private wake: (() => void) | null = null;

  constructor(
    readonly filter: LiveFilter,
    private readonly queueMax: number,
    private readonly onOverflow: () => void,
    private readonly onClose: (s: LiveSubscription) => void,
  ) {}

  wants(entityId: string): boolean {
    const f = this.filter;
    if (f.entityIds.size === 0 && f.domains.size === 0) return true;
    return f.entityIds.has(entityId) || f.domains.has(domainOf(entityId));
  }

  /** Queues an event; past `queueMax` queued events the subscription is cut off. */
  offer(event: LiveEvent): void {
    if (this.closed || this.overflowed) return;
    if (this.queue.length - this.head >= this.queueMax) {
      // Drop what is queued at once: the client learns of the cut-off on its next read and refetches.
      this.overflowed = true;
      this.queue = [];
      this.head = 0;
      this.onOverflow();
    } else this.queue.push(event);
    this.wake?.();
  }

  /** Events waiting to be sent. */
  get depth(): number {
    return this.queue.length - this.head;
  }

  /**
   * The next item, or null once closed (after the overflow notice, or when the client went away); with
   * `idleMs`, an `idle` item when nothing arrived in that time.
   */
  async next(idleMs?: number): Promise<LiveItem | null> {
    for (;;) {
      if (this.closed) return null;
      if (this.head < this.queue.length) {
        const event = this.queue[this.head++];
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        this.lastTs = event.ts;
        return { type: "event", event };
      }
      if (this.overflowed) {
        this.close();
        return { type: "overflow", queueMax: this.queueMax, lastTs: this.lastTs };
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const woken = await new Promise<boolean>((resolve) => {
        this.wake = () => resolve(true);
        if (idleMs !== undefined) timer = setTimeout(() => resolve(false), idleMs);
      });
      clearTimeout(timer);
      this.wake = null;
      if (!woken) return this.closed ? null : { type: "idle" };
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.onClose(this);
    this.wake?.();
  }
}

export class LiveFeed {
  private readonly subscriptions = new Set<LiveSubscription>();
  private readonly clientsGauge?: Gauge;
  private readonly overflowTotal?: Counter;
  private readonly publishedTotal?: Counter;
  private readonly refusedTotal?: Counter;

  constructor(
    private readonly opts: {
      /** Events queued per client before it is cut off (config api.sseQueueMax). */
      queueMax: number;
      registry?: Registry;
    },
  ) {
    const r = opts.registry;
    this.clientsGauge = r?.gauge("api_sse_clients", "Clients connected to the live stream");
    this.overflowTotal = r?.counter(
      "api_sse_overflow_total",
      "Live stream clients cut off because they fell api.sseQueueMax events behind",
    );
    this.publishedTotal = r?.counter("api_live_events_total", "State changes received for the live stream");
    this.refusedTotal = r?.counter(
      "api_sse_refused_total",
      "Live stream clients refused because api.sseMaxClients were connected",
    );
  }

  get clients(): number {
    return this.subscriptions.size;
  }

  /**
   * Hands a committed batch to every interested client; each event is converted and serialised once, and
   * only when some client wants it. A packed batch that does not add up is dropped whole (it is a view).
   */
  publish(batch: StoredBatch | readonly StateChange[]): void {
    const records = batch as readonly StateChange[];
    this.publishedTotal?.inc(Array.isArray(batch) ? records.length : (batch as StoredBatch).events.n);
    // Nobody watching: the batch is not even opened.
    if (this.subscriptions.size === 0) return;
    let cols: EventColumns | null = null;
    if (!Array.isArray(batch)) {
      const opened = openPacked((batch as StoredBatch).events);
      if (!opened.ok) return;
      cols = opened.cols;
    }
    const n = cols ? cols.n : records.length;
    for (let i = 0; i < n; i++) {
      const entityId = cols ? cols.entityId(i) : records[i].entity_id;
      let event: LiveEvent | undefined;
      for (const sub of this.subscriptions) {
        if (!sub.wants(entityId)) continue;
        if (!event) {
          const stored = toStoredEvent(cols ? cols.change(i) : records[i]);
          // Queued for slow clients: its own id text, not a substring pinning the whole batch.
          event = { entityId: ownString(entityId), ts: stored.ts, data: JSON.stringify(stored) };
        }
        sub.offer(event);
      }
    }
  }

  subscribe(filter: LiveFilter): LiveSubscription {
    const sub = new LiveSubscription(
      filter,
      this.opts.queueMax,
      () => this.overflowTotal?.inc(),
      (s) => {
        this.subscriptions.delete(s);
        this.clientsGauge?.set(this.subscriptions.size);
      },
    );
    this.subscriptions.add(sub);
    this.clientsGauge?.set(this.subscriptions.size);
    return sub;
  }

  /**
   * A subscription, or null (counted) when `maxClients` are already connected: each client may hold up
   * to `queueMax` events and every publish walks all clients, so their number is bounded too.
   */
  trySubscribe(filter: LiveFilter, maxClients: number): LiveSubscription | null {
    if (this.subscriptions.size >= maxClients) {
      this.refusedTotal?.inc();
      return null;
    }
    return this.subscribe(filter);
  }

  /** Ends every subscription (shutdown). */
  closeAll(): void {
    for (const sub of [...this.subscriptions]) sub.close();
  }
}
