/**
 * Thin adapter: registry lists, renames and HA's config from `connection->metadata` into metadata.db.
 * Every handler is idempotent (the edge is retained and re-sends after a crash).
 */
import { runActor } from "../../runtime/kernel/actor.ts";
import { MetadataWriter, openMetadataDb } from "./db.ts";
import { mapAreas, mapDevices, mapEntities } from "./logic.ts";
import { check } from "./messages.ts";

runActor({
  name: "metadata",
  check,
  start(ctx) {
    const writer = new MetadataWriter(openMetadataDb(ctx.config.dataDir));
    const m = ctx.metrics;
    const rows = {
      areas: m.gauge("metadata_rows", "Rows per registry table", { table: "areas" }),
      devices: m.gauge("metadata_rows", "Rows per registry table", { table: "devices" }),
      entities: m.gauge("metadata_rows", "Rows per registry table", { table: "entities" }),
    };
    const skipped = m.counter("registry_rows_skipped_total", "Registry rows without their key, skipped");
    const renames = m.counter("entity_renames_total", "Entity renames applied");
    const skip = (reasons: string[]) => {
      for (const r of reasons) ctx.log.warn(`skipped a registry row: ${r}`);
      skipped.inc(reasons.length);
    };
    return {
      handle(msg) {
        switch (msg.type) {
          case "registry": {
            const items = msg.items as Record<string, unknown>[];
            if (msg.kind === "areas") {
              const r = mapAreas(items);
              writer.areas(r.rows);
              rows.areas.set(r.rows.length);
              skip(r.skipped);
            } else if (msg.kind === "devices") {
              const r = mapDevices(items);
              writer.devices(r.rows);
              rows.devices.set(r.rows.length);
              skip(r.skipped);
            } else {
              const r = mapEntities(items);
              writer.entities(r.rows);
              rows.entities.set(r.rows.length);
              skip(r.skipped);
            }
            return;
          }
          case "rename":
            writer.rename(msg.from, msg.to, msg.at);
            renames.inc();
            return;
          case "ha_config":
            writer.haConfig(msg.config as Record<string, unknown>);
            return;
        }
      },
      close() {
        writer.close();
      },
    };
  },
});
