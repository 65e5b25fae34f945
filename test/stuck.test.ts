/**
 * Actors that stop taking messages, as real workers under the supervisor: /health/deep names them once their
 * oldest message has waited past supervisor.stuckAfterMs, the supervisor ends and restarts them like a
 * crash, and what waited for them is delivered to the restarted worker.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { deepHealth } from "../runtime/api/health/service.ts";
import { waitFor } from "../runtime/kernel/clock.ts";
import { createLogger } from "../runtime/kernel/log.ts";
import { MetricsHub } from "../runtime/kernel/metrics.ts";
import { type EdgeSpec, HUB, Supervisor } from "../runtime/kernel/supervisor.ts";

type Work = { type: "work"; id: number };
const STUCK_AFTER_MS = 400;
const fixture = (name: string) => new URL(`./support/workers/${name}-worker.ts`, import.meta.url).pathname;

let running: Supervisor | undefined;
afterEach(() => {
  running?.kill();
  running = undefined;
});

function start(children: { name: string; module: string }[], edges: EdgeSpec[]) {
  const metrics = new MetricsHub();
  const supervisor = new Supervisor(
    {
      children,
      edges,
      maxRestarts: 10,
      periodMs: 60000,
      backoffMinMs: 10,
      backoffMaxMs: 50,
      startTimeoutMs: 10000,
      metricsIntervalMs: 50,
      stuckAfterMs: STUCK_AFTER_MS,
      logLevel: "silent",
      config: {},
    },
    { log: createLogger({ actor: "supervisor", level: "silent" }), metrics, onFatal: () => {} },
  );
  running = supervisor;
  const health = () =>
    deepHealth({ supervisor, metrics, live: { clients: 0 }, stuckAfterMs: STUCK_AFTER_MS });
  const counter = (name: string, labels: Record<string, string>) =>
    supervisor.hubMetrics.counter(name, "", labels).value;
  const status = (name: string) => supervisor.status().find((s) => s.name === name)!;
  return { supervisor, metrics, health, counter, status };
}

const spinnerOnly = () =>
  start(
    [{ name: "spinner", module: fixture("spin") }],
    [{ name: "hub->spinner", from: HUB, to: "spinner", capacity: 4, retain: true }],
  );

describe("stuck actors", () => {
  test("a handler that spins forever degrades /health/deep naming the actor, is restarted, and nothing waiting for it is lost", async () => {
    const { supervisor, health, counter, status } = spinnerOnly();
    await supervisor.start();
    const out = supervisor.hubOutbox<Work>("hub->spinner");
    for (const id of [1, 2, 3]) await out.send({ type: "work", id });
    await out.drained();
    expect(health().status).toBe("ok");
    const frozeAt = performance.now();
    // The spinning message, then three more: the hub's sends do not wait on the stuck actor.
    for (const id of [-1, 4, 5, 6]) void out.send({ type: "work", id });

    const degraded = await waitFor(
      () => {
        const h = health();
        return h.reasons.some((r) => r.startsWith('actor "spinner": its oldest message has waited'))
          ? h
          : null;
      },
      { timeoutMs: 5000, intervalMs: 5, what: "/health/deep naming the spinner" },
    );
    const seenAfterMs = performance.now() - frozeAt;
    expect(degraded.status).toBe("degraded");
    expect(seenAfterMs).toBeGreaterThanOrEqual(STUCK_AFTER_MS);
    expect(seenAfterMs).toBeLessThan(STUCK_AFTER_MS + 1500);
    const spinner = degraded.actors.find((a) => a.name === "spinner")!;
    expect(spinner.mailboxOldestAgeMs).toBeGreaterThan(STUCK_AFTER_MS);

    // Restarted as stuck; each restarted worker gets the spinning message again and is restarted again,
    // until the mailbox sets it aside as poison (the third time); then the rest arrives.
    await waitFor(() => counter("mailbox_poison_total", { edge: "hub->spinner" }) === 1, {
      timeoutMs: 15000,
      what: "the spinning message set aside",
    });
    await waitFor(() => status("spinner").state === "running", { timeoutMs: 5000, what: "spinner running" });
    const seen = await waitFor(
      async () => {
        const s = (await supervisor.call("spinner", "seen")) as number[];
        return s.length === 3 ? s : null;
      },
      { timeoutMs: 5000, what: "4, 5 and 6 delivered" },
    );
    expect(seen).toEqual([4, 5, 6]);
    expect(counter("actor_stuck_restarts_total", { actor: "spinner" })).toBe(3);
    expect(counter("actor_restarts_total", { child: "spinner" })).toBe(3);
    expect(status("spinner")).toMatchObject({ restarts: 3 });
    expect(status("spinner").lastError).toStartWith("stuck: finished no message for ");
    await out.drained();
    await waitFor(() => health().status === "ok", { timeoutMs: 5000, what: "healthy again" });
  }, 30000);

  test("an actor whose thread spins outside any handler is seen by the messages left unread on its port", async () => {
    const { supervisor, health, counter, status } = spinnerOnly();
    await supervisor.start();
    // A call that never returns (as the dispatcher's rule reload did); the message goes in once it spins.
    void supervisor.call("spinner", "spin", 2000).catch(() => {});
    await waitFor(() => supervisor.notice("spinner", "spinning"), { timeoutMs: 5000, what: "spinning" });
    const out = supervisor.hubOutbox<Work>("hub->spinner");
    await out.send({ type: "work", id: 7 });
    await waitFor(() => health().reasons.some((r) => r.startsWith('actor "spinner"')), {
      timeoutMs: 5000,
      what: "/health/deep naming the spinner",
    });
    await waitFor(() => counter("actor_stuck_restarts_total", { actor: "spinner" }) === 1, {
      timeoutMs: 5000,
      what: "a stuck restart",
    });
    await waitFor(() => status("spinner").state === "running", { timeoutMs: 5000, what: "spinner running" });
    await out.drained();
    expect(await supervisor.call("spinner", "seen")).toEqual([7]);
    expect(counter("mailbox_poison_total", { edge: "hub->spinner" })).toBe(0);
  }, 30000);

  test("an actor waiting for credit behind a stuck one is held up, not restarted; the stuck one is", async () => {
    const { supervisor, metrics, health, counter, status } = start(
      [
        { name: "spinner", module: fixture("spin") },
        { name: "relay", module: fixture("relay") },
      ],
      [
        { name: "hub->relay", from: HUB, to: "relay", capacity: 4, retain: true },
        // The relay forwards on "relay->sink"; here the spinner is at the other end, with room for one.
        { name: "relay->sink", from: "relay", to: "spinner", capacity: 1, retain: true },
      ],
    );
    await supervisor.start();
    const out = supervisor.hubOutbox<Work>("hub->relay");
    for (const id of [-1, 1, 2, 3]) void out.send({ type: "work", id });
    // Both show: the spinner's message and the relay's (it waits in a send for the spinner's credit).
    const reasons = await waitFor(
      () => {
        const r = health().reasons.filter((line) => line.includes("oldest message"));
        return r.length === 2 ? r : null;
      },
      { timeoutMs: 5000, what: "both actors named" },
    );
    expect(reasons.map((r) => r.replace(/waited \d+ ms/, "waited N ms"))).toEqual([
      `actor "spinner": its oldest message has waited N ms (supervisor.stuckAfterMs is ${STUCK_AFTER_MS})`,
      `actor "relay": its oldest message has waited N ms (supervisor.stuckAfterMs is ${STUCK_AFTER_MS}); it is held up waiting for credit downstream`,
    ]);
    await waitFor(() => metrics.counter("mailbox_poison_total", { edge: "relay->sink" }) === 1, {
      timeoutMs: 15000,
      what: "the spinning message set aside by the relay",
    });
    await out.drained();
    await waitFor(() => status("spinner").state === "running", { timeoutMs: 5000, what: "spinner running" });
    const seen = await waitFor(
      async () => {
        const s = (await supervisor.call("spinner", "seen")) as number[];
        return s.length === 3 ? s : null;
      },
      { timeoutMs: 15000, what: "1, 2 and 3 at the spinner" },
    );
    expect(seen).toEqual([1, 2, 3]);
    expect(counter("actor_stuck_restarts_total", { actor: "spinner" })).toBe(3);
    expect(counter("actor_stuck_restarts_total", { actor: "relay" })).toBe(0);
    expect(status("relay").restarts).toBe(0);
  }, 30000);
});
