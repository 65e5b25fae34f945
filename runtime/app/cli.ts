#!/usr/bin/env bun
/**
 * `homeiq <command>`: what people do by hand. Every command has --help, prints errors as
 * "homeiq <command>: <what is wrong>. Fix: ...", and exits 0 on success, 1 on failure, 2 on bad usage.
 */
import { closeSync, existsSync, fchmodSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { importKeyCeiling } from "../../actors/batcher/logic.ts";
import { ConfigError, loadConfig } from "../config/load.ts";
import { PRIVATE_UMASK, privateDir } from "../kernel/private-files.ts";
import { backupFileName, createBackup, restoreBackup, verifyBackup } from "../ops/backup.ts";
import { EXPORT_FORMATS, type ExportFormat, exportChunks } from "../ops/export.ts";
import { describeHaInflux, type HaInfluxReport, runHaInfluxImport } from "../ops/ha-influx-import.ts";
import type { Precision } from "../ops/import.ts";
import { IMPORT_FORMATS, type ImportFormat, runImport, writerTarget } from "../ops/import-stream.ts";
import { openStoreReader } from "../store/reader.ts";
import { MAX_ENTITY_KEY } from "../store/schema.ts";
import { openStoreWriter } from "../store/writer.ts";

type Flags = Record<string, string | boolean | undefined>;
interface Command {
  summary: string;
  usage: string;
  options: Record<string, { type: "string" | "boolean"; short?: string; description: string }>;
  run(flags: Flags, positionals: string[]): Promise<number> | number;
}

class UsageError extends Error {}

const dataDirOption = {
  "data-dir": {
    type: "string" as const,
    description: "HomeIQ's data dir (default: HOMEIQ_DATA_DIR or ./data)",
  },
};

/** Milliseconds from an ISO date/time or epoch-ms text. */
function parseTime(name: string, text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms))
    throw new UsageError(
      `--${name} ${text} is not a time. Fix: use an ISO time like 2026-11-01T00:00:00Z or epoch milliseconds`,
    );
  return ms;
}

/** The pid of a HomeIQ running on this data dir, if any (main.ts writes DATA_DIR/homeiq.pid). */
function runningPid(dataDir: string): number | null {
  const file = join(dataDir, "homeiq.pid");
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, "utf8").trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** An import's refusal as text: what, then the lines refused. */
function describeRefusal(answer: Record<string, unknown> | null): string {
  if (!answer) return "no JSON answer";
  const rejections = (answer.rejections as { line: number; reason: string }[] | undefined) ?? [];
  const more = Number(answer.rejected ?? 0) - rejections.length;
  return [
    String(answer.error),
    ...rejections.map((r) => `  - line ${r.line}: ${r.reason}`),
    ...(more > 0 ? [`  - ... and ${more} more`] : []),
  ].join("\n");
}

function dataDirOf(flags: Flags): string {
  if (typeof flags["data-dir"] === "string") return flags["data-dir"];
  return loadConfig().dataDir;
}

/** A running HomeIQ's URL and API token, from the flags, the config or the data dir's token file. */
function apiTarget(flags: Flags): { url: string; token: string } {
  const config = loadConfig();
  const url = typeof flags.url === "string" ? flags.url : `http://127.0.0.1:${config.port}`;
  const tokenFile = join(dataDirOf(flags), "api-token");
  const token =
    (typeof flags.token === "string" && flags.token) ||
    config.apiToken ||
    (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : "");
  return { url, token };
}

