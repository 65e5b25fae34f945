/**
 * Loads the configuration: schema defaults, then an optional JSON file (`HOMEIQ_CONFIG`), then `HOMEIQ_*`
 * environment variables. Every problem is collected and reported at once, each naming where the value came
 * from, what is wrong and how to fix it.
 */
import { existsSync, readFileSync } from "node:fs";
import type { TObject, TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { ConfigSchema, type HomeIQConfig } from "./schema.ts";

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `HomeIQ cannot start: ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}\n${problems
        .map((p) => `  - ${p}`)
        .join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

/** `influx.url` -> `HOMEIQ_INFLUX_URL` */
export function envName(path: string[]): string {
  return `HOMEIQ_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()).join("_")}`;
}

interface Leaf {
  path: string[];
  schema: TSchema;
}

function leaves(schema: TObject, prefix: string[] = []): Leaf[] {
  const out: Leaf[] = [];
  for (const [key, child] of Object.entries(schema.properties)) {
    const path = [...prefix, key];
    if ((child as TSchema).type === "object" && (child as TObject).properties)
      out.push(...leaves(child as TObject, path));
    else out.push({ path, schema: child as TSchema });
  }
  return out;
}

const LEAVES = leaves(ConfigSchema);
const BY_ENV = new Map(LEAVES.map((l) => [envName(l.path), l]));
/** Variables read elsewhere that are not config keys. */
const OTHER_VARS = new Set(["HOMEIQ_CONFIG"]);

function hint(schema: TSchema): string {
  const parts: string[] = [];
  if (schema.description) parts.push(schema.description);
  if (schema.default !== undefined && !(Array.isArray(schema.default) && schema.default.length === 0))
    parts.push(`default ${JSON.stringify(schema.default)}`);
  return parts.join("; ");
}

function expected(schema: TSchema): string {
  if (schema.anyOf)
    return `one of ${(schema.anyOf as TSchema[]).map((s) => JSON.stringify(s.const)).join(", ")}`;
  const range =
    schema.minimum !== undefined && schema.maximum !== undefined
      ? ` between ${schema.minimum} and ${schema.maximum}`
      : "";
  switch (schema.type) {
    case "integer":
      return `a whole number${range}`;
    case "number":
      return `a number${range}`;
    case "boolean":
      return "true or false";
    case "array":
      return "a comma-separated list";
    default:
      if (schema.pattern === "^wss?://") return "a URL starting with ws:// or wss://";
      if (schema.pattern === "^https?://") return "a URL starting with http:// or https://";
      if (schema.minLength) return `text of at least ${schema.minLength} characters`;
      return "text";
  }
}

/** Converts an environment string to the leaf's type, or returns an error message. */
function coerce(raw: string, schema: TSchema): { value: unknown } | { error: string } {
  const type = schema.anyOf ? "enum" : schema.type;
  switch (type) {
    case "integer":
    case "number": {
      const n = raw.trim() === "" ? Number.NaN : Number(raw);
      if (!Number.isFinite(n) || (type === "integer" && !Number.isInteger(n)))
        return { error: `expected ${expected(schema)}` };
      return { value: n };
    }
    case "boolean": {
      const v = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return { value: true };
      if (["0", "false", "no", "off"].includes(v)) return { value: false };
      return { error: "expected true or false" };
    }
    case "array":
      return {
        value: raw
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      };
    default:
      return { value: raw };
  }
}

function getPath(obj: Record<string, unknown>, path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path)
    cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    if (!cur[p] || typeof cur[p] !== "object") cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[path[path.length - 1]] = value;
}

/** Keys whose values are credentials: an error names their length, never their text. */
const SECRET_KEY = /token|secret|password/i;

function show(value: unknown, path: readonly string[] = []): string {
  if (SECRET_KEY.test(path[path.length - 1] ?? ""))
    return typeof value === "string" ? `${value.length} characters (not shown)` : "a value (not shown)";
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** Overrides HOMEIQ_CONFIG. */
  file?: string;
}

/** Loads and validates the configuration; throws `ConfigError` listing every problem. */
export function loadConfig(opts: LoadOptions = {}): HomeIQConfig {
  const env = opts.env ?? process.env;
  const problems: string[] = [];
  const source = new Map<string, string>(); // path -> where the value came from
  const merged: Record<string, unknown> = {};

  const file = opts.file ?? env.HOMEIQ_CONFIG;
  if (file) {
    if (!existsSync(file)) {
      problems.push(
        `HOMEIQ_CONFIG: file ${file} does not exist. Fix: point HOMEIQ_CONFIG at a JSON config file or unset it.`,
      );
    } else {
      try {
        const parsed = JSON.parse(readFileSync(file, "utf8"));
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
          throw new Error("the top level must be an object");
        for (const leaf of LEAVES) {
          const value = getPath(parsed, leaf.path);
          if (value !== undefined) {
            setPath(merged, leaf.path, value);
            source.set(leaf.path.join("."), `${leaf.path.join(".")} in ${file}`);
          }
        }
        for (const key of unknownKeys(parsed, ConfigSchema)) {
          problems.push(
            `${key} in ${file}: unknown key. Fix: remove it or check its spelling against docs/configuration.md.`,
          );
        }
      } catch (error) {
        problems.push(
          `${file}: not valid JSON config (${(error as Error).message}). Fix: correct the file's syntax.`,
        );
      }
    }
  }

  for (const [name, raw] of Object.entries(env)) {
    // An empty variable counts as unset (compose files and shells often pass `VAR=`).
    if (!name.startsWith("HOMEIQ_") || raw === undefined || raw === "" || OTHER_VARS.has(name)) continue;
    const leaf = BY_ENV.get(name);
    if (!leaf) {
      problems.push(
        `${name} (environment): unknown variable. Fix: remove it or use one of the documented HOMEIQ_* names${suggest(name)}.`,
      );
      continue;
    }
    const result = coerce(raw, leaf.schema);
    if ("error" in result) {
      problems.push(
        `${name} (environment): ${result.error}, got ${show(raw, leaf.path)}. Fix: set it to ${expected(leaf.schema)} (${hint(leaf.schema)}).`,
      );
      continue;
    }
    setPath(merged, leaf.path, result.value);
    source.set(leaf.path.join("."), `${name} (environment)`);
  }

  // Sections absent from file and environment still get their defaults.
  for (const [key, child] of Object.entries(ConfigSchema.properties)) {
    if ((child as TSchema).type === "object" && merged[key] === undefined) merged[key] = {};
  }
  const config = Value.Default(ConfigSchema, Value.Clone(merged)) as Record<string, unknown>;
  for (const error of Value.Errors(ConfigSchema, config)) {
    const path = error.path.split("/").filter(Boolean);
    const leaf = LEAVES.find((l) => l.path.join("/") === path.join("/"));
    const where = source.get(path.join(".")) ?? `${path.join(".")} (${envName(path)})`;
    const schema = leaf?.schema ?? error.schema;
    problems.push(
      `${where}: expected ${expected(schema)}, got ${show(error.value, path)}. Fix: ${hint(schema) || "see docs/configuration.md"}.`,
    );
  }
  problems.push(...crossChecks(config as HomeIQConfig));
  if (problems.length) throw new ConfigError(dedupe(problems));
  return config as HomeIQConfig;
}

