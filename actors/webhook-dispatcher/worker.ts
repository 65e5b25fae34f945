/** Thin adapter: mailbox and API calls <-> Dispatcher. No rules live here. */

import { openPacked } from "../../runtime/events/packed.ts";
import { runActor } from "../../runtime/kernel/actor.ts";
import { answerCall } from "./calls.ts";
import { storedSince } from "./catch-up.ts";
import { Dispatcher } from "./dispatcher.ts";
import { ACTOR, check } from "./messages.ts";
import { WebhookStore } from "./store.ts";
import { TargetPolicy } from "./targets.ts";

runActor({
  name: ACTOR,
  check,
  start(ctx) {
    const store = new WebhookStore(ctx.config.dataDir);
    const targets = TargetPolicy.fromConfig(ctx.config);
    const dispatcher = new Dispatcher({
      store,
      config: ctx.config.webhooks,
      clock: ctx.clock,
      random: Math.random,
      fetch: (url, init) => fetch(url, init),
      targets,
      metrics: ctx.metrics,
      log: ctx.log,
      catchUp: (fromUs, max) => storedSince(ctx.config.dataDir, fromUs, max),
    });
    dispatcher.start();
    return {
      handle(msg) {
        if (msg.type === "stored") {
          const opened = openPacked(msg.events);
          if (opened.ok) dispatcher.onStored(opened.cols, msg.source ?? "live");
          else ctx.log.warn(`skipped a stored batch: ${opened.error}`);
        } else if (msg.type === "enrichment") dispatcher.onEnrichment(msg);
        else dispatcher.onHealth(msg);
      },
      call(body) {
        return answerCall({ dispatcher, store, targets, maxRules: ctx.config.webhooks.maxRules }, body);
      },
      async close() {
        // Attempts still in flight after this stay pending in webhooks.db and resume, same id, on start.
        await dispatcher.stop(Math.min(2000, ctx.config.webhooks.timeoutMs));
        store.close();
      },
    };
  },
});
