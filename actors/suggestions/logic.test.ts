import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../runtime/config/load.ts";
import { minerOptionsFor, nextRunDelay, resolveTimeZone } from "./logic.ts";

const schedule = { startDelayMs: 60_000, intervalMs: 6 * 3_600_000 };

describe("nextRunDelay", () => {
  test("waits startDelayMs after start when the store has never run", () => {
    expect(nextRunDelay(null, 1_000_000, 1_000_000, schedule)).toBe(60_000);
    expect(nextRunDelay(null, 1_000_000, 1_050_000, schedule)).toBe(10_000);
  });

  test("runs intervalMs after the last run, which survives restarts", () => {
    const last = 10_000_000;
    expect(nextRunDelay(last, last + 1, last + 3_600_000, schedule)).toBe(5 * 3_600_000);
  });

  test("never runs sooner than startDelayMs after a restart, even when overdue", () => {
    expect(nextRunDelay(0, 100 * 3_600_000, 100 * 3_600_000, schedule)).toBe(60_000);
    expect(nextRunDelay(0, 100 * 3_600_000, 100 * 3_600_000 + 90_000, schedule)).toBe(0);
  });
});

describe("minerOptionsFor", () => {
  test("mines the last suggestions.days days up to now with the configured thresholds", () => {
    const config = loadConfig({
      env: {
        HOMEIQ_SUGGESTIONS_DAYS: "14",
        HOMEIQ_SUGGESTIONS_TIME_ZONE: "Europe/Berlin",
        HOMEIQ_SUGGESTIONS_MIN_OCCURRENCES: "4",
      },
    });
    const now = Date.UTC(2026, 10, 25);
    expect(minerOptionsFor(config, now)).toEqual({
      from: now - 14 * 86_400_000,
      to: now,
      timeZone: "Europe/Berlin",
      minOccurrences: 4,
      minConfidence: 0.6,
      coWindowMs: 30_000,
      leftOnMinMs: 1_800_000,
      maxSamplesPerKey: 5000,
    });
  });

  test("rejects an unknown time zone with the variable and the fix", () => {
    expect(() => resolveTimeZone("Mars/Olympus")).toThrow(
      'suggestions.timeZone (HOMEIQ_SUGGESTIONS_TIME_ZONE): unknown time zone "Mars/Olympus". Fix: use an IANA name like Europe/Berlin, or leave it empty for Home Assistant\'s time zone.',
    );
    expect(resolveTimeZone("")).toBeTruthy();
  });

  test("counts in Home Assistant's time_zone unless a zone is configured; an unknown HA zone falls back", () => {
    const now = Date.UTC(2026, 10, 25);
    expect(minerOptionsFor(loadConfig({ env: {} }), now, "Australia/Adelaide").timeZone).toBe(
      "Australia/Adelaide",
    );
    const berlin = loadConfig({ env: { HOMEIQ_SUGGESTIONS_TIME_ZONE: "Europe/Berlin" } });
    expect(minerOptionsFor(berlin, now, "Australia/Adelaide").timeZone).toBe("Europe/Berlin");
    expect(resolveTimeZone("", "Mars/Olympus")).toBe(
      Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
    );
  });
});
