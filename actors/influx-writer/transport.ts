/**
 * A `Transport` for the official client's WriteApi built on Bun's `fetch`. The client's default Node
 * transport goes through Bun's `node:http` compatibility layer, which measured 2.5-5x slower for 10,000-line
 * writes (60k vs 150-290k points/s against victoria-metrics on the shared 2-core box); the client still
 * builds the write path, and its `HttpError` still classifies answers. Only `send` is used by WriteApi.
 */
import {
  type CommunicationObserver,
  HttpError,
  type SendOptions,
  type Transport,
} from "@influxdata/influxdb-client";

export class FetchWriteTransport implements Transport {
  readonly chunkCombiner = {
    concat: (first: Uint8Array, second: Uint8Array) => {
      const out = new Uint8Array(first.length + second.length);
      out.set(first);
      out.set(second, first.length);
      return out;
    },
    toUtf8String: (chunk: Uint8Array, start: number, end: number) =>
      new TextDecoder().decode(chunk.subarray(start, end)),
    copy: (chunk: Uint8Array, start: number, end: number) => chunk.slice(start, end),
  };

  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  send(
    path: string,
    body: string,
    options: SendOptions,
    callbacks?: Partial<CommunicationObserver<Uint8Array>>,
  ): void {
    const headers: Record<string, string> = {
      "content-type": "text/plain; charset=utf-8",
      ...(options.headers ?? {}),
    };
    if (this.token) headers.authorization = `Token ${this.token}`;
    fetch(`${this.url.replace(/\/$/, "")}${path}`, {
      method: options.method,
      headers,
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    }).then(
      async (res) => {
        const responseHeaders: Record<string, string> = {};
        res.headers.forEach((value, key) => {
          responseHeaders[key] = value;
        });
        callbacks?.responseStarted?.(responseHeaders, res.status);
        const text = await res.text();
        if (res.status >= 300) {
          callbacks?.error?.(
            new HttpError(
              res.status,
              res.statusText,
              text,
              res.headers.get("retry-after"),
              res.headers.get("content-type"),
              undefined,
              responseHeaders,
            ),
          );
          return;
        }
        callbacks?.complete?.();
      },
      (error: unknown) => callbacks?.error?.(error instanceof Error ? error : new Error(String(error))),
    );
  }

  request(): Promise<never> {
    return Promise.reject(new Error("FetchWriteTransport only writes"));
  }

  iterate(): AsyncIterableIterator<Uint8Array> {
    throw new Error("FetchWriteTransport only writes");
  }
}
