/**
 * A Server-Sent Events reader over `fetch`, so the bearer token travels in the `Authorization` header
 * (EventSource cannot set headers, and tokens in URLs end up in logs and history).
 *
 * `SseParser` is the pure part: feed it text chunks, it returns the complete events per the WHATWG
 * event-stream rules (fields `event`, `data`, `id`, `retry`; comments start with `:`; a blank line
 * dispatches; CR, LF and CRLF all end lines).
 */

export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

export class SseParser {
  private _buffer = "";
  private _event = "";
  private _data: string[] = [];
  private _id: string | null = null;
  /** The server's reconnection hint (`retry:`), if it sent one. */
  retryMs: number | null = null;

  /** Parses one chunk; returns the events it completed (possibly none). */
  push(chunk: string): SseMessage[] {
    this._buffer += chunk;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this._buffer.length; i++) {
      const c = this._buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A CR at the very end may be the first half of CRLF: wait for the next chunk.
      if (c === 13 && i === this._buffer.length - 1) break;
      this._line(this._buffer.slice(start, i), out);
      if (c === 13 && this._buffer.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this._buffer = this._buffer.slice(start);
    return out;
  }

  private _line(line: string, out: SseMessage[]): void {
    if (line === "") {
      if (this._data.length > 0) {
        out.push({ event: this._event || "message", data: this._data.join("\n"), id: this._id });
      }
      this._event = "";
      this._data = [];
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ":" comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") this._data.push(value);
    else if (field === "event") this._event = value;
    else if (field === "id" && !value.includes("\0")) this._id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
  }
}

/** Why a stream ended; `unauthorized` must not be retried with the same token. */
export type StreamEnd =
  | { kind: "closed" }
  | { kind: "unauthorized" }
  | { kind: "http"; status: number; body: string }
  | { kind: "network"; message: string };

/**
 * Opens `url` with the bearer token and calls `onMessage` per event until the response ends, the
 * signal aborts, or the network fails. Resolves (never rejects) with why it ended.
 */
export async function readSse(
  url: string,
  /** Null sends no Authorization header (HA ingress: the Supervisor authenticated the user). */
  token: string | null,
  signal: AbortSignal,
  onOpen: () => void,
  onMessage: (message: SseMessage) => void,
): Promise<StreamEnd> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers:
        token === null
          ? { Accept: "text/event-stream" }
          : { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
      signal,
      cache: "no-store",
    });
  } catch (error) {
    return { kind: "network", message: error instanceof Error ? error.message : String(error) };
  }
  if (response.status === 401) return { kind: "unauthorized" };
  if (!response.ok || !response.body) {
    const body = await response.text().catch(() => "");
    return { kind: "http", status: response.status, body: body.slice(0, 300) };
  }
  onOpen();
  const parser = new SseParser();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { kind: "closed" };
      for (const message of parser.push(value)) onMessage(message);
    }
  } catch (error) {
    if (signal.aborted) return { kind: "closed" };
    return { kind: "network", message: error instanceof Error ? error.message : String(error) };
  } finally {
    reader.releaseLock();
  }
}
