/**
 * The batcher actor: connection (and enrichers) -> store -> webhooks / live feed / Influx wake-up.
 * Thin adapter: rules live in ./logic.ts, SQL in ../store/.
 */

import {
  type BatcherCall,
  type BatcherMessage,
  check,
  type EventSource,
  type ImportCheckResult,
  type ImportWriteResult,
  type StoredBatch,
  storedBatch,
} from "../../runtime/events/messages.ts";
import {
  concatPacked,
  type EventColumns,
  openPacked,
  type PackedEvents,
} from "../../runtime/events/packed.ts";
import { runActor } from "../../runtime/kernel/actor.ts";
import { ExportAcknowledged } from "../../runtime/store/export-ack.ts";
import { StoreMaintenance } from "../../runtime/store/maintenance.ts";
import { MAX_ENTITY_KEY, MAX_REL_US } from "../../runtime/store/schema.ts";
import { writeStatisticHours } from "../../runtime/store/statistics.ts";
import { metaPosition } from "../../runtime/store/tail.ts";
import { openStoreWriter } from "../../runtime/store/writer.ts";
import { EDGES } from "../edges.ts";
import { WAKE } from "../influx-writer/messages.ts";
import { addStored, flushDue, importKeyCeiling, initialFanOut } from "./logic.ts";
import { WebhookFeed } from "./webhook-feed.ts";

/** How often a full entity key space is logged (every refusal is counted in store_entity_keys_refused_total). */
const KEYS_FULL_LOG_MS = 60_000;

