import { afterAll, describe, expect, test } from "bun:test";
import { completionsUrl, parseReply, rewriteSuggestion } from "./llm.ts";

/** A local OpenAI-compatible fixture: the path picks the behaviour. */
let release: () => void = () => {};
const hang = new Promise<void>((resolve) => {
  release = resolve;
});
const seen: {
  path: string;
  auth: string | null;
  body: { model: string; messages: { content: string }[] };
}[] = [];
const reply = (content: string) =>
  Response.json({
    id: "x",
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content } }],
  });
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const path = new URL(req.url).pathname;
    seen.push({ path, auth: req.headers.get("authorization"), body: await req.json() });
    if (path.startsWith("/ok/"))
      return reply('{"title": "Kitchen light at 7", "explanation": "You switch it on at 7 on weekdays."}');
    if (path.startsWith("/fenced/"))
      return reply(
        '```json\n{"title": "Hall light", "explanation": "The hall light follows the door."}\n```',
      );
    if (path.startsWith("/prose/")) return reply("Sure! Here is a nicer title for you.");
    if (path.startsWith("/empty-title/"))
      return reply('{"title": "", "explanation": "Something long enough."}');
    if (path.startsWith("/error/")) return new Response("model overloaded", { status: 503 });
    if (path.startsWith("/slow/")) {
      await hang;
      return reply('{"title": "late", "explanation": "too late to matter"}');
    }
    return new Response("no such route", { status: 404 });
  },
});
afterAll(() => {
  release();
  server.stop(true);
});

const base = (path: string) => `http://127.0.0.1:${server.port}/${path}`;
const suggestion = {
  kind: "time_of_day",
  title: "Turn on Kitchen light at 07:00",
  explanation: "x",
  evidence: { count: 5 },
};

describe("rewriteSuggestion", () => {
  test("sends the model, key and suggestion, and takes title and explanation from the reply", async () => {
    const result = await rewriteSuggestion(
      { url: base("ok"), model: "tiny", key: "k-123", timeoutMs: 2000 },
      suggestion,
    );
    expect(result).toEqual({
      ok: true,
      title: "Kitchen light at 7",
      explanation: "You switch it on at 7 on weekdays.",
    });
    const request = seen.at(-1)!;
    expect(request.path).toBe("/ok/v1/chat/completions");
    expect(request.auth).toBe("Bearer k-123");
    expect(request.body.model).toBe("tiny");
    expect(JSON.parse(request.body.messages[1].content).title).toBe(suggestion.title);
  });

  test("accepts JSON wrapped in a code fence", async () => {
    const result = await rewriteSuggestion({ url: base("fenced"), timeoutMs: 2000 }, suggestion);
    expect(result).toMatchObject({ ok: true, title: "Hall light" });
  });

  test("reports an HTTP failure with its status, so the miner's text stands", async () => {
    const result = await rewriteSuggestion({ url: base("error"), timeoutMs: 2000 }, suggestion);
    expect(result).toMatchObject({ ok: false, reason: "http" });
    expect(!result.ok && result.error).toContain("HTTP 503");
  });

  test("reports a reply that is not the JSON asked for", async () => {
    expect(await rewriteSuggestion({ url: base("prose"), timeoutMs: 2000 }, suggestion)).toMatchObject({
      ok: false,
      reason: "reply",
    });
    expect(await rewriteSuggestion({ url: base("empty-title"), timeoutMs: 2000 }, suggestion)).toMatchObject({
      ok: false,
      reason: "reply",
    });
  });

  test("gives up after timeoutMs with a timeout outcome", async () => {
    const t0 = performance.now();
    const result = await rewriteSuggestion({ url: base("slow"), timeoutMs: 300 }, suggestion);
    expect(result).toMatchObject({ ok: false, reason: "timeout" });
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  test("reports an unreachable endpoint as a network failure", async () => {
    const result = await rewriteSuggestion({ url: "http://127.0.0.1:1", timeoutMs: 2000 }, suggestion);
    expect(result).toMatchObject({ ok: false, reason: "network" });
  });
});

describe("completionsUrl and parseReply", () => {
  test("builds the chat completions path from a base URL in any common form", () => {
    expect(completionsUrl("http://h:1")).toBe("http://h:1/v1/chat/completions");
    expect(completionsUrl("http://h:1/v1/")).toBe("http://h:1/v1/chat/completions");
    expect(completionsUrl("http://h:1/v1/chat/completions")).toBe("http://h:1/v1/chat/completions");
  });

  test("rejects a completion without choices", () => {
    expect(parseReply("u", "{}")).toEqual({
      ok: false,
      reason: "reply",
      error: "u: reply has no choices[0].message.content",
    });
  });
});
