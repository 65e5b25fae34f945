/**
 * Tells the kernel what `ctx.config` is: HomeIQ's settings. Declaration merging lets the kernel stay free
 * of app imports (runtime/kernel/actor-config.ts) while actors keep a typed config.
 */
import type { HomeIQConfig } from "./schema.ts";

declare module "../kernel/actor-config.ts" {
  interface ActorConfig extends HomeIQConfig {}
}
