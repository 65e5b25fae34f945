/**
 * The batcher's side of batcher -> webhooks: stored events offered to the webhook dispatcher without ever
 * holding up storage.
 *
 * Why not `await outbox.send()` (what this replaces): when the dispatcher stopped taking messages (a rule
 * that made it loop), the batcher waited for credit inside its handler, stopped acknowledging the
 * connection, and nothing more was stored (security review, finding 4). Webhooks are a consumer of stored
 * events, not part of the path to disk, so that edge must never push back on storage.
 *
 * Why not plain `trySend()` with a drop on no credit: the dispatcher does one SQLite transaction per
 * message, as the batcher does per commit, so under load it falls a few messages behind now and then; plain
 * trySend would drop events in normal running. Here events wait in a bounded backlog
 * (`batcher.webhooksBacklogEvents`) and go out coalesced when credit returns, so a dispatcher that is behind
 * gets fewer, larger batches and catches up, as it did under the blocking send. Only past the bound are
 * events dropped, oldest first (rules care most about the latest states), and every dropped event is
 * counted. A dispatcher restart reads back from events.db whatever came after its watermark
 * (webhook-dispatcher/catch-up.ts): when it was stuck, its watermark stood still, so once the supervisor
 * restarts it, it still evaluates what was dropped for it (up to `webhooks.catchUpMaxEvents`).
 *
 * Lost uncounted: the backlog of a batcher that crashes or is restarted as stuck (memory only). Those
 * events are stored; the dispatcher's next start catches up on them from its watermark.
 */

import type { EventSource, StoredBatch } from "../../runtime/events/messages.ts";
import { concatPacked, type PackedEvents } from "../../runtime/events/packed.ts";
import type { Counter, Gauge } from "../../runtime/kernel/metrics.ts";

/** The part of an Outbox the feed uses. */
export interface FeedOutbox {
  trySend(message: StoredBatch): boolean;
  send(message: StoredBatch): Promise<void>;
}

export interface WebhookFeedOptions {
  out: FeedOutbox;
  /** Most events held back (`batcher.webhooksBacklogEvents`); 0 drops whatever finds no credit. */
  backlogMax: number;
  /** Most events per message to the dispatcher (`batcher.maxEvents`). */
  batchMax: number;
  wrap: (events: PackedEvents, source?: EventSource) => StoredBatch;
  dropped: Counter;
  backlog: Gauge;
}

export class WebhookFeed {
  /** Held-back batches with their source: only runs of one source are coalesced (rules fire per source). */
  private queue: { events: PackedEvents; source?: EventSource }[] = [];
  private queued = 0;
  private sending = false;

  constructor(private readonly o: WebhookFeedOptions) {}

  /** Events waiting in the backlog (not counting a batch already handed to the outbox). */
  get backlogEvents(): number {
    return this.queued;
  }

  /** Offers freshly stored events; returns at once whatever the dispatcher is doing. */
  offer(events: PackedEvents, source?: EventSource): void {
    if (events.n === 0) return;
    // Straight through when nothing waits ahead of it (the usual case): order is kept.
    if (!this.sending && this.queue.length === 0 && this.o.out.trySend(this.o.wrap(events, source))) return;
    this.queue.push({ events, source });
    this.queued += events.n;
    while (this.queued > this.o.backlogMax && this.queue.length > 0) {
      const oldest = this.queue.shift()!;
      this.queued -= oldest.events.n;
      this.o.dropped.inc(oldest.events.n);
    }
    this.o.backlog.set(this.queued);
    if (!this.sending && this.queue.length > 0) void this.pump();
  }

  /** Drops (and counts) what is still held back; returns how many events that was. */
  discard(): number {
    const n = this.queued;
    this.o.dropped.inc(n);
    this.queue = [];
    this.queued = 0;
    this.o.backlog.set(0);
    return n;
  }

  /**
   * Sends the backlog, one coalesced message of up to `batchMax` events at a time. Waiting for credit
   * happens here, outside the batcher's handler: only this loop waits, never storage.
   */
  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const first = this.queue.shift()!;
        const take: PackedEvents[] = [first.events];
        let n = first.events.n;
        while (
          this.queue.length > 0 &&
          this.queue[0].source === first.source &&
          n + this.queue[0].events.n <= this.o.batchMax
        ) {
          const next = this.queue.shift()!;
          take.push(next.events);
          n += next.events.n;
        }
        this.queued -= n;
        this.o.backlog.set(this.queued);
        await this.o.out.send(this.o.wrap(take.length === 1 ? take[0] : concatPacked(take), first.source));
      }
    } finally {
      this.sending = false;
    }
  }
}
