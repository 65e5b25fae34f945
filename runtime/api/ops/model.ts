/** Queries and bodies of the operations endpoints: backups, export, import, fault injection. */
import { t } from "elysia";
import { EXPORT_FORMATS } from "../../ops/export.ts";
import { fields } from "../fields.ts";

export const ExportQuery = t.Object({
  from: fields.time("query.from", "start of the range, inclusive"),
  to: t.Optional(fields.time("query.to", "end of the range, exclusive (default: now)")),
  format: t.Optional(
    fields.oneOf("query.format", EXPORT_FORMATS, "lp (InfluxDB line protocol), csv or ndjson"),
  ),
  entity_id: t.Optional(fields.entityList("query.entity_id", "only these entities (comma-separated)")),
  domain: t.Optional(fields.domain("query.domain", "only entities of this domain")),
});

/**
 * A plain optional string, not `fields.oneOf`: Elysia fills an absent optional union with its first member,
 * which made every import "ns" and overrode the `precision=us` header of HomeIQ's own export.
 */
export const ImportQuery = t.Object({
  precision: t.Optional(
    t.String({
      pattern: "^(ns|us|ms|s)$",
      description: "timestamp precision: ns, us, ms or s (default: the export's header, else ns)",
      error: () => ({ field: "query.precision", expected: "one of ns, us, ms, s" }),
    }),
  ),
  from: t.Optional(
    t.String({
      pattern: "^(homeiq|ha-influxdb)$",
      description:
        "homeiq (default: HomeIQ's export or schema; any bad line refuses the import) or ha-influxdb (HA's influxdb integration or Node-RED; unmappable lines skipped and counted)",
      error: () => ({ field: "query.from", expected: "homeiq or ha-influxdb" }),
    }),
  ),
  tag_attributes: t.Optional(
    fields.text("query.tag_attributes", "with from=ha-influxdb: tags that hold attributes, comma-separated"),
  ),
  format: t.Optional(
    t.String({
      pattern: "^(lp|ndjson)$",
      description: "lp or ndjson (default: ndjson when the first line starts with {, else lp)",
      error: () => ({ field: "query.format", expected: "one of lp, ndjson" }),
    }),
  ),
});

export const CrashQuery = t.Object({ actor: fields.text("query.actor", "name of the actor to crash") });

export const BackupInfo = t.Object({
  file: t.String(),
  bytes: t.Number(),
  createdAt: t.String(),
});

/** `POST /api/v1/import/history`: how many days back (default ha.importDays, or 10 when that is 0). */
export const HistoryImportBody = t.Object({
  days: t.Optional(
    t.Integer({
      minimum: 1,
      maximum: 3650,
      description: "days of recorded history to import (HA keeps 10 by default; statistics go further back)",
      error: () => ({ field: "body.days", expected: "an integer from 1 to 3650" }),
    }),
  ),
});
