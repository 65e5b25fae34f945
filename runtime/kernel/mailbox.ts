/**
 * Bounded, credit-based mailboxes over MessagePorts.
 *
 * One edge = one MessageChannel between a sender (`Outbox`) and a receiver (`Inbox`). The sender may have
 * at most `capacity` messages outstanding (sent and not yet acknowledged); past that, `send()` waits for
 * credit and `trySend()` says no. The receiver acknowledges after its handler has finished with a
 * message, so the receiver's queue can never hold more than `capacity` messages per edge.
 *
 * Outboxes created with `retain: true` keep each unacknowledged message until it is acknowledged. When the
 * supervisor restarts the receiver it hands the sender a new port (`rewire`) and the sender re-sends those
 * messages: nothing a crashed receiver had taken but not acknowledged is lost. A receiver may then see a
 * message twice (it may have half-processed it before crashing), so retained edges carry idempotent work.
 */
import type { Registry } from "./metrics.ts";
import { CREDIT_WAITS, OLDEST_AT, OUTSTANDING, PROCESSED } from "./progress.ts";

/** What travels on an edge's port. `k` keeps the discriminant one byte long on the hot path. */
export type Wire<M> = { k: 0; seq: number; m: M } | { k: 1; ack: number };

/** The subset of MessagePort that mailboxes use, so tests can drive them without workers. */
export interface PortLike {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
  close?(): void;
}

export interface OutboxOptions {
  edge: string;
  capacity: number;
  /** Keep unacknowledged messages for re-sending after a rewire. */
  retain: boolean;
  metrics?: Registry;
  /** Shared memory the supervisor's stuck watch reads (runtime/kernel/progress.ts); absent outside a supervisor. */
  watch?: OutboxWatch;
}

export interface OutboxWatch {
  /** This edge's slot: messages outstanding and the stamp of the oldest (written here, read by the supervisor). */
  edge: SharedArrayBuffer;
  /** The sending actor's slot: its count of sends waiting for credit (so it is seen as held up, not stuck). */
  actor?: SharedArrayBuffer;
  /** The shared clock the stamps are taken from (`tickClock`). */
  now: () => number;
}