const commands: Record<string, Command> = {
  backup: {
    summary: "write an online backup of all state to one file (safe while HomeIQ runs)",
    usage: "homeiq backup [--data-dir DIR] [--out FILE]",
    options: {
      ...dataDirOption,
      out: { type: "string", description: "backup file (default DIR/backups/homeiq-<time>.tar)" },
    },
    run(flags) {
      const dataDir = dataDirOf(flags);
      const out = typeof flags.out === "string" ? flags.out : join(dataDir, "backups", backupFileName());
      const manifest = createBackup(dataDir, out);
      const rows = manifest.databases.reduce(
        (n, d) => n + Object.values(d.tables).reduce((a, b) => a + b, 0),
        0,
      );
      console.log(`backup written: ${out} (${manifest.databases.length} databases, ${rows} rows)`);
      return 0;
    },
  },
  restore: {
    summary: "verify a backup and restore it into an empty data dir",
    usage: "homeiq restore FILE --data-dir DIR",
    options: { ...dataDirOption },
    run(flags, [file]) {
      if (!file) throw new UsageError("which backup file? Fix: homeiq restore FILE --data-dir DIR");
      if (typeof flags["data-dir"] !== "string")
        throw new UsageError("--data-dir is required, so a restore never lands somewhere by accident");
      const manifest = restoreBackup(file, flags["data-dir"]);
      console.log(
        `restored ${file} (made ${manifest.createdAt}) into ${flags["data-dir"]}; verified checksums, integrity and row counts`,
      );
      return 0;
    },
  },
  verify: {
    summary: "check a backup file without restoring it",
    usage: "homeiq verify FILE",
    options: {},
    run(_flags, [file]) {
      if (!file) throw new UsageError("which backup file? Fix: homeiq verify FILE");
      const { manifest, problems } = verifyBackup(file);
      if (problems.length) {
        console.error(`homeiq verify: ${file} has problems:\n  - ${problems.join("\n  - ")}`);
        return 1;
      }
      console.log(
        `${file}: ok (made ${manifest.createdAt}; ${manifest.databases.map((d) => d.file).join(", ")})`,
      );
      return 0;
    },
  },
  export: {
    summary: "write a time range of stored events as line protocol, CSV or NDJSON (streamed)",
    usage:
      "homeiq export --from TIME [--to TIME] [--format lp|csv|ndjson] [--entity ID,...] [--out FILE] [--data-dir DIR]",
    options: {
      ...dataDirOption,
      from: { type: "string", description: "start (ISO time or epoch ms), inclusive" },
      to: { type: "string", description: "end (ISO time or epoch ms), exclusive; default now" },
      format: { type: "string", description: "lp, csv or ndjson (default ndjson)" },
      entity: { type: "string", description: "only these entity ids, comma-separated" },
      out: { type: "string", description: "file to write (default: standard output)" },
    },
    run(flags) {
      if (typeof flags.from !== "string")
        throw new UsageError("--from is required. Fix: e.g. --from 2026-11-01T00:00:00Z");
      const from = parseTime("from", flags.from);
      const to = typeof flags.to === "string" ? parseTime("to", flags.to) : Date.now();
      const format = (flags.format ?? "ndjson") as ExportFormat;
      if (!EXPORT_FORMATS.includes(format))
        throw new UsageError(`--format ${String(flags.format)} is unknown. Fix: use lp, csv or ndjson`);
      const reader = openStoreReader(dataDirOf(flags));
      // An export is the home's history: owner-only, even when it replaces a looser existing file.
      const fd = typeof flags.out === "string" ? openSync(flags.out, "w", 0o600) : 1;
      if (fd !== 1) fchmodSync(fd, 0o600);
      let lines = 0;
      try {
        const entityIds = typeof flags.entity === "string" ? flags.entity.split(",") : undefined;
        for (const chunk of exportChunks(reader, { from, to, entityIds }, format)) {
          writeSync(fd, chunk);
          lines += chunk.split("\n").length - 1;
        }
      } finally {
        if (fd !== 1) closeSync(fd);
        reader.close();
      }
      if (typeof flags.out === "string") console.error(`exported ${lines} lines to ${flags.out}`);
      return 0;
    },
  },
  import: {
    summary:
      "import line protocol or NDJSON into the store (all lines valid or nothing written; streamed), or HA's InfluxDB history (--from ha-influxdb)",
    usage:
      "homeiq import FILE [--from homeiq|ha-influxdb] [--format lp|ndjson] [--precision ns|us|ms|s] [--tag-attributes A,B] [--data-dir DIR] [--url URL --token TOKEN]",
    options: {
      ...dataDirOption,
      from: {
        type: "string",
        description:
          "homeiq (default: HomeIQ's export or schema) or ha-influxdb (HA's influxdb integration or Node-RED; unmappable lines skipped and counted)",
      },
      "tag-attributes": {
        type: "string",
        description:
          "with --from ha-influxdb: tags that hold attributes (HA's tags_attributes), comma-separated",
      },
      precision: { type: "string", description: "timestamp precision (default: the export header, else ns)" },
      format: {
        type: "string",
        description: "lp or ndjson (default: ndjson when the first line starts with {, else lp)",
      },
      url: {
        type: "string",
        description: "a running HomeIQ to import through (default: direct when none runs)",
      },
      token: { type: "string", description: "API token for --url" },
    },
    async run(flags, [file]) {
      if (!file) throw new UsageError("which file? Fix: homeiq import FILE");
      const precision = flags.precision as Precision | undefined;
      if (precision && !["ns", "us", "ms", "s"].includes(precision))
        throw new UsageError("--precision must be ns, us, ms or s");
      const from = flags.from ?? "homeiq";
      if (from !== "homeiq" && from !== "ha-influxdb")
        throw new UsageError(`--from ${String(from)} is unknown. Fix: use homeiq or ha-influxdb`);
      const tagAttributes =
        typeof flags["tag-attributes"] === "string" ? flags["tag-attributes"].split(",") : undefined;
      const format = flags.format as ImportFormat | undefined;
      if (format && !IMPORT_FORMATS.includes(format)) throw new UsageError("--format must be lp or ndjson");
      if (from === "ha-influxdb" && format === "ndjson")
        throw new UsageError("--from ha-influxdb reads line protocol. Fix: drop --format ndjson");
      if (!existsSync(file)) throw new UsageError(`${file} does not exist`);
      const dataDir = dataDirOf(flags);
      const pid = runningPid(dataDir);
      if (typeof flags.url === "string" || pid !== null) {
        if (typeof flags.url !== "string")
          throw new UsageError(
            `HomeIQ is running on ${dataDir} (pid ${pid}). Fix: import through it with --url http://HOST:PORT --token TOKEN, or stop it first`,
          );
        const params = new URLSearchParams();
        if (precision) params.set("precision", precision);
        if (from !== "homeiq") params.set("from", from);
        if (tagAttributes) params.set("tag_attributes", tagAttributes.join(","));
        if (format) params.set("format", format);
        const q = params.size ? `?${params}` : "";
        const r = await fetch(`${flags.url}/api/v1/import${q}`, {
          method: "POST",
          body: Bun.file(file),
          headers: { authorization: `Bearer ${String(flags.token ?? "")}`, "content-type": "text/plain" },
        });
        const answer = (await r.json().catch(() => null)) as Record<string, unknown> | null;
        if (from === "ha-influxdb" && answer && "lines" in answer) {
          const text = describeHaInflux(answer as unknown as HaInfluxReport);
          if (r.ok) console.log(`imported through ${flags.url}: ${text}`);
          else console.error(`homeiq import: ${flags.url} answered ${r.status}: ${answer.error}\n${text}`);
          return r.ok ? 0 : 1;
        }
        if (!r.ok || !answer) {
          console.error(`homeiq import: ${flags.url} answered ${r.status}: ${describeRefusal(answer)}`);
          return 1;
        }
        console.log(
          `imported ${answer.stored} state changes through ${flags.url} (${answer.duplicates} already stored, ${answer.received} read)`,
        );
        return 0;
      }
      const limits = loadConfig().ops;
      privateDir(dataDir);
      const writer = openStoreWriter(dataDir, { dictionaryCache: 10000 });
      const importLimits = {
        maxBytes: Number.MAX_SAFE_INTEGER, // a local file: its size is the user's business
        maxLineBytes: limits.importMaxLineBytes,
        maxNewEntities: limits.importMaxNewEntities,
        futureSkewMs: limits.importFutureSkewMs,
      };
      const target = writerTarget(writer, importKeyCeiling(MAX_ENTITY_KEY, limits.importEntityKeyReserve));
      try {
        if (from === "ha-influxdb") {
          const outcome = await runHaInfluxImport(Bun.file(file).stream(), {
            limits: importLimits,
            mapping: { precision: precision ?? "ns", tagAttributes },
            nowUs: Date.now() * 1000,
            target,
            stagingDir: dataDir,
          });
          if (!outcome.ok) {
            console.error(`homeiq import: ${outcome.error}\n${describeHaInflux(outcome)}`);
            return 1;
          }
          console.log(`imported into ${dataDir}: ${describeHaInflux(outcome)}`);
          return 0;
        }
        const outcome = await runImport(Bun.file(file).stream(), {
          limits: importLimits,
          precision,
          format,
          nowUs: Date.now() * 1000,
          target,
          reread: () => Bun.file(file).stream(),
        });
        if (!outcome.ok) {
          console.error(`homeiq import: ${describeRefusal(outcome)}`);
          return 1;
        }
        console.log(
          `imported ${outcome.stored} state changes into ${dataDir} (${outcome.duplicates} already stored)`,
        );
        return 0;
      } finally {
        writer.close();
      }
    },
  },
  "check-config": {
    summary: "validate the configuration (environment and HOMEIQ_CONFIG) and print what HomeIQ would run",
    usage: "homeiq check-config",
    options: {},
    run() {
      const c = loadConfig();
      console.log("configuration ok");
      console.log(`  data dir:       ${c.dataDir}`);
      console.log(`  API:            http://${c.host}:${c.port}`);
      console.log(`  Home Assistant: ${c.ha.url ?? "built-in simulated home"}`);
      console.log(
        `  InfluxDB:       ${c.influx.url ? `${c.influx.url} (org ${c.influx.org}, bucket ${c.influx.bucket})` : "off"}`,
      );
      return 0;
    },
  },
  "import-history": {
    summary:
      "import Home Assistant's recorded history of the last N days (and older hourly statistics) into a running HomeIQ",
    usage: "homeiq import-history [--days N] [--wait] [--url URL] [--token TOKEN]",
    options: {
      days: { type: "string", description: "days back (default ha.importDays, or 10 when that is 0)" },
      wait: { type: "boolean", description: "print progress until the import is done" },
      url: { type: "string", description: "HomeIQ's URL (default http://127.0.0.1:HOMEIQ_PORT)" },
      token: { type: "string", description: "API token (default HOMEIQ_API_TOKEN or DATA_DIR/api-token)" },
      ...dataDirOption,
    },
    async run(flags) {
      const days = typeof flags.days === "string" ? Number(flags.days) : undefined;
      if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650))
        throw new UsageError(
          `--days ${String(flags.days)} is not a whole number of days. Fix: e.g. --days 10 (1 to 3650)`,
        );
      const { url, token } = apiTarget(flags);
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      let response: Response;
      try {
        response = await fetch(`${url}/api/v1/import/history`, {
          method: "POST",
          headers,
          body: JSON.stringify(days === undefined ? {} : { days }),
        });
      } catch {
        console.error(
          `homeiq import-history: nothing answers at ${url}. Fix: start HomeIQ (npm start) or pass --url.`,
        );
        return 1;
      }
      let answer = (await response.json().catch(() => null)) as Record<string, unknown> | null;
      if (!response.ok || !answer) {
        console.error(
          `homeiq import-history: ${url} answered ${response.status}: ${String(answer?.error ?? "no JSON answer")}`,
        );
        return 1;
      }
      console.log(`history import started (${days ?? "ha.importDays"} days) on ${url}`);
      while (flags.wait && answer && (answer.state === "running" || answer.state === "idle")) {
        await Bun.sleep(1000);
        const r = await fetch(`${url}/api/v1/import/history`, { headers });
        answer = (await r.json().catch(() => null)) as Record<string, unknown> | null;
        if (answer)
          console.log(
            `  ${answer.stepsDone}/${answer.stepsTotal} steps, ${answer.events} events, ${answer.hours} statistics hours`,
          );
      }
      if (flags.wait && answer?.state !== "done") {
        console.error(
          `homeiq import-history: the import stopped: ${String(answer?.lastError ?? answer?.state)}`,
        );
        return 1;
      }
      return 0;
    },
  },
  status: {
    summary: "show a running HomeIQ's health: actors, HA connection, totals",
    usage: "homeiq status [--url URL] [--token TOKEN]",
    options: {
      url: { type: "string", description: "HomeIQ's URL (default http://127.0.0.1:HOMEIQ_PORT)" },
      token: { type: "string", description: "API token (default HOMEIQ_API_TOKEN or DATA_DIR/api-token)" },
      ...dataDirOption,
    },
    async run(flags) {
      const { url, token } = apiTarget(flags);
      let response: Response;
      try {
        response = await fetch(`${url}/health/deep`, { headers: { authorization: `Bearer ${token}` } });
      } catch {
        console.error(
          `homeiq status: nothing answers at ${url}. Fix: start HomeIQ (npm start) or pass --url.`,
        );
        return 1;
      }
      if (response.status === 401) {
        console.error("homeiq status: the API refused the token. Fix: pass --token or set HOMEIQ_API_TOKEN.");
        return 1;
      }
      if (!response.ok) {
        console.error(`homeiq status: ${url}/health/deep answered ${response.status}`);
        return 1;
      }
      console.log(JSON.stringify(await response.json(), null, 2));
      return 0;
    },
  },
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    "usage: homeiq <command> [options]   (homeiq <command> --help for its options)",
    "",
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

function commandHelp(c: Command): string {
  const opts = Object.entries(c.options).map(
    ([o, d]) => `  --${o}${d.type === "string" ? " VALUE" : ""}  ${d.description}`,
  );
  return [`usage: ${c.usage}`, "", c.summary, ...(opts.length ? ["", "options:", ...opts] : [])].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(help());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`homeiq: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    }) as { values: Flags; positionals: string[] };
  } catch (error) {
    console.error(`homeiq ${name}: ${(error as Error).message}\n\n${commandHelp(command)}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(commandHelp(command));
    return 0;
  }
  try {
    return await command.run(parsed.values, parsed.positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`homeiq ${name}: ${error.message}`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    console.error(`homeiq ${name}: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) {
  process.umask(PRIVATE_UMASK); // restores, backups, imports and exports are owner-only, like main.ts
  process.exit(await main(process.argv.slice(2)));
}
