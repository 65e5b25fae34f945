/**
 * One client's outgoing side, as HA's `websocket_api/http.py` `WebSocketHandler` runs it: every message
 * goes into a per-client queue; a writer hands the queue to the socket while the socket's own buffer is
 * under aiohttp's writer limit (HA raises it to 1 MiB after auth). A client that asked for
 * `coalesce_messages` gets everything queued as one JSON array frame (a lone message unwrapped).
 * The queue is what HA measures: 4,096 queued messages, or more than 1,024 for 10 s, and HA cancels the
 * connection (`MAX_PENDING_MSG`, `PENDING_MSG_PEAK`, `PENDING_MSG_PEAK_TIME` in `websocket_api/const.py`),
 * discarding what was queued and closing with aiohttp's default code 1000 and no reason.
 *
 * Nothing here waits for the client: the home keeps changing and the queue grows until HA's rules cut
 * the client off.
 */

import { type Clock, systemClock } from "../runtime/kernel/clock.ts";

/** HA's `MAX_PENDING_MSG`: a client with this many messages queued is disconnected at once. */
export const MAX_PENDING_MSG = 4096;
/** HA's `PENDING_MSG_PEAK`: more than this many queued ... */
export const PENDING_MSG_PEAK = 1024;
/** ... for HA's `PENDING_MSG_PEAK_TIME` (10 s), and the client is disconnected. */
export const PENDING_MSG_PEAK_TIME_MS = 10_000;
/** HA's `PENDING_MSG_MAX_FORCE_READY`: the writer stops waiting for more to coalesce at this many. */
export const PENDING_MSG_MAX_FORCE_READY = 256;
/** aiohttp's writer waits for the transport to drain past this much buffered (HA sets `writer._limit`). */
export const WRITER_LIMIT_BYTES = 1 << 20;

/** The part of Bun's ServerWebSocket the writer uses. */
export interface WritableSocket {
  send(text: string): number;
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
}

export interface WriterLimits {
  /** Close at this many queued messages (HA: 4096). */
  maxPending: number;
  /** Close when more than this many stay queued ... (HA: 1024). */
  peakPending: number;
  /** ... for this long, in ms (HA: 10,000). */
  peakMs: number;
  /** Hand the socket more while it buffers less than this (HA: 1 MiB). */
  socketLimitBytes: number;
  /** Honour a client's `coalesce_messages` (HA does); false sends each message as its own frame. */
  coalesce: boolean;
}

export type SlowClientReason = "max_pending" | "peak_pending";

export interface WriterEvents {
  /** A frame went to the socket. */
  sent(frame: string, messages: number): void;
  /** The client was cut off for falling behind. */
  slow(reason: SlowClientReason): void;
}

export class ClientWriter {
  private queue: string[] = [];
  private queuedBytes = 0;
  /** The client asked for coalesced frames (`supported_features`). */
  coalesce = false;
  /** The most messages ever queued at once. */
  pendingMax = 0;
  /** Cancelled: nothing more is queued or written. */
  closing = false;
  private scheduled = false;
  private peakTimer: unknown = null;

  constructor(
    private readonly ws: WritableSocket,
    private readonly limits: WriterLimits,
    private readonly events: WriterEvents,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Messages queued and not yet handed to the socket (what HA counts). */
  get pendingMessages(): number {
    return this.queue.length;
  }

  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** HA's `_send_message`: queue, cut off a client that is too far behind, and wake the writer soon. */
  enqueue(message: string): void {
    if (this.closing) return;
    this.queue.push(message);
    this.queuedBytes += message.length;
    const size = this.queue.length;
    if (size > this.pendingMax) this.pendingMax = size;
    if (size >= this.limits.maxPending) {
      this.cancel("max_pending");
      return;
    }
    // HA releases the writer on a later loop turn so messages queued in the same turn share a frame.
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.write();
      });
    }
    if (size <= this.limits.peakPending) {
      if (this.peakTimer !== null) {
        this.clock.clearTimeout(this.peakTimer);
        this.peakTimer = null;
      }
      return;
    }
    if (this.peakTimer === null)
      this.peakTimer = this.clock.setTimeout(() => this.checkPeak(), this.limits.peakMs);
  }

  /** HA's `_writer`: hands the socket what is queued while its buffer is under the writer limit. */
  write(): void {
    while (
      !this.closing &&
      this.queue.length > 0 &&
      this.ws.getBufferedAmount() < this.limits.socketLimitBytes
    ) {
      if (this.coalesce && this.limits.coalesce && this.queue.length > 1) {
        const n = this.queue.length;
        const frame = `[${this.queue.join(",")}]`;
        this.queue = [];
        this.queuedBytes = 0;
        this.ws.send(frame);
        this.events.sent(frame, n);
      } else {
        const frame = this.queue.shift() as string;
        this.queuedBytes -= frame.length;
        this.ws.send(frame);
        this.events.sent(frame, 1);
      }
    }
  }

  /** HA's `_check_write_peak`. */
  private checkPeak(): void {
    this.peakTimer = null;
    if (this.queue.length >= this.limits.peakPending) this.cancel("peak_pending");
  }

  /** HA's `_cancel`: the queue is dropped and the socket closed with code 1000 and no reason. */
  private cancel(reason: SlowClientReason): void {
    this.stop();
    this.events.slow(reason);
    this.ws.close(1000);
  }

  /** The connection ended: drop the queue and the peak timer. */
  stop(): void {
    this.closing = true;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.peakTimer !== null) this.clock.clearTimeout(this.peakTimer);
    this.peakTimer = null;
  }
}
