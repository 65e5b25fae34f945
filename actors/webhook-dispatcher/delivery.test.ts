import { describe, expect, test } from "bun:test";
import { Breaker, decide, retryAfterMs } from "./delivery.ts";

const policy = { maxAttempts: 4, maxAgeMs: 60_000, retryMinMs: 100, retryMaxMs: 1000 };
const half = () => 0.5;

describe("decide", () => {
  test("2xx is delivered; 4xx other than 408/425/429 is dead at once", () => {
    expect(decide({ status: 204 }, { attempts: 1, createdAt: 0 }, 0, policy, half)).toEqual({
      kind: "delivered",
    });
    expect(decide({ status: 404 }, { attempts: 1, createdAt: 0 }, 0, policy, half)).toEqual({
      kind: "dead",
      reason: "HTTP 404 (not retryable)",
    });
  });

  test("backoff doubles with jitter inside [ceiling/2, ceiling] and stops at maxAttempts", () => {
    const at = [1, 2, 3].map((attempts) =>
      decide({ status: 503 }, { attempts, createdAt: 0 }, 0, policy, half),
    );
    expect(at).toEqual([
      { kind: "retry", at: 75, reason: "HTTP 503" },
      { kind: "retry", at: 150, reason: "HTTP 503" },
      { kind: "retry", at: 300, reason: "HTTP 503" },
    ]);
    expect(decide({ error: "ECONNREFUSED" }, { attempts: 4, createdAt: 0 }, 0, policy, half)).toEqual({
      kind: "dead",
      reason: "ECONNREFUSED; gave up after 4 attempts",
    });
  });

  test("Retry-After longer than the backoff wins; past maxAgeMs it dead-letters", () => {
    expect(
      decide({ status: 429, retryAfter: "7" }, { attempts: 1, createdAt: 0 }, 1000, policy, half),
    ).toEqual({
      kind: "retry",
      at: 8000,
      reason: "HTTP 429",
    });
    expect(
      decide({ status: 429, retryAfter: "120" }, { attempts: 1, createdAt: 0 }, 0, policy, half),
    ).toEqual({
      kind: "dead",
      reason: "HTTP 429; next attempt would pass webhooks.maxAgeMs",
    });
  });

  test("Retry-After accepts seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("3", now)).toBe(3000);
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(retryAfterMs("soon", now)).toBeUndefined();
  });
});

describe("Breaker", () => {
  test("opens after the threshold, lets one trial through after the cooldown, closes on its success", () => {
    const b = new Breaker(2, 1000);
    b.failure(0);
    expect(b.allow(1)).toBe(true);
    b.failure(10);
    expect([b.stateAt(11), b.allow(11), b.allow(1009)]).toEqual(["open", false, false]);
    expect([b.stateAt(1010), b.allow(1010), b.allow(1010)]).toEqual(["half-open", true, false]);
    b.failure(1020);
    expect([b.stateAt(1500), b.allow(2019), b.allow(2020)]).toEqual(["open", false, true]);
    b.success();
    expect([b.stateAt(2030), b.allow(2030), b.allow(2030)]).toEqual(["closed", true, true]);
  });
});
