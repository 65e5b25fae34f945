/**
 * Optional plain-language rewrite of a suggestion's title and explanation through an OpenAI-compatible
 * chat completions endpoint. Off unless `llm.url` is set. Every failure — timeout, HTTP error, a reply that
 * is not the JSON asked for — is a value, never a throw: the caller keeps the miner's deterministic text.
 * The YAML is never sent back through the model: automations stay exactly what the miner built.
 */

export interface LlmConfig {
  url?: string;
  model?: string;
  key?: string;
  timeoutMs: number;
}

export type Rewrite =
  | { ok: true; title: string; explanation: string }
  | { ok: false; reason: "timeout" | "http" | "network" | "reply"; error: string };

const SYSTEM = [
  "You rewrite smart-home automation suggestions for the person who lives in the home.",
  "Keep every fact and number; do not invent devices, times or thresholds.",
  'Reply with JSON only: {"title": "<at most 80 characters>", "explanation": "<one to three plain sentences>"}.',
].join(" ");

/** `http://host:8080` -> `http://host:8080/v1/chat/completions`; a URL already naming the path is kept. */
export function completionsUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, "");
  if (trimmed.endsWith("/chat/completions")) return trimmed;
  if (trimmed.endsWith("/v1")) return `${trimmed}/chat/completions`;
  return `${trimmed}/v1/chat/completions`;
}

export async function rewriteSuggestion(
  config: LlmConfig,
  suggestion: { kind: string; title: string; explanation: string; evidence: unknown },
  fetchImpl: typeof fetch = fetch,
): Promise<Rewrite> {
  if (!config.url) return { ok: false, reason: "http", error: "llm.url is not set" };
  const url = completionsUrl(config.url);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (config.key) headers.authorization = `Bearer ${config.key}`;
  const body = {
    model: config.model ?? "default",
    temperature: 0,
    max_tokens: 300,
    messages: [
      { role: "system", content: SYSTEM },
      {
        role: "user",
        content: JSON.stringify({
          kind: suggestion.kind,
          title: suggestion.title,
          explanation: suggestion.explanation,
          evidence: suggestion.evidence,
        }),
      },
    ],
  };
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(config.timeoutMs),
    });
  } catch (error) {
    const name = (error as Error).name;
    if (name === "TimeoutError" || name === "AbortError")
      return {
        ok: false,
        reason: "timeout",
        error: `${url}: no answer within ${config.timeoutMs} ms (llm.timeoutMs)`,
      };
    return { ok: false, reason: "network", error: `${url}: ${(error as Error).message}` };
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    const name = (error as Error).name;
    if (name === "TimeoutError" || name === "AbortError")
      return {
        ok: false,
        reason: "timeout",
        error: `${url}: reply not finished within ${config.timeoutMs} ms`,
      };
    return { ok: false, reason: "network", error: `${url}: ${(error as Error).message}` };
  }
  if (!response.ok)
    return { ok: false, reason: "http", error: `${url}: HTTP ${response.status} ${text.slice(0, 200)}` };
  return parseReply(url, text);
}

/** Checks the completion: choices[0].message.content must be the JSON object asked for. */
export function parseReply(url: string, text: string): Rewrite {
  const bad = (what: string): Rewrite => ({ ok: false, reason: "reply", error: `${url}: ${what}` });
  let completion: unknown;
  try {
    completion = JSON.parse(text);
  } catch {
    return bad("reply is not JSON");
  }
  const content = (completion as { choices?: { message?: { content?: unknown } }[] })?.choices?.[0]?.message
    ?.content;
  if (typeof content !== "string") return bad("reply has no choices[0].message.content");
  // Models like to wrap JSON in a code fence; take the outermost object.
  const start = content.indexOf("{");
  const end = content.lastIndexOf("}");
  if (start < 0 || end <= start) return bad("message content holds no JSON object");
  let parsed: { title?: unknown; explanation?: unknown };
  try {
    parsed = JSON.parse(content.slice(start, end + 1));
  } catch {
    return bad("message content is not valid JSON");
  }
  const title = typeof parsed.title === "string" ? parsed.title.trim() : "";
  const explanation = typeof parsed.explanation === "string" ? parsed.explanation.trim() : "";
  if (title.length < 3 || title.length > 120) return bad("title missing or not 3-120 characters");
  if (explanation.length < 10 || explanation.length > 1000)
    return bad("explanation missing or not 10-1000 characters");
  return { ok: true, title, explanation };
}
