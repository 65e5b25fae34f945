/**
 * Thin adapter: HA session -> `connection->batcher` (events, renames) and `connection->metadata`
 * (registries, renames, HA config), with the disk spool between the session and a full event edge.
 * The session never waits on downstream: a batch goes out now (trySend) or to the spool; when even the
 * spool is full the session is paused (socket closed) and the gap is backfilled on resume.
 */
import { join } from "node:path";
import {
  type BatcherMessage,
  batcherMessage,
  type EventSource,
  type StateChange,
} from "../../runtime/events/messages.ts";
import { packEvents } from "../../runtime/events/packed.ts";
import { runActor } from "../../runtime/kernel/actor.ts";
import { newestStoredUpdateUs } from "../../runtime/store/probe.ts";
import { EDGES } from "../edges.ts";
import { type MetadataMessage, metadataMessage } from "../metadata/messages.ts";
import { check } from "./messages.ts";
import { type ChangeSource, HASession, type HAStatus } from "./session.ts";
import { Spool } from "./spool.ts";

runActor({
  name: "connection",
  check,
  start(ctx) {
    const { ha, dataDir } = ctx.config;
    const log = ctx.log;
    const m = ctx.metrics;
    const received = {
      live: m.counter("events_received_total", "State changes taken from HA", { source: "live" }),
      snapshot: m.counter("events_received_total", "State changes taken from HA", { source: "snapshot" }),
      backfill: m.counter("events_received_total", "State changes taken from HA", { source: "backfill" }),
    };
    const rejectedBy = new Map<string, ReturnType<typeof m.counter>>();
    const lastLogged = new Map<string, { at: number; suppressed: number }>();
    const connected = m.gauge("ha_connected", "1 while the HA session is authenticated, else 0");
    const spoolBytes = m.gauge("spool_bytes", "Bytes of event batches waiting in the disk spool");
    const spoolEvents = m.gauge("spool_events", "State changes waiting in the disk spool");
    const spoolFull = m.counter("spool_full_total", "Times the spool bound was hit and reading paused");
    const backfillFailed = m.counter(
      "backfill_failed_total",
      "Gap backfills HA answered with an error (retried with backoff on the same connection)",
    );
    const spoolMax = m.gauge("spool_max_bytes", "The spool bound (ha.spoolMaxBytes)");
    spoolMax.set(ha.spoolMaxBytes);
    m.gauge(
      "ha_backfill_window_rows",
      "History rows one backfill request aims at (ha.backfillWindowRows)",
    ).set(ha.backfillWindowRows);
    m.gauge(
      "ha_forward_max_events",
      "Most state changes in one batch handed to the batcher (ha.forwardMaxEvents)",
    ).set(ha.forwardMaxEvents);
    m.gauge("ha_max_attribute_depth", "Deepest attribute nesting stored (ha.maxAttributeDepth)").set(
      ha.maxAttributeDepth,
    );
    const skippedBy = new Map<string, ReturnType<typeof m.counter>>();
    const outOfOrder = m.counter(
      "events_out_of_order_total",
      "Live changes older than their entity's newest (HA's clock stepped back); stored all the same",
    );
    let outOfOrderLoggedAt = 0;

    const spool = new Spool(join(dataDir, "spool"), {
      maxBytes: ha.spoolMaxBytes,
      segmentBytes: ha.spoolSegmentBytes,
      onCorrupt: (detail) => log.warn(detail),
    });
    const gauges = () => {
      spoolBytes.set(spool.bytes);
      spoolEvents.set(spool.events);
    };
    gauges();
    const toBatcher = ctx.outbox<BatcherMessage>(EDGES.connectionToBatcher);
    const toMeta = ctx.hasOutbox(EDGES.connectionToMetadata)
      ? ctx.outbox<MetadataMessage>(EDGES.connectionToMetadata)
      : null;
    /**
     * The batches that did not fit in a full spool (the rest of the one call that filled it: a split answer
     * goes on past the bound by at most that call); reading is paused until they are handed on.
     */
    const overflow: BatcherMessage[] = [];
    let draining = false;
    /** Set at shutdown: the drain hands on nothing more (what is left stays on disk for the next start). */
    let closing = false;
    let session: HASession | null = null;

    const drain = async () => {
      if (draining) return;
      draining = true;
      try {
        while (!closing) {
          const record = spool.peek();
          if (!record) break;
          // The record's own source (live, snapshot, backfill): webhook rules fire by source.
          await toBatcher.send(batcherMessage.events(record.source, record.events));
          spool.shift();
          gauges();
        }
        while (overflow.length > 0 && !closing) {
          const held = overflow.shift()!;
          await toBatcher.send(held);
        }
        if (session?.isPaused) {
          log.info("spool drained; resuming the HA session (the gap will be backfilled)");
          session.resume();
        }
      } finally {
        draining = false;
      }
      if (!spool.empty && !closing) void drain();
    };

    /**
     * Hands changes on in batches of at most ha.forwardMaxEvents: the event edge bounds messages, not their
     * size, and a history answer or a coalesced frame can carry 100,000s of changes. Each message is held
     * by this side until acknowledged (retained edge), by the batcher's queue and by its transaction, so
     * the bytes in flight are eventsCapacity × forwardMaxEvents × ~3, whatever HA sends.
     */
    const forward = (source: ChangeSource, events: StateChange[]) => {
      // This actor's work arrives from the socket, not its inbox: the kernel's heap checks go here (per frame).
      ctx.heapCheck();
      const max = ha.forwardMaxEvents;
      if (events.length <= max) return forwardBatch(source, events);
      for (let i = 0; i < events.length; i += max) forwardBatch(source, events.slice(i, i + max));
    };

    const forwardBatch = (source: ChangeSource, events: StateChange[]) => {
      received[source].inc(events.length);
      const packed = packEvents(events);
      const msg = batcherMessage.events(source as EventSource, packed);
      if (spool.empty && overflow.length === 0 && toBatcher.trySend(msg)) return;
      if (overflow.length === 0 && spool.append({ source, events: packed })) {
        gauges();
        void drain();
        return;
      }
      overflow.push(msg);
      if (overflow.length > 1) return;
      spoolFull.inc();
      log.error(
        "SPOOL FULL: the pipeline is too slow and ha.spoolMaxBytes is reached; closing the HA connection until it drains. Nothing is lost: the gap is backfilled from HA's history on resume. Raise HOMEIQ_HA_SPOOL_MAX_BYTES or find the slow stage (mailbox_outstanding, batcher metrics).",
        { spoolBytes: spool.bytes, spoolMaxBytes: ha.spoolMaxBytes },
      );
      session?.pause("spool full");
      void drain();
    };

    const newestStoredUs = (): number | null => {
      try {
        return newestStoredUpdateUs(dataDir);
      } catch (e) {
        log.warn("cannot read the newest stored event; no restart backfill", { error: (e as Error).message });
        return null;
      }
    };

    const sendMeta = (msg: MetadataMessage) => {
      if (toMeta) void toMeta.send(msg);
    };

    if (!ha.url || !ha.token) {
      const status: HAStatus = {
        state: "disconnected",
        url: ha.url ?? "",
        since: Date.now(),
        lastError:
          "no Home Assistant configured: set HOMEIQ_HA_URL and HOMEIQ_HA_TOKEN, or leave ha.url unset with sim.enabled for the demo",
      };
      log.error(status.lastError!);
      ctx.notify("ha-status", status);
    } else {
      session = new HASession({
        url: ha.url,
        token: ha.token,
        ha,
        clock: ctx.clock,
        random: Math.random,
        newestStoredUs,
        sink: {
          changes: forward,
          registry: (kind, items) =>
            sendMeta(metadataMessage.registry(kind, items as Record<string, unknown>[])),
          rename: (from, to) => {
            log.info("entity renamed in HA; history follows the new id", { from, to });
            void toBatcher.send(batcherMessage.rename(from, to));
            sendMeta(metadataMessage.rename(from, to, Date.now()));
          },
          haConfig: (config) => {
            sendMeta(metadataMessage.haConfig(config));
            ctx.notify("ha-config", config);
          },
          status: (status) => {
            connected.set(status.state === "connected" ? 1 : 0);
            ctx.notify("ha-status", status);
          },
          rejected: (r) => {
            let c = rejectedBy.get(r.reason);
            if (!c) {
              c = m.counter("frames_rejected_total", "HA frames or records skipped as malformed", {
                reason: r.reason,
              });
              rejectedBy.set(r.reason, c);
            }
            c.inc();
            // A flood of bad frames must not flood the log: one line per reason per second, with a tally.
            const now = Date.now();
            const last = lastLogged.get(r.reason);
            if (last && now - last.at < 1000) {
              last.suppressed++;
              return;
            }
            log.warn(`skipped a bad HA frame: ${r.detail}`, {
              reason: r.reason,
              ...(last?.suppressed ? { suppressedSinceLastLine: last.suppressed } : {}),
            });
            lastLogged.set(r.reason, { at: now, suppressed: 0 });
          },
          skipped: (reason, count) => {
            let c = skippedBy.get(reason);
            if (!c) {
              c = m.counter(
                "events_skipped_total",
                "State changes HA sent that were not forwarded, by reason (duplicate, before_gap, live_covered: already forwarded; removed, too_deep, entity_unknown)",
                { reason },
              );
              skippedBy.set(reason, c);
            }
            c.inc(count);
          },
          outOfOrder: (entityId, lastUpdatedUs, newestUs) => {
            outOfOrder.inc();
            const now = Date.now();
            if (now - outOfOrderLoggedAt < 60_000) return;
            outOfOrderLoggedAt = now;
            log.warn(
              "Home Assistant's clock stepped back: a change is older than its entity's newest; stored",
              {
                entityId,
                lastUpdatedUs,
                newestUs,
              },
            );
          },
          backfillFailed: (detail) => {
            backfillFailed.inc();
            log.error(`${detail}; state changes in the gap are missing until a retry backfills them`);
          },
          log: (level, msg, fields) => log[level](msg, fields),
        },
      });
      session.start();
    }
    if (!spool.empty) {
      log.info("draining the spool left by the previous run", { events: spool.events, bytes: spool.bytes });
      void drain();
    }

    return {
      handle() {},
      call(body) {
        if (body === "spool") return { bytes: spool.bytes, events: spool.events };
        return null;
      },
      stopIntake() {
        closing = true;
        session?.stop();
      },
      close() {
        // The one batch held while the spool was full goes to disk too, so the next start hands it on.
        for (const held of overflow)
          if (held.type === "events")
            spool.append(
              {
                source: held.source === "snapshot" || held.source === "backfill" ? held.source : "live",
                events: held.events,
              },
              true,
            );
        spool.close();
      },
    };
  },
});
