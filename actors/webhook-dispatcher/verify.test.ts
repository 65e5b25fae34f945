import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { sign, verify } from "./verify.ts";

const secret = "s3cret-s3cret-s3cret";
const now = 1_700_000_000_000;
const ts = Math.floor(now / 1000);

describe("verify", () => {
  test("accepts what sign produced, for any body", () => {
    fc.assert(
      fc.property(fc.string(), (body) => {
        expect(
          verify({ secret, body, timestamp: String(ts), signature: sign(secret, ts, body), now }),
        ).toEqual({
          ok: true,
        });
      }),
    );
  });

  test("rejects a changed body, a wrong secret and a missing signature", () => {
    const sig = sign(secret, ts, '{"a":1}');
    expect(verify({ secret, body: '{"a":2}', timestamp: ts, signature: sig, now })).toEqual({
      ok: false,
      reason: "signature does not match",
    });
    expect(
      verify({ secret: "other-secret-value", body: '{"a":1}', timestamp: ts, signature: sig, now }).ok,
    ).toBe(false);
    expect(verify({ secret, body: '{"a":1}', timestamp: ts, signature: null, now })).toEqual({
      ok: false,
      reason: "missing X-HomeIQ-Signature",
    });
  });

  test("rejects a correctly signed replay once it is older than the tolerance", () => {
    const body = '{"id":"x"}';
    const sig = sign(secret, ts, body);
    expect(verify({ secret, body, timestamp: ts, signature: sig, now: now + 300_000 }).ok).toBe(true);
    expect(verify({ secret, body, timestamp: ts, signature: sig, now: now + 301_000 })).toEqual({
      ok: false,
      reason: "timestamp outside the 300 s tolerance (replay or clock skew)",
    });
    expect(
      verify({ secret, body, timestamp: ts, signature: sig, now: now + 61_000, toleranceSec: 60 }).ok,
    ).toBe(false);
  });

  test("a timestamp changed to look fresh breaks the signature", () => {
    const body = "{}";
    const sig = sign(secret, ts, body);
    expect(verify({ secret, body, timestamp: ts + 600, signature: sig, now: now + 600_000 }).ok).toBe(false);
  });

  test("accepts any one of several comma-separated signatures (secret rotation)", () => {
    const body = "{}";
    const signature = `${sign("old-secret-old-secret", ts, body)}, ${sign(secret, ts, body)}`;
    expect(verify({ secret, body, timestamp: ts, signature, now }).ok).toBe(true);
  });
});
