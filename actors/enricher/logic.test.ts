import { describe, expect, test } from "bun:test";
import {
  beginFetch,
  type EnricherPolicy,
  type EnricherState,
  initialState,
  latestPerMetric,
  mayFetch,
  onFailure,
  onSuccess,
} from "./logic.ts";

const policy: EnricherPolicy = {
  pollMs: 300_000,
  ttlMs: 300_000,
  retryMinMs: 1000,
  retryMaxMs: 60_000,
  breakerThreshold: 3,
  breakerCooldownMs: 120_000,
  errorLogIntervalMs: 600_000,
};
const boom = { reason: "server-error" as const, detail: "HTTP 503" };
const half = () => 0.5;

function failTimes(n: number, start = 0, state: EnricherState = initialState()) {
  const results = [];
  let s = state;
  for (let i = 0; i < n; i++) {
    const r = onFailure(beginFetch(s, start + i), start + i, boom, policy, "weather", half);
    s = r.state;
    results.push(r);
  }
  return { state: s, results };
}

describe("enricher logic: breaker and backoff", () => {
  test("failures back off exponentially, then the breaker opens at the threshold and waits its cooldown", () => {
    const { results } = failTimes(3);
    expect(results.map((r) => r.delayMs)).toEqual([750, 1500, 120_000]);
    expect(results.map((r) => r.state.breaker.state)).toEqual(["closed", "closed", "open"]);
    expect(results.map((r) => r.breakerOpened)).toEqual([false, false, true]);
  });

  test("an open breaker refuses requests until its cooldown, then lets one trial through half-open", () => {
    const { state } = failTimes(3, 0);
    expect(mayFetch(state, 2 + 119_999)).toBe(false);
    expect(mayFetch(state, 2 + 120_000)).toBe(true);
    const trial = beginFetch(state, 2 + 120_000);
    expect(trial.breaker).toEqual({ state: "half-open" });
    const reopened = onFailure(trial, 122_002, boom, policy, "weather", half);
    expect(reopened.state.breaker).toEqual({ state: "open", until: 122_002 + 120_000 });
    const recovered = onSuccess(beginFetch(reopened.state, 242_002), 242_002, [], policy, "weather");
    expect(recovered.state.breaker).toEqual({ state: "closed" });
    expect(recovered.state.failures).toBe(0);
    expect(recovered.log).toEqual({
      level: "info",
      msg: "enricher weather recovered",
      fields: { source: "weather", afterFailures: 4, suppressedLogs: expect.any(Number) },
    });
  });
});

describe("enricher logic: rate-limited error logs", () => {
  test("the first failure of a streak logs; repeats within the interval are counted, then logged once", () => {
    let s = initialState();
    const logged: (string | null)[] = [];
    for (const t of [0, 1000, 2000, 600_000, 600_500]) {
      const r = onFailure(s, t, boom, { ...policy, breakerThreshold: 100 }, "carbon", half);
      s = r.state;
      logged.push(r.log ? `${t}:${r.log.fields.suppressedSinceLastLog ?? 0}` : null);
    }
    expect(logged).toEqual(["0:0", null, null, "600000:2", null]);
  });

  test("the log line names the source, the reason and what happens next", () => {
    const r = onFailure(initialState(), 0, boom, policy, "prices", half);
    expect(r.log?.level).toBe("error");
    expect(r.log?.msg).toBe("enricher prices: server-error: HTTP 503; keeping the last good value");
    expect(r.log?.fields).toMatchObject({ source: "prices", reason: "server-error", retryInMs: 750 });
  });
});

describe("enricher logic: readings", () => {
  const r = (metric: string, ts: number, value = 1) => ({ metric, ts, value });

  test("only readings newer than those already stored are sent again", () => {
    const first = onSuccess(initialState(), 0, [r("t", 10), r("t", 20), r("h", 10)], policy, "w");
    expect(first.store).toEqual([r("t", 10), r("t", 20), r("h", 10)]);
    const second = onSuccess(first.state, 1, [r("t", 20), r("t", 30), r("h", 10)], policy, "w");
    expect(second.store).toEqual([r("t", 30)]);
  });

  test("latest value per metric is the newest at or before now, else the earliest forecast point", () => {
    const readings = [r("p", 100, 1), r("p", 200, 2), r("p", 300, 3), r("f", 500, 5), r("f", 400, 4)];
    expect(latestPerMetric(readings, 250)).toEqual([r("p", 200, 2), r("f", 400, 4)]);
  });

  test("a latest value is announced once, until it changes", () => {
    const a = onSuccess(initialState(), 0, [r("t", 10, 5)], policy, "w");
    const b = onSuccess(a.state, 1, [r("t", 10, 5)], policy, "w");
    const c = onSuccess(b.state, 2, [r("t", 20, 6)], policy, "w");
    expect([a.announce, b.announce, c.announce]).toEqual([[r("t", 10, 5)], [], [r("t", 20, 6)]]);
  });
});
