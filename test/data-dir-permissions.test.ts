/**
 * The data dir is HomeIQ's own (review finding 14): every place that creates part of it makes it 0700
 * and its files 0600 under the usual 022 umask, and `runtime/app/main.ts` tightens a data dir an older
 * HomeIQ left at 0755/0644 when it starts.
 */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Spool } from "../actors/connection/spool.ts";
import { openMetadataDb } from "../actors/metadata/db.ts";
import { WebhookStore } from "../actors/webhook-dispatcher/store.ts";
import { packEvents } from "../runtime/events/packed.ts";
import { waitFor } from "../runtime/kernel/clock.ts";
import { openDatabase } from "../runtime/kernel/sqlite.ts";
import { openStoreReader } from "../runtime/store/index.ts";
import { openStoreWriter } from "../runtime/store/writer.ts";
import { spawnChild } from "./support/proc.ts";
import { tempDirs } from "./support/temp-dirs.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const tempDir = tempDirs("homeiq-perms-");
const modeOf = (path: string) => statSync(path).mode & 0o777;

/** Every file and dir under `dir` (two levels) with its mode, for one whole-picture assertion. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string, depth: number) => {
    for (const name of readdirSync(join(dir, rel))) {
      const path = join(rel, name);
      out[path] = modeOf(join(dir, path)).toString(8);
      if (statSync(join(dir, path)).isDirectory() && depth < 1) walk(path, depth + 1);
    }
  };
  walk("", 0);
  return out;
}

let umask = 0;
beforeAll(() => {
  umask = process.umask(0o022); // the usual umask, under which these came out 0755 and 0644
});
afterAll(() => {
  process.umask(umask);
});

describe("data dir permissions", () => {
  test("the stores, the webhook store, metadata, SQLite opens and the spool create 0700 dirs and 0600 files", () => {
    const dataDir = join(tempDir(), "data");
    mkdirSync(dataDir, { mode: 0o700 });
    const writer = openStoreWriter(dataDir, { dictionaryCache: 100 });
    const reader = openStoreReader(dataDir);
    const webhooks = new WebhookStore(dataDir);
    const metadata = openMetadataDb(dataDir);
    const influx = openDatabase(join(dataDir, "influx.db"));
    const spool = new Spool(join(dataDir, "spool"), { maxBytes: 1 << 20, segmentBytes: 1 << 16 });
    spool.append({ source: "live", events: packEvents([]) });
    for (const db of [writer.db, metadata, influx])
      db.exec("CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (1)");
    const all = modes(dataDir);
    writer.close();
    reader.close();
    webhooks.close();
    metadata.close();
    influx.close();
    spool.close();
    expect(all.spool).toBe("700");
    for (const [path, mode] of Object.entries(all))
      if (path !== "spool") expect({ path, mode }).toEqual({ path, mode: "600" });
    expect(Object.keys(all)).toEqual(
      expect.arrayContaining(["events.db", "events.db-wal", "webhooks.db", "metadata.db", "influx.db"]),
    );
    expect(Object.keys(all).some((p) => p.startsWith("spool/seg-"))).toBe(true);
  });

  test("runtime/app/main.ts tightens an older 0755/0644 data dir at start and creates the rest owner-only", async () => {
    const dataDir = join(tempDir(), "data");
    mkdirSync(join(dataDir, "spool"), { recursive: true });
    mkdirSync(join(dataDir, "backups"));
    chmodSync(dataDir, 0o755);
    const old = new Database(join(dataDir, "events.db"), { create: true }); // as an older HomeIQ made it
    old.close();
    writeFileSync(join(dataDir, "backups", "homeiq-old.tar"), "x", { mode: 0o644 });
    expect([modeOf(dataDir), modeOf(join(dataDir, "events.db")), modeOf(join(dataDir, "spool"))]).toEqual([
      0o755, 0o644, 0o755,
    ]);
    const { HOMEIQ_API_TOKEN: _unset, ...rest } = process.env;
    const homeiq = spawnChild(["bun", "run", join(ROOT, "runtime/app/main.ts")], {
      ...rest,
      HOMEIQ_DATA_DIR: dataDir,
      HOMEIQ_PORT: "0",
      HOMEIQ_HOST: "127.0.0.1",
      HOMEIQ_LOG_LEVEL: "warn",
      HOMEIQ_SIM_ENTITIES: "20",
      HOMEIQ_SIM_RATE: "20",
      HOMEIQ_ENRICHERS_WEATHER: "false",
      HOMEIQ_ENRICHERS_AIR_QUALITY: "false",
      HOMEIQ_ENRICHERS_CARBON: "false",
      HOMEIQ_ENRICHERS_PRICES: "false",
    });
    try {
      await homeiq.waitForLine(/^HomeIQ dashboard: /, 90_000);
      await waitFor(
        () =>
          ["webhooks.db", "metadata.db", "api-token", "homeiq.pid"].every((f) =>
            existsSync(join(dataDir, f)),
          ),
        { timeoutMs: 30_000, what: "the data dir's files" },
      );
      const all = modes(dataDir);
      expect(modeOf(dataDir)).toBe(0o700);
      for (const [path, mode] of Object.entries(all)) {
        const dir = statSync(join(dataDir, path)).isDirectory();
        expect({ path, mode }).toEqual({ path, mode: dir ? "700" : "600" });
      }
      expect(Object.keys(all)).toEqual(
        expect.arrayContaining([
          "events.db",
          "events.db-wal",
          "webhooks.db",
          "metadata.db",
          "backups/homeiq-old.tar",
        ]),
      );
    } finally {
      await homeiq.stop("SIGTERM", 15_000);
    }
  }, 150_000);
});
