/**
 * The influx-writer actor: tails events.db into InfluxDB (see ./exporter.ts). Wired only when
 * `influx.url` is set. Thin adapter: the loop below only sequences steps, waits and wake-ups.
 */

import { type BatcherMessage, batcherMessage } from "../../runtime/events/messages.ts";
import { runActor } from "../../runtime/kernel/actor.ts";
import { errorMessage } from "../../runtime/kernel/log.ts";
import { EDGES } from "../edges.ts";
import { exporterMetrics, InfluxExporter, influxSender, WriteFailure } from "./exporter.ts";
import { check } from "./messages.ts";

runActor({
  name: "influx-writer",
  check,
  start(ctx) {
    const config = ctx.config.influx;
    const exporter = new InfluxExporter({
      dataDir: ctx.config.dataDir,
      config,
      send: influxSender(config, ctx.clock, ctx.log),
      clock: ctx.clock,
      log: ctx.log,
      metrics: exporterMetrics(ctx.metrics),
      // A home's attribute combinations grow for weeks (every brightness, every temperature): the caches
      // hold the working set, not the history.
      dictionaryCache: ctx.config.store.dictionaryCache,
    });
    let closing = false;
    let wake: (() => void) | null = null;
    let lastError: string | null = null;
    /** Waits `ms`; a wake-up message ends an idle wait (not a backoff); closing ends any wait. */
    let stopWaiting: (() => void) | null = null;
    const pause = (ms: number, wakeable: boolean) =>
      new Promise<void>((resolve) => {
        const done = () => {
          ctx.clock.clearTimeout(timer);
          wake = null;
          stopWaiting = null;
          resolve();
        };
        const timer = ctx.clock.setTimeout(done, ms);
        stopWaiting = done;
        if (wakeable) wake = done;
      });
    const status = (state: "writing" | "idle" | "retrying") =>
      ctx.notify("influx-status", { state, url: config.url, lastError, ...exporter.measureLag() });

    // The acknowledged position goes to the batcher with each lag measurement (about once a second, and
    // at once on start): retention there never takes a row past it. A full mailbox only delays it. The
    // edge is looked up each time: the batcher starts after this actor, and wires it when it does.
    const report = () => {
      if (ctx.hasOutbox(EDGES.influxToBatcher))
        ctx
          .outbox<BatcherMessage>(EDGES.influxToBatcher)
          .trySend(batcherMessage.exportPosition(exporter.position()));
    };

    // Lag gauges once a second: measuring counts rows, and a step takes milliseconds while catching up.
    let lagAt = Number.NEGATIVE_INFINITY;
    const loop = async () => {
      while (!closing) {
        try {
          const n = await exporter.step();
          if (lastError !== null) {
            lastError = null;
            status("writing");
          }
          if (ctx.clock.now() - lagAt >= 1000 || n === 0) {
            lagAt = ctx.clock.now();
            exporter.measureLag();
            report();
          }
          if (n > 0) continue; // catching up: next batch at once
          await pause(config.flushIntervalMs, true);
        } catch (error) {
          const failure =
            error instanceof WriteFailure ? error : new WriteFailure(errorMessage(error), 0, null);
          const waitMs = exporter.failed(failure);
          if (failure.message !== lastError)
            ctx.log.warn("InfluxDB write failed; will retry", { error: failure.message, waitMs });
          lastError = failure.message;
          status("retrying");
          report();
          await pause(waitMs, false);
        }
      }
    };
    report();
    const running = loop();
    return {
      handle() {
        wake?.();
      },
      call(body) {
        const type = (body as { type?: string })?.type;
        if (type === "dead-letters") return exporter.deadLetters();
        if (type === "lag") return exporter.measureLag();
        throw new Error('influx-writer: unknown call; expected {type: "dead-letters"} or {type: "lag"}');
      },
      async close() {
        closing = true;
        stopWaiting?.();
        await running;
        exporter.close();
      },
    };
  },
});
