/**
 * Operations over HTTP: `POST /api/v1/backups` (online backup, written in a worker), `GET /api/v1/backups`,
 * `GET /api/v1/export` (streamed line protocol / CSV / NDJSON), `POST /api/v1/import` (line protocol or NDJSON,
 * streamed and checked whole before anything is written, then stored through the batcher so it dedupes
 * like any other input; the answer counts what was stored, see ../../ops/import-stream.ts; with
 * `from=ha-influxdb`, HA's influxdb history, unmappable lines skipped and counted, ../../ops/ha-influx-import.ts) and, only with
 * `debugFaults`, `POST /api/v1/debug/crash` for soak and failure tests.
 */
import { Elysia, t } from "elysia";
import {
  HISTORY_IMPORT,
  type HistoryImportStatus,
  historyImportCall,
  type StartAnswer,
} from "../../../actors/history-import/messages.ts";
import { CONTENT_TYPES, exportStream } from "../../ops/export.ts";
import { runHaInfluxImport } from "../../ops/ha-influx-import.ts";
import type { Precision } from "../../ops/import.ts";
import type { ImportFormat } from "../../ops/import-stream.ts";
import type { ApiDeps } from "../deps.ts";
import { msTimes } from "../time-param.ts";
import { CrashQuery, ExportQuery, HistoryImportBody, ImportQuery } from "./model.ts";

/** How long the API waits for the history import actor to answer (it answers from memory). */
const HISTORY_CALL_MS = 5000;

import { importThroughSpool, listBackups } from "./service.ts";