/** Sending end of one edge. Per-sender order is kept: waiting senders are served first-come first-served. */
export class Outbox<M> {
  readonly edge: string;
  readonly capacity: number;
  private port: PortLike;
  private nextSeq = 1;
  private acked = 0;
  private readonly retain: boolean;
  /** Ring of unacknowledged messages (only when retaining), indexed by seq % capacity. */
  private readonly inflight: (M | undefined)[];
  private readonly waiters: (() => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private readonly sentTotal;
  private readonly creditWaits;
  private readonly outstandingGauge;
  private readonly poisonTotal;
  /** The oldest unacknowledged seq at the last rewires, and how many rewires in a row it has survived. */
  private oldestAtRewire = 0;
  private oldestResends = 0;
  /** When each unacknowledged message was posted, indexed like `inflight` (only when watched). */
  private readonly stamps?: Int32Array;
  private readonly edgeSlot?: Int32Array;
  private readonly actorSlot?: Int32Array;
  private readonly now?: () => number;
  /** Called with a message set aside as poison (it crashed the receiver `maxRedeliveries` times). */
  onPoison?: (message: M) => void;
  static readonly maxRedeliveries = 2;

  constructor(port: PortLike, opts: OutboxOptions) {
    this.edge = opts.edge;
    this.capacity = Math.max(1, opts.capacity);
    this.retain = opts.retain;
    this.inflight = opts.retain ? new Array(this.capacity) : [];
    const labels = { edge: opts.edge };
    this.sentTotal = opts.metrics?.counter("mailbox_sent_total", "Messages sent on an edge", labels);
    this.creditWaits = opts.metrics?.counter(
      "mailbox_credit_waits_total",
      "Sends that had to wait for credit (receiver full)",
      labels,
    );
    this.poisonTotal = opts.metrics?.counter(
      "mailbox_poison_total",
      "Messages set aside after crashing their receiver on every redelivery",
      labels,
    );
    this.outstandingGauge = opts.metrics?.gauge(
      "mailbox_outstanding",
      "Messages sent and not yet acknowledged on an edge",
      labels,
    );
    if (opts.watch) {
      this.stamps = new Int32Array(this.capacity);
      this.edgeSlot = new Int32Array(opts.watch.edge);
      this.actorSlot = opts.watch.actor ? new Int32Array(opts.watch.actor) : undefined;
      this.now = opts.watch.now;
    }
    this.port = port;
    this.attach(port);
  }

  /** Highest seq the receiver has acknowledged (seqs start at 1 and count posted messages). */
  get acknowledged(): number {
    return this.acked;
  }

  /** Messages sent and not yet acknowledged. */
  get outstanding(): number {
    return this.nextSeq - 1 - this.acked;
  }

  get hasCredit(): boolean {
    return this.outstanding < this.capacity && this.waiters.length === 0;
  }

  /** Sends now if there is credit; otherwise returns false and sends nothing. */
  trySend(message: M): boolean {
    if (!this.hasCredit) return false;
    this.post(message);
    return true;
  }

  /** Sends, waiting for credit first if the receiver is full. Resolves once the message is posted. */
  send(message: M): Promise<void> {
    if (this.hasCredit) {
      this.post(message);
      return Promise.resolve();
    }
    this.creditWaits?.inc();
    if (this.actorSlot) Atomics.add(this.actorSlot, CREDIT_WAITS, 1);
    return new Promise<void>((resolve) => {
      this.waiters.push(() => {
        if (this.actorSlot) Atomics.sub(this.actorSlot, CREDIT_WAITS, 1);
        this.post(message);
        resolve();
      });
    });
  }

  /** Resolves when every message sent so far has been acknowledged. */
  drained(): Promise<void> {
    if (this.outstanding === 0 && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Swaps in a new port (the receiver was restarted) and re-sends what was not acknowledged. */
  rewire(port: PortLike): void {
    this.port.onmessage = null;
    this.port = port;
    this.attach(port);
    if (!this.retain) {
      // Nothing kept to re-send: forget the dead receiver's debt so the new one starts with full credit.
      this.acked = this.nextSeq - 1;
      this.release();
      this.report();
      return;
    }
    // A message that was the oldest unacknowledged one through several receiver crashes is the likely cause:
    // set it aside (counted, handed to onPoison) instead of crash-looping the receiver forever.
    const oldest = this.acked + 1;
    let setAside = false;
    if (oldest < this.nextSeq) {
      this.oldestResends = oldest === this.oldestAtRewire ? this.oldestResends + 1 : 1;
      this.oldestAtRewire = oldest;
      if (this.oldestResends > Outbox.maxRedeliveries) {
        const poison = this.inflight[oldest % this.capacity] as M;
        this.inflight[oldest % this.capacity] = undefined;
        this.acked = oldest;
        this.poisonTotal?.inc();
        this.onPoison?.(poison);
        setAside = true;
      }
    }
    for (let seq = this.acked + 1; seq < this.nextSeq; seq++) {
      port.postMessage({ k: 0, seq, m: this.inflight[seq % this.capacity] as M } satisfies Wire<M>);
    }
    // Only now may waiting senders use the freed credit: released earlier, they would post on the new port
    // and then be re-sent by the loop above (a duplicate).
    if (setAside) this.release();
    this.report();
  }

  private post(message: M): void {
    const seq = this.nextSeq++;
    if (this.retain) this.inflight[seq % this.capacity] = message;
    if (this.stamps) this.stamps[seq % this.capacity] = this.now!();
    this.port.postMessage({ k: 0, seq, m: message } satisfies Wire<M>);
    this.sentTotal?.inc();
    this.outstandingGauge?.set(this.outstanding);
    this.report();
  }

  /**
   * Tells the stuck watch what waits on this edge. The stamp goes first: a reader that sees messages
   * outstanding then reads a stamp at least as new as theirs. A re-sent message keeps its first stamp.
   */
  private report(): void {
    const slot = this.edgeSlot;
    if (!slot) return;
    const outstanding = this.outstanding;
    if (outstanding > 0) Atomics.store(slot, OLDEST_AT, this.stamps![(this.acked + 1) % this.capacity]);
    Atomics.store(slot, OUTSTANDING, outstanding);
  }

  private attach(port: PortLike): void {
    port.onmessage = (event: MessageEvent) => {
      const wire = event.data as Wire<M>;
      if (wire.k !== 1 || wire.ack <= this.acked) return;
      if (this.retain) {
        for (let seq = this.acked + 1; seq <= wire.ack; seq++) this.inflight[seq % this.capacity] = undefined;
      }
      this.acked = Math.min(wire.ack, this.nextSeq - 1);
      this.release();
      this.report();
    };
  }

  private release(): void {
    while (this.waiters.length > 0 && this.outstanding < this.capacity) this.waiters.shift()!();
    this.outstandingGauge?.set(this.outstanding);
    if (this.outstanding === 0 && this.waiters.length === 0 && this.drainWaiters.length > 0) {
      const waiting = this.drainWaiters;
      this.drainWaiters = [];
      for (const resolve of waiting) resolve();
    }
  }
}

/** A message taken from an inbox: which edge it came on and its payload. */
export interface Delivery {
  edge: string;
  message: unknown;
}

interface InboundEdge {
  port: PortLike;
  capacity: number;
  /** Highest seq handled on this port. */
  handled: number;
  /** Handled but not yet acknowledged. */
  unacked: number;
}

export interface InboxOptions {
  actor: string;
  metrics?: Registry;
  /** Called for every message, one at a time, in arrival order. The message is acknowledged when it settles. */
  handle: (delivery: Delivery) => void | Promise<void>;
  /** Called when `handle` throws or rejects; the inbox stops taking messages afterwards. */
  onError: (error: unknown, delivery: Delivery) => void;
  /** The actor's slot (runtime/kernel/progress.ts): its count of handled messages, read by the stuck watch. */
  progress?: SharedArrayBuffer;
}

/**
 * Receiving end of all of one actor's inbound edges: one FIFO queue, processed one message at a time.
 * Its depth never exceeds the sum of the inbound edges' capacities, because senders hold no more credit.
 */
export class Inbox {
  private readonly edges = new Map<string, InboundEdge>();
  private readonly queue: { edge: string; port: PortLike; seq: number; message: unknown }[] = [];
  private head = 0;
  private running = false;
  private failed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly opts: InboxOptions;
  private readonly depthGauge;
  private readonly receivedTotal;
  private readonly overflowTotal;
  private readonly progress?: Int32Array;

  constructor(opts: InboxOptions) {
    this.opts = opts;
    this.progress = opts.progress ? new Int32Array(opts.progress) : undefined;
    const labels = { actor: opts.actor };
    this.depthGauge = opts.metrics?.gauge("mailbox_depth", "Messages waiting in an actor's mailbox", labels);
    this.receivedTotal = opts.metrics?.counter(
      "mailbox_processed_total",
      "Messages an actor has finished handling",
      labels,
    );
    this.overflowTotal = opts.metrics?.counter(
      "mailbox_overflow_total",
      "Messages that arrived beyond a sender's credit (a protocol bug; should stay 0)",
      labels,
    );
  }

  private many?: (deliveries: Delivery[]) => void | Promise<void>;
  private drainMax = 1;

  /**
   * From now on, hands every message already waiting (up to `drainMax`) to `handleMany` in one call, so a
   * receiver that is behind does one unit of work (e.g. one store transaction) for many messages. Each
   * message is still acknowledged only once the call settles; without a backlog nothing waits longer.
   */
  batchWith(handleMany: (deliveries: Delivery[]) => void | Promise<void>, drainMax: number): void {
    this.many = handleMany;
    this.drainMax = Math.max(1, drainMax);
  }

  /** Messages waiting, not counting the one being handled. */
  get depth(): number {
    return this.queue.length - this.head;
  }

  /** Attaches (or, after a sender restart, replaces) the port of an inbound edge. */
  attach(edge: string, port: PortLike, capacity: number): void {
    const previous = this.edges.get(edge);
    if (previous) previous.port.onmessage = null;
    const state: InboundEdge = { port, capacity: Math.max(1, capacity), handled: 0, unacked: 0 };
    this.edges.set(edge, state);
    port.onmessage = (event: MessageEvent) => {
      const wire = event.data as Wire<unknown>;
      if (wire.k !== 0) return;
      const waiting = this.countFrom(port);
      if (waiting >= state.capacity) this.overflowTotal?.inc();
      this.queue.push({ edge, port, seq: wire.seq, message: wire.m });
      this.depthGauge?.set(this.depth);
      if (!this.running) void this.pump();
    };
  }

  /** Resolves once the queue is empty and nothing is being handled. */
  idle(): Promise<void> {
    if (!this.running && this.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private countFrom(port: PortLike): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) if (this.queue[i].port === port) n++;
    return n;
  }

  private async pump(): Promise<void> {
    if (this.failed) return;
    this.running = true;
    while (this.head < this.queue.length) {
      const many = this.many;
      const take = many ? Math.min(this.drainMax, this.queue.length - this.head) : 1;
      const items = this.queue.slice(this.head, this.head + take);
      for (let i = 0; i < take; i++) this.queue[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.depthGauge?.set(this.depth);
      const deliveries = items.map((item) => ({ edge: item.edge, message: item.message }));
      // Everything handled so far is acknowledged before the next handler runs: if that one never returns
      // (a crash, or a loop the supervisor ends), the sender re-sends from it, and it alone is the oldest
      // unacknowledged message its poison count follows (see Outbox.rewire). Under load this is one ack per
      // handler turn, and handleMany turns take many messages each.
      this.flushAcks();
      try {
        const result = many ? many(deliveries) : this.opts.handle(deliveries[0]);
        if (result instanceof Promise) await result;
      } catch (error) {
        // The handler failed: leave the messages unacknowledged (a retaining sender will re-send them to the
        // restarted actor) and stop taking messages; the supervisor decides what happens next.
        this.failed = true;
        this.running = false;
        this.opts.onError(error, deliveries[0]);
        return;
      }
      this.receivedTotal?.inc(items.length);
      if (this.progress) Atomics.add(this.progress, PROCESSED, items.length);
      for (const item of items) this.acknowledge(item.edge, item.port, item.seq);
    }
    this.running = false;
    this.flushAcks();
    const waiting = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiting) resolve();
  }

  private acknowledge(edge: string, port: PortLike, seq: number): void {
    const state = this.edges.get(edge);
    if (!state || state.port !== port) return; // the sender was rewired; its old port is gone
    state.handled = seq;
    state.unacked++;
    // Batch acknowledgements: half a window at a time keeps the sender busy without an ack per message.
    if (state.unacked * 2 >= state.capacity) this.sendAck(state);
  }

  private flushAcks(): void {
    for (const state of this.edges.values()) if (state.unacked > 0) this.sendAck(state);
  }

  private sendAck(state: InboundEdge): void {
    state.unacked = 0;
    state.port.postMessage({ k: 1, ack: state.handled } satisfies Wire<never>);
  }
}