function crossChecks(c: HomeIQConfig): string[] {
  const out: string[] = [];
  if (!c.ha || !c.influx) return out;
  if (c.ha.url && !c.ha.token)
    out.push(
      "HOMEIQ_HA_TOKEN: missing while HOMEIQ_HA_URL is set. Fix: create a long-lived access token in Home Assistant (Profile -> Security) and set HOMEIQ_HA_TOKEN.",
    );
  if (c.influx.url) {
    for (const key of ["token", "org", "bucket"] as const) {
      if (!c.influx[key])
        out.push(
          `${envName(["influx", key])}: missing while HOMEIQ_INFLUX_URL is set. Fix: set it, or unset HOMEIQ_INFLUX_URL to run without InfluxDB.`,
        );
    }
  }
  if (c.ha.reconnectMinMs > c.ha.reconnectMaxMs)
    out.push(
      "HOMEIQ_HA_RECONNECT_MIN_MS: larger than HOMEIQ_HA_RECONNECT_MAX_MS. Fix: make the minimum the smaller of the two.",
    );
  if (c.supervisor && c.supervisor.backoffMinMs > c.supervisor.backoffMaxMs)
    out.push(
      "HOMEIQ_SUPERVISOR_BACKOFF_MIN_MS: larger than HOMEIQ_SUPERVISOR_BACKOFF_MAX_MS. Fix: make the minimum the smaller of the two.",
    );
  const e = c.enrichers;
  if (e && (e.latitude === undefined) !== (e.longitude === undefined))
    out.push(
      `${e.latitude === undefined ? "HOMEIQ_ENRICHERS_LONGITUDE" : "HOMEIQ_ENRICHERS_LATITUDE"}: set without its partner. Fix: set both HOMEIQ_ENRICHERS_LATITUDE and HOMEIQ_ENRICHERS_LONGITUDE to override Home Assistant's location, or neither.`,
    );
  if (e && e.retryMinMs > e.retryMaxMs)
    out.push(
      "HOMEIQ_ENRICHERS_RETRY_MIN_MS: larger than HOMEIQ_ENRICHERS_RETRY_MAX_MS. Fix: make the minimum the smaller of the two.",
    );
  return out;
}

function unknownKeys(obj: Record<string, unknown>, schema: TObject, prefix = ""): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(obj)) {
    const child = schema.properties[key] as TSchema | undefined;
    const name = prefix ? `${prefix}.${key}` : key;
    if (!child) out.push(name);
    else if (child.type === "object" && value && typeof value === "object" && !Array.isArray(value))
      out.push(...unknownKeys(value as Record<string, unknown>, child as TObject, name));
  }
  return out;
}

function suggest(name: string): string {
  let best = "";
  let bestScore = Number.POSITIVE_INFINITY;
  for (const known of BY_ENV.keys()) {
    const d = distance(name, known);
    if (d < bestScore) {
      bestScore = d;
      best = known;
    }
  }
  return bestScore <= 4 ? ` (did you mean ${best}?)` : "";
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Every config key with its environment variable, default and description: docs/configuration.md's table. */
export function configReference(): { env: string; key: string; default: unknown; description: string }[] {
  return LEAVES.map((l) => ({
    env: envName(l.path),
    key: l.path.join("."),
    default: l.schema.default,
    description: String(l.schema.description ?? ""),
  }));
}
