/**
 * The worker side of the enricher actor (./worker.ts runs it for the source its child spec names):
 * `runEnricher(source, check)` wires the engine to the actor's edges (`enricher-<name>->batcher`,
 * `enricher-<name>->webhooks`, ../edges.ts), answers calls, and asks the main thread for HA's location
 * when it has none.
 */
import { runActor } from "../../runtime/kernel/actor.ts";
import type { MessageCheck } from "../../runtime/kernel/schema.ts";
import { enricherEdges } from "../edges.ts";
import { Enricher } from "./engine.ts";
import {
  type EnricherMessage,
  type EnrichmentBatch,
  type EnrichmentUpdate,
  enricherActor,
  NEEDS_LOCATION,
} from "./messages.ts";
import type { EnricherSource } from "./source.ts";

export function runEnricher(source: EnricherSource, check: MessageCheck<EnricherMessage>): void {
  runActor({
    name: enricherActor(source.name),
    check,
    start(ctx) {
      const { toBatcher, toWebhooks } = enricherEdges(source.name);
      const enricher = new Enricher({
        source,
        config: ctx.config,
        clock: ctx.clock,
        log: ctx.log,
        metrics: ctx.metrics,
        // Looked up per send: edges to actors that are off (or not built yet) are simply absent.
        store: (batch) =>
          ctx.hasOutbox(toBatcher) ? ctx.outbox<EnrichmentBatch>(toBatcher).send(batch) : Promise.resolve(),
        announce: (update) =>
          ctx.hasOutbox(toWebhooks) ? ctx.outbox<EnrichmentUpdate>(toWebhooks).trySend(update) : true,
      });
      enricher.start();
      // After `ready` has gone out (a macrotask later), so the main thread can already call us back.
      if (enricher.waitingForLocation)
        setTimeout(() => ctx.notify(NEEDS_LOCATION, { source: source.name }), 0);
      const handle = async (msg: EnricherMessage) => {
        switch (msg.type) {
          case "location":
            enricher.setLocation({ latitude: msg.latitude, longitude: msg.longitude });
            return enricher.latest();
          case "refresh":
            await enricher.poll(true);
            return enricher.latest();
          case "latest":
            return enricher.latest();
        }
      };
      return {
        handle: async (msg) => {
          await handle(msg);
        },
        call: (body) => {
          const checked = check(body);
          if (!checked.ok) throw new Error(checked.error);
          return handle(checked.value);
        },
        stopIntake: () => enricher.stop(),
      };
    },
  });
}
