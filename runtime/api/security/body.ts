/**
 * Reading a request body under a byte limit, whatever its framing: `Content-Length` can be absent
 * (`Transfer-Encoding: chunked`) or lie, so the limit is enforced on the bytes as they arrive and the
 * stream is cancelled as soon as they pass it; nothing past the limit is kept in memory.
 */

export type BoundedBody =
  | { ok: true; bytes: Uint8Array<ArrayBuffer> }
  | { ok: false; error: "too_large"; bytesRead: number }
  | { ok: false; error: "unreadable"; bytesRead: number };

/**
 * @example
 * const read = await readBounded(request.body, 1024 * 1024);
 * if (!read.ok && read.error === "too_large") return status(413);
 */
export async function readBounded(body: ReadableStream<Uint8Array>, limit: number): Promise<BoundedBody> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => {});
        return { ok: false, error: "too_large", bytesRead: total };
      }
      chunks.push(value);
    }
  } catch {
    return { ok: false, error: "unreadable", bytesRead: total };
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { ok: true, bytes };
}
