/** For tests only: a manual clock, a capturing logger and a config pointed at the fixture server. */

import { loadConfig } from "../../runtime/config/load.ts";
import type { HomeIQConfig } from "../../runtime/config/schema.ts";
import type { Clock } from "../../runtime/kernel/clock.ts";
import { createLogger, type Logger } from "../../runtime/kernel/log.ts";

export class ManualClock implements Clock {
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  constructor(public t = 1_764_000_000_000) {}
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (handle: unknown) => {
    this.timers.delete(handle as number);
  };
  /** Moves time forward and runs the timers that came due, in order. */
  advance(ms: number): void {
    this.t += ms;
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, t]) => t.at <= this.t)
        .sort((a, b) => a[1].at - b[1].at);
      if (due.length === 0) return;
      const [id, timer] = due[0];
      this.timers.delete(id);
      timer.fn();
    }
  }
  /** Delay of the one pending timer (the enricher's next poll), or undefined. */
  nextDelay(): number | undefined {
    const at = [...this.timers.values()].map((t) => t.at).sort((a, b) => a - b)[0];
    return at === undefined ? undefined : at - this.t;
  }
}

export interface CapturedLog {
  lines: { level: string; msg: string; [k: string]: unknown }[];
  log: Logger;
}

export function captureLog(): CapturedLog {
  const lines: CapturedLog["lines"] = [];
  return {
    lines,
    log: createLogger({ actor: "test", level: "debug", sink: (l) => lines.push(JSON.parse(l)) }),
  };
}

/** The default config with every enricher pointed at `baseUrl` and the given HOMEIQ_* overrides. */
export function fixtureConfig(baseUrl: string, env: Record<string, string> = {}): HomeIQConfig {
  return loadConfig({
    env: {
      HOMEIQ_ENRICHERS_WEATHER_URL: baseUrl,
      HOMEIQ_ENRICHERS_AIR_QUALITY_URL: baseUrl,
      HOMEIQ_ENRICHERS_CARBON_URL: baseUrl,
      HOMEIQ_ENRICHERS_PRICES_URL: baseUrl,
      HOMEIQ_ENRICHERS_TIMEOUT_MS: "300",
      HOMEIQ_ENRICHERS_RETRY_MIN_MS: "1000",
      HOMEIQ_ENRICHERS_RETRY_MAX_MS: "60000",
      HOMEIQ_ENRICHERS_BREAKER_THRESHOLD: "3",
      HOMEIQ_ENRICHERS_BREAKER_COOLDOWN_MS: "120000",
      ...env,
    },
  });
}
