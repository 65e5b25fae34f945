/**
 * A small Server-Sent Events reader over a fetch body, for tests, benchmarks and non-browser clients.
 * Browsers use EventSource (`/api/v1/stream?access_token=...`) or the Eden client instead.
 */

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/** Reads messages from an SSE response body; `next()` resolves null when the stream ends. */
export class SseReader {
  // In-process (`app.handle`) bodies carry strings; over the network they carry bytes.
  private readonly reader: ReadableStreamDefaultReader<Uint8Array | string>;
  private readonly decoder = new TextDecoder();
  private buffer = "";

  constructor(body: ReadableStream<Uint8Array> | ReadableStream<Uint8Array | string>) {
    this.reader = body.getReader();
  }

  async next(): Promise<SseMessage | null> {
    for (;;) {
      const end = this.buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const message: SseMessage = { event: "message", data: "" };
        const data: string[] = [];
        for (const line of block.split("\n")) {
          const colon = line.indexOf(":");
          if (colon === 0) continue;
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") message.event = value;
          else if (field === "data") data.push(value);
          else if (field === "id") message.id = value;
        }
        message.data = data.join("\n");
        return message;
      }
      const { value, done } = await this.reader.read();
      if (done) return null;
      this.buffer += typeof value === "string" ? value : this.decoder.decode(value, { stream: true });
    }
  }

  async cancel(): Promise<void> {
    await this.reader.cancel();
  }
}
