/**
 * Operations over HTTP: `POST /api/v1/backups` (online backup, written in a worker), `GET /api/v1/backups`,
 * `GET /api/v1/export` (streamed line protocol / CSV / NDJSON), `POST /api/v1/import` (line protocol,
 * all-or-nothing, into the store through the batcher so it dedupes like any other input) and, only with
 * `debugFaults`, `POST /api/v1/debug/crash` for soak and failure tests.
 */
import { Elysia } from "elysia";
import type { StateChange } from "../../batcher/messages.ts";
import { CONTENT_TYPES, exportStream } from "../../ops/export.ts";
import { ImportError } from "../../ops/import.ts";
import type { BackupSchedule } from "../../ops/run-backup.ts";
import type { ApiDeps } from "../deps.ts";
import { msTimes } from "../time-param.ts";
import { CrashQuery, ExportQuery, ImportQuery } from "./model.ts";
import { batches, listBackups, parseImport } from "./service.ts";

/** What main.ts provides for the operations routes. */
export interface OpsHooks {
  backups: BackupSchedule;
  backupDir: string;
  /** Hands imported state changes to the batcher (awaits mailbox credit). */
  importEvents: (events: StateChange[]) => Promise<void>;
  /** Fault injection; only reachable when config.debugFaults is on. */
  crash: (actor: string) => boolean;
}

const IMPORT_BATCH = 2000;

export function ops(deps: Pick<ApiDeps, "config" | "store" | "ops">, now: () => number) {
  const hooks = deps.ops;
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
        const length = Number(request.headers.get("content-length") ?? "0");
        if (length > deps.config.ops.importMaxBytes)
          return problem(
            413,
            "import too large",
            "body",
            `at most ${deps.config.ops.importMaxBytes} bytes (ops.importMaxBytes)`,
          );
        const text = await request.text();
        if (text.length > deps.config.ops.importMaxBytes)
          return problem(
            413,
            "import too large",
            "body",
            `at most ${deps.config.ops.importMaxBytes} bytes (ops.importMaxBytes)`,
          );
        let events: StateChange[];
        try {
          events = parseImport(text, query.precision);
        } catch (error) {
          if (error instanceof ImportError)
            return problem(
              400,
              error.message,
              "body",
              "InfluxDB line protocol with an entity_id tag and a state or value field",
            );
          throw error;
        }
        for (const batch of batches(events, IMPORT_BATCH)) await hooks.importEvents(batch);
        return { received: events.length };
      },
      {
        query: ImportQuery,
        parse: "none",
        detail: { summary: "Import line protocol into the store (all lines valid, or nothing written)" },
      },
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
