/**
 * A short-lived WebSocket session to Home Assistant for the history import, apart from the live session
 * (actors/connection/): bulk history answers are large, and on the live socket they would queue behind
 * and ahead of live frames, where HA's slow-client limits (4,096 pending messages) count them. Here one
 * request is in flight at a time, each answer is read whole before the next is asked, and the socket is
 * closed when the import ends.
 */
import { parseFrame } from "../connection/frames.ts";
import { RequestError } from "../connection/request-error.ts";

export interface ImportSessionOptions {
  url: string;
  token: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxFrameBytes: number;
  WebSocketImpl?: typeof WebSocket;
}

export class ImportSession {
  private ws: WebSocket | null = null;
  private nextId = 1;
  private waiting: { id: number; resolve: (v: unknown) => void; reject: (e: Error) => void } | null = null;
  private closed = false;
  /** Requests answered (the HA load this import made). */
  requests = 0;

  constructor(private readonly opts: ImportSessionOptions) {}

  /** Connects and authenticates; rejects with what went wrong. */
  open(): Promise<string> {
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    const ws = new Impl(this.opts.url);
    this.ws = ws;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.close();
        reject(
          new Error(
            `history import: no auth_ok from ${this.opts.url} within ${this.opts.connectTimeoutMs} ms`,
          ),
        );
      }, this.opts.connectTimeoutMs);
      let authed = false;
      ws.onmessage = (ev) => {
        const text = String(ev.data);
        const parsed = parseFrame(text, this.opts.maxFrameBytes);
        if (!parsed.ok) {
          this.fail(
            new RequestError("too_large", `history import: answer refused: ${parsed.rejected.detail}`),
          );
          return;
        }
        for (const m of parsed.messages) {
          if (!authed) {
            if (m.type === "auth_required")
              ws.send(JSON.stringify({ type: "auth", access_token: this.opts.token }));
            else if (m.type === "auth_ok") {
              authed = true;
              clearTimeout(timer);
              resolve(String(m.ha_version ?? "unknown"));
            } else if (m.type === "auth_invalid") {
              clearTimeout(timer);
              reject(new Error("history import: HA refused the token (auth_invalid)"));
            }
            continue;
          }
          const w = this.waiting;
          if (m.type !== "result" || !w || m.id !== w.id) continue;
          this.waiting = null;
          this.requests++;
          if (m.success === true) w.resolve(m.result);
          else {
            const err = (m.error ?? {}) as { code?: string; message?: string };
            w.reject(
              new RequestError(String(err.code ?? "error"), `HA: ${String(err.message ?? "request failed")}`),
            );
          }
        }
      };
      ws.onclose = () => {
        clearTimeout(timer);
        if (!authed) reject(new Error(`history import: ${this.opts.url} closed before auth_ok`));
        this.fail(new RequestError("disconnected", "history import: HA closed the socket"));
      };
      ws.onerror = () => {};
    });
  }

  /** One request; the next may only be sent once this one is answered. */
  request(type: string, fields: Record<string, unknown>): Promise<unknown> {
    if (this.waiting) return Promise.reject(new Error("history import: one request at a time"));
    if (!this.ws || this.closed)
      return Promise.reject(new RequestError("disconnected", "history import: not connected"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.fail(
            new RequestError(
              "timeout",
              `history import: ${type} unanswered for ${this.opts.requestTimeoutMs} ms`,
            ),
          ),
        this.opts.requestTimeoutMs,
      );
      this.waiting = {
        id,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.ws?.send(JSON.stringify({ id, type, ...fields }));
    });
  }

  private fail(e: Error): void {
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }

  close(): void {
    this.closed = true;
    this.fail(new RequestError("disconnected", "history import: session closed"));
    this.ws?.close();
  }
}
