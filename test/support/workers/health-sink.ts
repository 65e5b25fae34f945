/** A test actor standing in for the webhook dispatcher: records the health messages it receives. */

import { type HealthMessage, HealthMessageSchema } from "../../../actors/webhook-dispatcher/messages.ts";
import { runActor } from "../../../runtime/kernel/actor.ts";
import { messageChecker } from "../../../runtime/kernel/schema.ts";

const check = messageChecker("health-sink", { health: HealthMessageSchema });

runActor({
  name: "health-sink",
  check,
  start() {
    const seen: HealthMessage[] = [];
    return {
      handle(msg) {
        seen.push(msg);
      },
      call: () => seen,
    };
  },
});
