/**
 * The layers, lowest first: a file may import its own layer and the ones before it, never one after.
 * A file's layer is the entry with the longest path prefix that matches it (test/layers.test.ts).
 * Why this order: docs/architecture.md ("Layers").
 */
export type LayerTable = readonly { name: string; paths: readonly string[] }[];

export const LAYERS: LayerTable = [
  /** The generic actor kernel: supervisor, mailbox, logging, metrics. Imports nothing outside itself. */
  { name: "kernel", paths: ["runtime/kernel"] },
  /** The settings' schema (read by every layer above) and their loader. */
  { name: "config", paths: ["runtime/config"] },
  /** Shared event records, the packed batch format, the batcher's messages. */
  { name: "events", paths: ["runtime/events"] },
  /** The one door to events.db. */
  { name: "store", paths: ["runtime/store"] },
  /** One folder per actor; actors/edges.ts names the edges between them. */
  { name: "actors", paths: ["actors"] },
  /** The Home Assistant simulator: speaks the connection actor's protocol; the app embeds it by default. */
  { name: "sim", paths: ["sim"] },
  /** Backup, import and export of the data dir, used by the CLI and the API. */
  { name: "ops", paths: ["runtime/ops"] },
  /** The HTTP API on the main thread. */
  { name: "api", paths: ["runtime/api"] },
  /** The composition root: main, the supervision tree, the CLI. */
  { name: "app", paths: ["runtime/app"] },
  /** The dashboard (a browser bundle; it shares the API's types). */
  { name: "web", paths: ["web"] },
  /** Tests, benchmarks and their support: nothing in the source may import them. */
  { name: "test", paths: ["test", "bench"] },
];

/** Where the source lives (tests, *.bench.ts and *.d.ts excluded by name). */
export const SOURCE_DIRS = ["runtime", "actors", "sim", "web"] as const;
