import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type SseMessage, SseParser } from "./sse.ts";

function parseAll(chunks: string[]): SseMessage[] {
  const parser = new SseParser();
  return chunks.flatMap((c) => parser.push(c));
}

describe("SseParser", () => {
  test("dispatches named events with id and multi-line data at blank lines", () => {
    const text =
      'event: ready\ndata: {"a":1}\n\n: keep-alive comment\nevent: state\nid: 17\ndata: line1\ndata: line2\n\n';
    expect(parseAll([text])).toEqual([
      { event: "ready", data: '{"a":1}', id: null },
      { event: "state", data: "line1\nline2", id: "17" },
    ]);
  });

  test("defaults the event name to message and ignores events without data", () => {
    expect(parseAll(["event: ping\n\ndata: x\n\n"])).toEqual([{ event: "message", data: "x", id: null }]);
  });

  test("accepts CRLF and CR line endings, including CRLF split across chunks", () => {
    expect(parseAll(["data: a\r", "\n\r", "\ndata: b\r\r\n"])).toEqual([
      { event: "message", data: "a", id: null },
      { event: "message", data: "b", id: null },
    ]);
  });

  test("remembers the server's retry hint", () => {
    const parser = new SseParser();
    parser.push("retry: 2500\n\n");
    expect(parser.retryMs).toBe(2500);
  });

  test("yields the same events however the stream is split into chunks", () => {
    const payload = fc.stringMatching(/^[^\r\n]{0,20}$/);
    const event = fc.record({ name: fc.constantFrom("state", "ping", "ready"), data: payload });
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (events, cuts) => {
          const text = events.map((e) => `event: ${e.name}\ndata: ${e.data}\n\n`).join("");
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
          const chunks: string[] = [];
          let at = 0;
          for (const p of points) {
            chunks.push(text.slice(at, p));
            at = p;
          }
          chunks.push(text.slice(at));
          expect(parseAll(chunks)).toEqual(events.map((e) => ({ event: e.name, data: e.data, id: null })));
        },
      ),
    );
  });
});