export function ops(
  deps: Pick<ApiDeps, "config" | "store" | "ops" | "registry"> & Partial<Pick<ApiDeps, "supervisor">>,
  now: () => number,
) {
  const hooks = deps.ops;
  const r = deps.registry;
  r?.gauge("import_max_bytes", "Bound: largest import body (ops.importMaxBytes)").set(
    deps.config.ops.importMaxBytes,
  );
  r?.gauge("import_max_new_entities", "Bound: new entities per import (ops.importMaxNewEntities)").set(
    deps.config.ops.importMaxNewEntities,
  );
  const importsBy = (outcome: string) => r?.counter("imports_total", "Imports by outcome", { outcome });
  const imports = { ok: importsBy("ok"), refused: importsBy("refused"), failed: importsBy("failed") };
  const importStored = r?.counter("import_stored_total", "State changes stored by imports");
  const importRejected = r?.counter("import_rejected_lines_total", "Lines refused by imports");
  const importSkipped = (reason: string) =>
    r?.counter("import_skipped_lines_total", "Lines of from=ha-influxdb imports skipped, by reason", {
      reason,
    });
  // One import at a time: each holds a spool file and the batcher's attention; a second one gets 409.
  let importing = false;
  const unavailable = () => problem(503, "operations are not available in this process", null, null);
  const problem = (status: number, error: string, field: string | null, expected: string | null) =>
    new Response(JSON.stringify({ error, field, expected }), {
      status,
      headers: { "content-type": "application/json" },
    });
  return new Elysia({ detail: { tags: ["operations"] } })
    .post(
      "/api/v1/backups",
      async () => {
        if (!hooks) return unavailable();
        const { file, manifest } = await hooks.backups.now();
        return { file, createdAt: manifest.createdAt, databases: manifest.databases.map((d) => d.file) };
      },
      { detail: { summary: "Take an online backup of all state now (one file in the backup dir)" } },
    )
    .get(
      "/api/v1/backups",
      () => (hooks ? { dir: hooks.backupDir, items: listBackups(hooks.backupDir) } : unavailable()),
      {
        detail: { summary: "Backups in the backup dir, newest first" },
      },
    )
    .get(
      "/api/v1/export",
      ({ query: raw }) => {
        const query = msTimes(raw);
        const format = query.format ?? "ndjson";
        const to = query.to ?? now();
        if (query.from >= to)
          return problem(400, "from must be before to", "query.from", "a time before query.to");
        const body = exportStream(
          deps.store,
          { from: query.from, to, entityIds: query.entity_id?.split(","), domain: query.domain },
          format,
          deps.config.ops.exportPageSize,
        );
        const name = `homeiq-${new Date(query.from).toISOString().slice(0, 10)}.${format === "lp" ? "lp" : format}`;
        return new Response(body, {
          headers: {
            "content-type": CONTENT_TYPES[format],
            "content-disposition": `attachment; filename="${name}"`,
          },
        });
      },
      { query: ExportQuery, detail: { summary: "Stream a time range as line protocol, CSV or NDJSON" } },
    )
    .post(
      "/api/v1/import",
      async ({ query, request }) => {
        if (!hooks) return unavailable();
        const { ops: limits, dataDir } = deps.config;
        const length = Number(request.headers.get("content-length") ?? "0");
        if (length > limits.importMaxBytes)
          return problem(
            413,
            "import too large",
            "body",
            `at most ${limits.importMaxBytes} bytes (ops.importMaxBytes)`,
          );
        if (importing)
          return problem(
            409,
            "another import is running",
            "body",
            "one import at a time; retry when it has finished",
          );
        if (query.from === "ha-influxdb" && query.format === "ndjson")
          return problem(400, "from=ha-influxdb reads line protocol", "query.format", "lp, or no format");
        importing = true;
        try {
          const common = {
            limits: {
              maxBytes: limits.importMaxBytes,
              maxLineBytes: limits.importMaxLineBytes,
              maxNewEntities: limits.importMaxNewEntities,
              futureSkewMs: limits.importFutureSkewMs,
            },
            nowUs: now() * 1000,
            target: { check: hooks.importCheck, write: hooks.importEvents },
          };
          const precision = query.precision as Precision | undefined;
          const format = query.format as ImportFormat | undefined;
          const outcome =
            query.from === "ha-influxdb"
              ? await runHaInfluxImport(request.body ?? new Response("").body!, {
                  ...common,
                  mapping: { precision: precision ?? "ns", tagAttributes: query.tag_attributes?.split(",") },
                  stagingDir: dataDir,
                })
              : await importThroughSpool(request.body, { ...common, dataDir, precision, format });
          importStored?.inc(outcome.stored);
          if ("skipped" in outcome)
            for (const [reason, n] of Object.entries(outcome.skipped))
              if (n > 0) importSkipped(reason)?.inc(n);
          if (outcome.ok) {
            imports.ok?.inc();
            const { ok: _, ...body } = outcome;
            return body;
          }
          (outcome.status === 500 ? imports.failed : imports.refused)?.inc();
          if ("rejected" in outcome) importRejected?.inc(outcome.rejected);
          const { ok: _, status, ...body } = outcome;
          return new Response(JSON.stringify({ ...body, field: "body" }), {
            status,
            headers: { "content-type": "application/json" },
          });
        } finally {
          importing = false;
        }
      },
      {
        query: ImportQuery,
        parse: "none",
        detail: {
          summary:
            "Import line protocol or NDJSON into the store (all lines valid, or nothing written); answers what was stored",
        },
      },
    )
    .post(
      "/api/v1/import/history",
      async ({ body }) => {
        if (!deps.supervisor) return unavailable();
        const days = body?.days ?? (deps.config.ha.importDays || 10);
        try {
          const answer = (await deps.supervisor.call(
            HISTORY_IMPORT,
            historyImportCall.start(days),
            HISTORY_CALL_MS,
          )) as StartAnswer;
          if (!answer.ok) return problem(409, answer.error, "body.days", "no import running");
          return answer.status;
        } catch (error) {
          return problem(503, `the history import is not running: ${String(error)}`, null, null);
        }
      },
      {
        body: t.Optional(HistoryImportBody),
        detail: {
          summary:
            "Import Home Assistant's recorded history (and older hourly statistics) for the last `days`; progress in GET",
        },
      },
    )
    .get(
      "/api/v1/import/history",
      async () => {
        if (!deps.supervisor) return unavailable();
        try {
          return (await deps.supervisor.call(
            HISTORY_IMPORT,
            historyImportCall.status(),
            HISTORY_CALL_MS,
          )) as HistoryImportStatus;
        } catch (error) {
          return problem(503, `the history import is not running: ${String(error)}`, null, null);
        }
      },
      { detail: { summary: "Progress of the history import (steps, events, statistics hours)" } },
    )
    .post(
      "/api/v1/debug/crash",
      ({ query }) => {
        if (!deps.config.debugFaults)
          return problem(404, "fault injection is off", null, "HOMEIQ_DEBUG_FAULTS=true");
        if (!hooks?.crash(query.actor))
          return problem(409, `actor "${query.actor}" is not running`, "query.actor", "a running actor");
        return { crashed: query.actor };
      },
      {
        query: CrashQuery,
        detail: { summary: "Crash an actor (only with HOMEIQ_DEBUG_FAULTS=true)", hide: true },
      },
    );
}
