#!/usr/bin/env bun
/**
 * `homeiq <command>`: what people do by hand. Every command has --help, prints errors as
 * "homeiq <command>: <what is wrong>. Fix: ...", and exits 0 on success, 1 on failure, 2 on bad usage.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { backupFileName, createBackup, restoreBackup, verifyBackup } from "../actors/ops/backup.ts";
import { ConfigError, loadConfig } from "./config/load.ts";

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

function dataDirOf(flags: Flags): string {
  if (typeof flags["data-dir"] === "string") return flags["data-dir"];
  return loadConfig().dataDir;
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
  status: {
    summary: "show a running HomeIQ's health: actors, HA connection, totals",
    usage: "homeiq status [--url URL] [--token TOKEN]",
    options: {
      url: { type: "string", description: "HomeIQ's URL (default http://127.0.0.1:HOMEIQ_PORT)" },
      token: { type: "string", description: "API token (default HOMEIQ_API_TOKEN or DATA_DIR/api-token)" },
      ...dataDirOption,
    },
    async run(flags) {
      const config = loadConfig();
      const url = typeof flags.url === "string" ? flags.url : `http://127.0.0.1:${config.port}`;
      const tokenFile = join(dataDirOf(flags), "api-token");
      const token =
        (typeof flags.token === "string" && flags.token) ||
        config.apiToken ||
        (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : "");
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

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
