/** Thin adapter: mailbox and API calls <-> Dispatcher. No rules live here. */

import { openPacked } from "../../runtime/events/packed.ts";
import { runActor } from "../../runtime/kernel/actor.ts";
import { storedSince } from "./catch-up.ts";
import { Dispatcher } from "./dispatcher.ts";
import { ACTOR, check, checkCall } from "./messages.ts";
import { WebhookStore } from "./store.ts";
import { TargetPolicy } from "./targets.ts";

runActor({
  name: ACTOR,
  check,
  start(ctx) {
    const store = new WebhookStore(ctx.config.dataDir);
    const dispatcher = new Dispatcher({
      store,
      config: ctx.config.webhooks,
      clock: ctx.clock,
      random: Math.random,
      fetch: (url, init) => fetch(url, init),
      targets: TargetPolicy.fromConfig(ctx.config),
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
      async call(body) {
        const checked = checkCall(body);
        if (!checked.ok) throw new Error(checked.error);
        const c = checked.value;
        switch (c.type) {
          case "reload-rules":
            return { rules: dispatcher.reloadRules() };
          case "test-fire":
            return (await dispatcher.testFire(c.ruleId)) ?? null;
          case "replay":
            return dispatcher.replay(c.deliveryId) ?? null;
          case "status":
            return dispatcher.status();
        }
      },
      async close() {
        // Attempts still in flight after this stay pending in webhooks.db and resume, same id, on start.
        await dispatcher.stop(Math.min(2000, ctx.config.webhooks.timeoutMs));
        store.close();
      },
    };
  },
});
