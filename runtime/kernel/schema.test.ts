import { describe, expect, test } from "bun:test";
import { Type as T } from "@sinclair/typebox";
import { messageChecker } from "./schema.ts";

const check = messageChecker("batcher", {
  events: T.Object({ type: T.Literal("events"), count: T.Integer({ minimum: 0 }) }),
  flush: T.Object({ type: T.Literal("flush") }),
});

describe("messageChecker", () => {
  test("accepts a valid message as its typed value", () => {
    expect(check({ type: "events", count: 3 })).toEqual({ ok: true, value: { type: "events", count: 3 } });
  });
  test("names the actor, the message type and the bad field", () => {
    expect(check({ type: "events", count: "3" })).toEqual({
      ok: false,
      error: 'actor "batcher" rejected message "events": field /count: Expected integer, got "3"',
    });
  });
  test("names the known types when the type is unknown or missing", () => {
    expect(check({ type: "evnts" })).toEqual({
      ok: false,
      error:
        'actor "batcher" rejected message "evnts": field /type: unknown type; expected one of events, flush',
    });
    expect(check(42)).toMatchObject({ ok: false, error: expect.stringContaining("field /type") });
  });
});
