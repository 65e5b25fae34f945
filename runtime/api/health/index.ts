/**
 * `GET /health`: liveness, no auth, no I/O. `GET /health/deep` (token): each actor's state, restarts and
 * mailbox depth and oldest waiting message, HA connection, Influx lag and store size, with the reasons for
 * a degraded status; 503 when an actor has failed for good.
 */
import { Elysia } from "elysia";
import type { ApiDeps } from "../deps.ts";
import { DeepHealth, Liveness } from "./model.ts";
import { deepHealth, liveness } from "./service.ts";

export function health(deps: Pick<ApiDeps, "supervisor" | "metrics" | "live" | "config">, now: () => number) {
  const startedAt = now();
  return new Elysia({ detail: { tags: ["health"] } })
    .get("/health", () => liveness(startedAt, now()), {
      response: Liveness,
      detail: { summary: "Liveness (no auth)", security: [] },
    })
    .get(
      "/health/deep",
      ({ set }) => {
        const report = deepHealth({ ...deps, stuckAfterMs: deps.config.supervisor.stuckAfterMs });
        if (report.status === "failed") set.status = 503;
        return report;
      },
      {
        response: { 200: DeepHealth, 503: DeepHealth },
        detail: { summary: "Each actor's state, mailboxes, HA connection, Influx lag, store size" },
      },
    );
}
