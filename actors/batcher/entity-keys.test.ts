/**
 * The batcher as a real worker actor over a store whose entity key space is nearly used up: new entities
 * past it are counted, never crash the actor, and never cost the other entities of their batch.
 * Imports go through `call` and are answered with what was stored.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config/load.ts";
import {
  type BatcherMessage,
  batcherCall,
  batcherMessage,
  type ImportCheckResult,
  type ImportWriteResult,
} from "../../runtime/events/messages.ts";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { MetricsHub } from "../../runtime/kernel/metrics.ts";
import { HUB, Supervisor } from "../../runtime/kernel/supervisor.ts";
import { openStoreReader } from "../../runtime/store/reader.ts";
import { MAX_ENTITY_KEY } from "../../runtime/store/schema.ts";
import { openStoreWriter } from "../../runtime/store/writer.ts";
import { change, fillEntityKeys } from "../../test/support/entity-keys.ts";

describe("batcher with the entity key space nearly full", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "homeiq-batcher-keys-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("live events of known and new entities are stored or counted, imports keep off the reserve, the batcher stays up", async () => {
    const reserve = 10;
    const seed = openStoreWriter(dir, { dictionaryCache: 100 });
    fillEntityKeys(seed, MAX_ENTITY_KEY - reserve - 1); // one key left for imports, then the reserve
    seed.close();
    const config = loadConfig({
      env: { HOMEIQ_DATA_DIR: dir, HOMEIQ_OPS_IMPORT_ENTITY_KEY_RESERVE: String(reserve) },
    });
    const metrics = new MetricsHub();
    const fatal: string[] = [];
    const supervisor = new Supervisor(
      {
        children: [{ name: "batcher", module: new URL("./worker.ts", import.meta.url).pathname }],
        edges: [{ name: "hub->batcher", from: HUB, to: "batcher", capacity: 8, retain: true }],
        maxRestarts: 0,
        periodMs: 30000,
        backoffMinMs: 20,
        backoffMaxMs: 200,
        startTimeoutMs: 15000,
        metricsIntervalMs: 50,
        logLevel: "silent",
        config,
      },
      {
        log: createLogger({ actor: "supervisor", level: "silent" }),
        metrics,
        onFatal: (reason) => fatal.push(String(reason)),
      },
    );
    await supervisor.start();
    try {
      // Imports: the check says one key is left; the second new entity is refused, the known one stored.
      const check = (await supervisor.call(
        "batcher",
        batcherCall.importCheck(["sensor.fill_1", "sensor.imp_a", "sensor.imp_b"]),
      )) as ImportCheckResult;
      expect([check.unknown, check.keysLeft]).toEqual([["sensor.imp_a", "sensor.imp_b"], 1]);
      const imported = (await supervisor.call(
        "batcher",
        batcherCall.import([
          change("sensor.imp_a", 1),
          change("sensor.imp_b", 2),
          change("sensor.fill_2", 3),
        ]),
      )) as ImportWriteResult;
      expect([imported.stored, imported.rejected.map((r) => r.index)]).toEqual([2, [1]]);
      expect(imported.rejected[0].error).toContain("no entity key left for imports");

      // Live: the reserve is there for the home's new entities; past it, new ones are counted, not fatal.
      const out = supervisor.hubOutbox<BatcherMessage>("hub->batcher");
      const fresh = Array.from({ length: reserve + 5 }, (_, i) => change(`sensor.live_${i}`, 100 + i));
      await out.send(batcherMessage.events("live", [change("sensor.fill_9", 99), ...fresh]));
      await out.send(
        batcherMessage.events("live", [change("sensor.live_14", 200), change("sensor.fill_9", 201)]),
      );
      // 1 import row + 5 new live entities past the reserve + one of them again.
      await waitFor(() => metrics.counter("store_entity_keys_refused_total") === 7, {
        timeoutMs: 10000,
        what: "refused new entities counted",
      });
      await waitFor(() => metrics.counter("events_stored_total") === 2 + 1 + reserve + 1, {
        timeoutMs: 10000,
        what: "known and reserved entities stored",
      });
      expect(metrics.gauge("store_entity_keys_used")).toBe(MAX_ENTITY_KEY);
      expect(supervisor.status().find((s) => s.name === "batcher")?.state).toBe("running");
      expect(fatal).toEqual([]);
      const reader = openStoreReader(dir);
      expect(reader.totals().events).toBe(2 + 1 + reserve + 1);
      reader.close();
    } finally {
      await supervisor.stop(10000);
    }
  }, 60000);
});
