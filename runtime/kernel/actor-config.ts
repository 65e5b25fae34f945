/**
 * What `ctx.config` holds, as the kernel sees it: nothing it knows of. The kernel imports nothing outside
 * runtime/kernel/, so the app names its settings by augmenting this interface
 * (runtime/config/actor-config.ts); actors then read `ctx.config` fully typed.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by declaration merging from runtime/config/.
export interface ActorConfig {}