runActor<BatcherMessage>({
  name: "batcher",
  check,
  start(ctx) {
    const { batcher: limits, store: storeConfig, dataDir } = ctx.config;
    const store = openStoreWriter(dataDir, { dictionaryCache: storeConfig.dictionaryCache });
    ctx.metrics
      .gauge("store_dictionary_cache_entries", "Bound: entries per dictionary cache (store.dictionaryCache)")
      .set(storeConfig.dictionaryCache);
    const influxOn = Boolean(ctx.config.influx.url);
    const tailBase = metaPosition(store.db, "tail_base");
    // The writer reports its acknowledged position by message; the last one is kept in events.db, so a
    // restarted batcher never takes it for further than it was (../store/export-ack.ts).
    const exported = new ExportAcknowledged(store.db, { t: tailBase.t, e: tailBase.e, seq: 0 });
    const maintenance = new StoreMaintenance(store, storeConfig, () => (influxOn ? exported.current : null));
    const m = ctx.metrics;
    const stored = m.counter("events_stored_total", "State changes newly inserted into the store");
    const duplicates = m.counter("events_duplicate_total", "State changes already stored (replay, backfill)");
    const rejected = m.counter("events_rejected_total", "Malformed state changes refused by the store");
    const keysRefused = m.counter(
      "store_entity_keys_refused_total",
      "State changes of new entities refused because no entity key was left (counted in events_rejected_total too)",
    );
    const keysUsed = m.gauge("store_entity_keys_used", "Entity keys handed out (of store_entity_keys_max)");
    m.gauge("store_entity_keys_max", "Entity keys the store can hand out (16 bits)").set(MAX_ENTITY_KEY);
    m.gauge(
      "store_entity_keys_import_reserve",
      "Bound: entity keys imports never take (ops.importEntityKeyReserve)",
    ).set(ctx.config.ops.importEntityKeyReserve);
    let keysFullLoggedAt = Number.NEGATIVE_INFINITY;
    const importCeiling = importKeyCeiling(MAX_ENTITY_KEY, ctx.config.ops.importEntityKeyReserve);
    const liveDropped = m.counter("live_dropped_total", "Stored batches the live feed could not take");
    const readings = m.counter("readings_stored_total", "Enrichment readings newly stored");
    const statHours = m.counter(
      "statistics_hours_stored_total",
      "Hours of HA long-term statistics stored as rollup buckets (hours with a bucket already are kept)",
    );
    const renames = m.counter("entity_renames_total", "Entity renames joined to their history");
    const rolled = m.counter("store_rolled_up_total", "Raw events folded into the hourly/daily tiers");
    const expired = m.counter("store_expired_total", "Raw events deleted by retention (store.rawDays)");
    const evicted = m.counter("store_evicted_total", "Rows deleted to keep events.db under store.maxBytes");
    const droppedUnexported = m.counter(
      "events_dropped_unexported_total",
      "Raw events deleted before InfluxDB acknowledged them: the disk bound won past store.unexportedHoldBytes",
    );
    const holding = m.gauge(
      "store_holding_unexported",
      "1 while events.db is over store.maxBytes holding raw events InfluxDB has not acknowledged",
    );
    m.gauge("store_unexported_hold_bytes", "Bound: store.unexportedHoldBytes").set(
      storeConfig.unexportedHoldBytes,
    );
    const bytes = m.gauge("store_bytes", "Bytes in use by events.db (bounded by store.maxBytes)");
    const rows = m.gauge("store_events", "Rows in the raw tier");
    const maxBytes = m.gauge("store_max_bytes", "The disk bound store.maxBytes");
    const batchSize = m.histogram(
      "batch_events",
      "Events per store transaction",
      {},
      [1, 10, 100, 1000, 10000],
    );
    const commitMs = m.histogram("batch_commit_ms", "Time to commit one store transaction");
    maxBytes.set(storeConfig.maxBytes);

    // Never awaited on the way to disk: a slow or stuck dispatcher gets a bounded backlog, then counted
    // drops (./webhook-feed.ts says why not send, why not plain trySend).
    const webhooks = ctx.hasOutbox(EDGES.batcherToWebhooks)
      ? new WebhookFeed({
          out: ctx.outbox<StoredBatch>(EDGES.batcherToWebhooks),
          backlogMax: limits.webhooksBacklogEvents,
          batchMax: limits.maxEvents,
          wrap: storedBatch,
          dropped: m.counter(
            "webhooks_feed_dropped_total",
            "Stored events never offered to the webhook dispatcher: its backlog (batcher.webhooksBacklogEvents) was full",
          ),
          backlog: m.gauge(
            "webhooks_feed_backlog_events",
            "Stored events waiting for the webhook dispatcher",
          ),
        })
      : null;
    m.gauge(
      "webhooks_feed_backlog_max_events",
      "Bound: stored events held for the webhook dispatcher (batcher.webhooksBacklogEvents)",
    ).set(limits.webhooksBacklogEvents);
    const hub = ctx.hasOutbox(EDGES.batcherToHub) ? ctx.outbox<StoredBatch>(EDGES.batcherToHub) : null;
    const influx = ctx.hasOutbox(EDGES.batcherToInflux) ? ctx.outbox(EDGES.batcherToInflux) : null;

    let fanOut = initialFanOut();
    let fanOutTimer: unknown = null;
    const publish = (events: PackedEvents | null) => {
      if (!events) return;
      if (hub && !hub.trySend(storedBatch(events))) liveDropped.inc(events.n);
      influx?.trySend(WAKE);
    };
    const onFanOutTimer = () => {
      fanOutTimer = null;
      const next = flushDue(fanOut);
      fanOut = next.state;
      publish(next.flush);
    };
    const gauges = () => {
      rows.set(store.rawCount);
      keysUsed.set(store.entityKeysUsed());
      bytes.set(maintenance.usedBytes());
    };
    gauges();

    // Maintenance: bounded steps, each its own transaction, yielding to the event loop in between so an
    // inbound batch is never stuck behind a long rollup.
    let closing = false;
    let maintenanceTimer: unknown = null;
    const maintain = async () => {
      maintenanceTimer = null;
      try {
        indexBehind();
        for (let i = 0; i < 100 && !closing; i++) {
          const n = maintenance.rollupStep();
          rolled.inc(n);
          if (n < storeConfig.rollupChunk) break;
          await new Promise((r) => setTimeout(r, 0));
        }
        if (!closing) {
          const step = maintenance.retentionStep(ctx.clock.now());
          expired.inc(step.expired);
          evicted.inc(step.evicted);
          holding.set(step.holdingUnexported ? 1 : 0);
          if (step.droppedUnexported > 0) {
            droppedUnexported.inc(step.droppedUnexported);
            ctx.log.error(
              `store over store.maxBytes + store.unexportedHoldBytes: dropped ${step.droppedUnexported} raw events InfluxDB has not received; bring InfluxDB back or raise store.maxBytes / store.unexportedHoldBytes`,
            );
          }
        }
        gauges();
      } catch (error) {
        ctx.log.error("store maintenance failed; retrying next interval", { error: String(error) });
      }
      if (!closing) maintenanceTimer = ctx.clock.setTimeout(maintain, storeConfig.rollupIntervalMs);
    };
    maintenanceTimer = ctx.clock.setTimeout(maintain, storeConfig.rollupIntervalMs);
    // The entity index is filled in bulk (store/maintenance.ts): by the maintenance timer, and as soon as a
    // chunk of rows waits, so the unindexed tail an entity query scans stays short under load.
    let unindexed = 0;
    const indexBehind = () => {
      while (maintenance.indexStep() >= storeConfig.rollupChunk && !closing) {}
      unindexed = 0;
    };

    /** The batches as one readable batch; one whose parts do not add up is refused alone, with the reason. */
    const openAll = (batches: PackedEvents[]): EventColumns | null => {
      const all = openPacked(batches.length === 1 ? batches[0] : concatPacked(batches));
      if (all.ok) return all.cols;
      const good: PackedEvents[] = [];
      for (const b of batches) {
        const one = batches.length === 1 ? all : openPacked(b);
        if (one.ok) good.push(b);
        else {
          rejected.inc(Number.isSafeInteger(b?.n) ? b.n : 1);
          ctx.log.warn(`store refused a batch: ${one.error}`);
        }
      }
      const rest = good.length > 0 ? openPacked(concatPacked(good)) : null;
      return rest?.ok ? rest.cols : null;
    };

    /**
     * Stores packed batches (all from `source`) in transactions of at most batcher.maxEvents; new events fan
     * out per commit. `newKeyCeiling` is the highest entity key a new entity may take (imports stop short of
     * the reserve). Answers what happened, for imports (null: no batch could be read; each was logged and
     * counted).
     */
    const storeEvents = async (
      batches: PackedEvents[],
      source: EventSource,
      newKeyCeiling: number,
    ): Promise<ImportWriteResult | null> => {
      const cols = openAll(batches);
      if (!cols) return null;
      const answer: ImportWriteResult = { stored: 0, duplicates: 0, rejected: [] };
      for (let from = 0; from < cols.n; from += limits.maxEvents) {
        const to = Math.min(cols.n, from + limits.maxEvents);
        const started = performance.now();
        const result = store.writeEvents(cols, from, to, { newKeyCeiling });
        answer.stored += result.inserted.length;
        answer.duplicates += result.duplicates;
        for (const r of result.rejected) answer.rejected.push({ index: r.index, error: r.error });
        if (result.keysRefused > 0) {
          keysRefused.inc(result.keysRefused);
          keysUsed.set(store.entityKeysUsed());
        }
        commitMs.observe(performance.now() - started);
        batchSize.observe(to - from);
        stored.inc(result.inserted.length);
        unindexed += result.inserted.length;
        if (unindexed >= storeConfig.rollupChunk) indexBehind();
        duplicates.inc(result.duplicates);
        if (result.rejected.length > 0) {
          rejected.inc(result.rejected.length);
          // A full key space refuses a new entity on every one of its events: said once a minute, not per commit.
          if (result.keysRefused > 0 && ctx.clock.now() - keysFullLoggedAt >= KEYS_FULL_LOG_MS) {
            keysFullLoggedAt = ctx.clock.now();
            const first = result.rejected.find((r) => r.error.startsWith("store: "));
            ctx.log.error(first?.error ?? "store: no entity key left", {
              entity_id: first?.entity_id,
              refusedTotal: keysRefused.value,
            });
          }
          if (result.keysRefused < result.rejected.length)
            for (const r of result.rejected.filter((x) => !x.error.startsWith("store: ")).slice(0, 5))
              ctx.log.warn(`store refused a state change: ${r.error}`, {
                entity_id: r.entity_id,
                index: r.index,
              });
        }
        if (result.inserted.length === 0) continue;
        if (newKeyCeiling !== MAX_ENTITY_KEY) keysUsed.set(store.entityKeysUsed());
        const fresh = cols.select(result.inserted);
        webhooks?.offer(fresh, source);
        const next = addStored(fanOut, fresh, ctx.clock.now(), limits);
        fanOut = next.state;
        publish(next.flush);
        if (next.armMs !== null && fanOutTimer === null)
          fanOutTimer = ctx.clock.setTimeout(onFanOutTimer, next.armMs);
      }
      rows.set(store.rawCount);
      return answer;
    };

    const ceilingOf = (source: string) => (source === "import" ? importCeiling : MAX_ENTITY_KEY);

    /** The import's pre-check: which of these ids are new, and how many keys imports may still take. */
    const importCheck = (entityIds: unknown): ImportCheckResult => {
      if (!Array.isArray(entityIds) || entityIds.some((id) => typeof id !== "string"))
        throw new Error("batcher: import-check expects entityIds: string[]");
      return {
        unknown: entityIds.filter((id) => !store.knowsEntity(id)),
        keysLeft: Math.max(0, importCeiling - store.entityKeysUsed()),
        minUs: store.baseUs - MAX_REL_US,
        maxUs: store.baseUs + MAX_REL_US,
      };
    };

    const handleOne = async (msg: BatcherMessage) => {
      switch (msg.type) {
        case "events":
          await storeEvents([msg.events], msg.source, ceilingOf(msg.source));
          return;
        case "rename":
          if (store.rename(msg.from, msg.to)) renames.inc();
          else ctx.log.info("rename of an entity the store has not seen: nothing to join", msg);
          return;
        case "statistics": {
          const hourlyFromS = Math.floor(ctx.clock.now() / 1000) - storeConfig.hourlyDays * 86400;
          const r = writeStatisticHours(store, msg.hours, { hourlyFromS });
          statHours.inc(r.written);
          if (r.rejected.length > 0) {
            rejected.inc(r.rejected.length);
            ctx.log.warn(`store refused ${r.rejected.length} statistics hours: ${r.rejected[0].error}`);
          }
          return;
        }
        case "enrichment":
          readings.inc(store.writeReadings(msg.source, msg.readings));
          influx?.trySend(WAKE);
          return;
        case "export-position":
          exported.set(msg);
          return;
      }
    };

    return {
      // A backlog of small batches (one per HA frame) becomes one transaction of up to batcher.maxEvents:
      // the per-commit cost dominates small transactions. Order is kept: a rename or enrichment message
      // ends the run of events before it, and so does a change of source (the webhook dispatcher fires on
      // live changes, not on the connect snapshot or a backfill, so each stored batch has one source).
      drainMax: 256,
      async handleMany(msgs) {
        let run: PackedEvents[] = [];
        let runSource: EventSource = "live";
        for (const { message } of msgs) {
          // A run is one source: imports are stored under their own key ceiling, and webhooks fire per source.
          if (message.type === "events" && (run.length === 0 || message.source === runSource)) {
            run.push(message.events);
            runSource = message.source;
            continue;
          }
          if (run.length) await storeEvents(run, runSource, ceilingOf(runSource));
          run = [];
          if (message.type === "events") {
            run.push(message.events);
            runSource = message.source;
          } else await handleOne(message);
        }
        if (run.length) await storeEvents(run, runSource, ceilingOf(runSource));
      },
      handle: handleOne,
      async call(raw) {
        const body = raw as BatcherCall;
        switch (body?.type) {
          case "totals":
            return { events: store.rawCount, bytes: maintenance.usedBytes() };
          case "import-check":
            return importCheck(body.entityIds);
          case "import": {
            const answer = await storeEvents([body.events], "import", importCeiling);
            if (!answer)
              throw new Error("batcher: the import batch does not add up; nothing of it was stored");
            return answer;
          }
        }
        throw new Error('batcher: unknown call; expected {type: "totals" | "import-check" | "import"}');
      },
      close() {
        closing = true;
        if (maintenanceTimer !== null) ctx.clock.clearTimeout(maintenanceTimer);
        if (fanOutTimer !== null) ctx.clock.clearTimeout(fanOutTimer);
        publish(flushDue(fanOut).flush);
        fanOut = initialFanOut();
        // Stored, so the dispatcher's next start catches up on them from events.db; counted here as not sent.
        const held = webhooks?.discard() ?? 0;
        if (held > 0)
          ctx.log.warn("stopped with stored events not yet offered to the webhook dispatcher", { held });
        store.close();
      },
    };
  },
});
