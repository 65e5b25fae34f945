/**
 * One HTTP GET of a JSON API, with a timeout and a body-size bound, that never throws: every way a
 * response can be bad becomes a `FetchFailure` naming the reason, so the enricher logs it, keeps its last
 * good value and carries on.
 */

export type FailureReason =
  | "unreachable"
  | "timeout"
  | "server-error"
  | "client-error"
  | "html-error-page"
  | "malformed-json"
  | "truncated"
  | "too-large"
  | "changed-schema";

export interface FetchFailure {
  reason: FailureReason;
  /** What exactly was wrong, for the log line and the API's `lastError`. */
  detail: string;
}

export type FetchOutcome = { ok: true; json: unknown } | { ok: false; failure: FetchFailure };

export interface FetchJsonOptions {
  timeoutMs: number;
  maxBytes: number;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Aborts the request (on shutdown); the outcome is then an `unreachable` failure the caller discards. */
  signal?: AbortSignal;
}

const failed = (reason: FailureReason, detail: string): FetchOutcome => ({
  ok: false,
  failure: { reason, detail },
});

/** GETs `url` and parses its JSON body; resolves with the parsed value or a classified failure. */
export async function fetchJson(url: string, opts: FetchJsonOptions): Promise<FetchOutcome> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, opts.timeoutMs);
  const cancel = () => controller.abort();
  opts.signal?.addEventListener("abort", cancel);
  if (opts.signal?.aborted) controller.abort();
  try {
    const response = await (opts.fetch ?? fetch)(url, {
      signal: controller.signal,
      headers: { accept: "application/json" },
      redirect: "follow",
    });
    let body: string | null;
    try {
      body = await readBounded(response, opts.maxBytes);
    } catch (error) {
      if (timedOut) return failed("timeout", `body not complete within ${opts.timeoutMs} ms`);
      return failed(
        "truncated",
        `HTTP ${response.status}: the connection closed before the body was complete (${(error as Error)?.message ?? error})`,
      );
    }
    if (body === null) return failed("too-large", `response body is larger than ${opts.maxBytes} bytes`);
    const declared = Number(response.headers.get("content-length") ?? Number.NaN);
    const received = Buffer.byteLength(body);
    if (Number.isFinite(declared) && received < declared)
      return failed(
        "truncated",
        `HTTP ${response.status}: the connection closed before the body was complete (${received} of ${declared} bytes)`,
      );
    return classify(response, body);
  } catch (error) {
    if (timedOut) return failed("timeout", `no complete response within ${opts.timeoutMs} ms`);
    return failed("unreachable", `request failed: ${(error as Error)?.message ?? String(error)}`);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", cancel);
  }
}

function classify(response: Response, body: string): FetchOutcome {
  const html = looksLikeHtml(response, body);
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  if (response.status >= 500)
    return failed("server-error", `${status}${html ? " with an HTML error page" : ""}${snippet(body, html)}`);
  if (response.status >= 400)
    return failed("client-error", `${status}${apiReason(body)}; check the base URL and request parameters`);
  if (response.status < 200 || response.status >= 300) return failed("server-error", status);
  if (html) return failed("html-error-page", `${status} but the body is an HTML page${snippet(body, true)}`);
  try {
    return { ok: true, json: JSON.parse(body) };
  } catch (error) {
    return failed(
      "malformed-json",
      `body is not complete JSON (${(error as Error).message}; ${body.length} characters received)`,
    );
  }
}

function looksLikeHtml(response: Response, body: string): boolean {
  const type = response.headers.get("content-type") ?? "";
  return type.includes("text/html") || /^\s*</.test(body);
}

/** The `<title>` of an HTML page, or the start of a text body: enough to recognise a proxy's error page. */
function snippet(body: string, html: boolean): string {
  if (html) {
    const title = /<title[^>]*>([^<]{1,120})<\/title>/i.exec(body)?.[1]?.trim();
    return title ? ` ("${title}")` : "";
  }
  const text = body.trim().slice(0, 120);
  return text ? `: ${text}` : "";
}

/** Open-Meteo answers `{error: true, reason}`; the carbon intensity API `{error: {code, message}}`. */
function apiReason(body: string): string {
  try {
    const parsed = JSON.parse(body) as { reason?: unknown; error?: { message?: unknown } };
    const reason = typeof parsed.reason === "string" ? parsed.reason : parsed.error?.message;
    return typeof reason === "string" ? `: ${reason.slice(0, 200)}` : "";
  } catch {
    return snippet(body, looksLikeHtmlText(body));
  }
}

function looksLikeHtmlText(body: string): boolean {
  return /^\s*</.test(body);
}

/** Reads the body as text, or returns null once it exceeds `maxBytes` (and stops reading). */
async function readBounded(response: Response, maxBytes: number): Promise<string | null> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    return null;
  }
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}
