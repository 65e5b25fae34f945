/**
 * compose.yaml, the Grafana provisioning and its dashboard hold together, checked without a Docker engine
 * (none runs where CI runs): every service restarts and reports health; no credential ships in it (compose
 * refuses to start until .env gives them) and every port is published on 127.0.0.1 unless .env says
 * otherwise; HomeIQ writes to the InfluxDB the INIT variables create (same org, bucket and token), its
 * environment is a valid HomeIQ config, and every query of the provisioned dashboard reads measurements, fields and tags the Influx
 * writer really writes (lines made by its own code).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { escapeKey, eventLine, readingLine, seriesKey } from "../actors/influx-writer/lines.ts";
import { loadConfig } from "../runtime/config/load.ts";
import { parseDockerfile } from "./support/dockerfile.ts";

const ROOT = join(import.meta.dir, "..");
// Compose applies YAML merge keys (`<<: *influx`), so the parse does too.
const composeText = readFileSync(join(ROOT, "compose.yaml"), "utf8");
// Compose applies YAML merge keys (`<<: *influx`), so the parse does too.
const compose = parse(composeText, { merge: true }) as {
  services: Record<
    string,
    {
      image?: string;
      build?: { context?: string; target?: string };
      restart?: string;
      healthcheck?: { test?: unknown };
      environment?: Record<string, string>;
      volumes?: string[];
      ports?: string[];
    }
  >;
};
const services = compose.services;

/** KEY=VALUE lines of an env file, as compose reads `.env`. */
function envFile(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split("\n")
      .map((l) => /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[1], m[2].trim()]),
  );
}
const example = envFile(readFileSync(join(ROOT, ".env.example"), "utf8"));
/** .env.example with its blanks filled in, as a user's .env would be. */
const filled: Record<string, string> = Object.fromEntries(
  Object.entries(example).map(([k, v]) => [k, v || `test-${k.toLowerCase()}-0123456789abcdef`]),
);

/**
 * Compose's interpolation: `${NAME}`, `${NAME:-default}`, `${NAME:?message}` (unset or empty is an error
 * that stops compose, with the message). Returns the value, or the errors compose would print.
 */
function interpolate(value: string, vars: Record<string, string>): { value: string; errors: string[] } {
  const errors: string[] = [];
  const out = value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g, (_, name: string, op, arg) => {
    const v = vars[name] ?? "";
    if (op === ":?" && v === "") errors.push(`required variable ${name} is missing a value: ${arg}`);
    return v === "" && op === ":-" ? arg : v;
  });
  return { value: out, errors };
}
const resolvedEnv = (service: string, vars: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(services[service].environment ?? {}).map(([k, v]) => [
      k,
      interpolate(String(v), vars).value,
    ]),
  );

describe("compose.yaml", () => {
  test("runs InfluxDB 2.7 set up by its INIT variables, HomeIQ and Grafana, each restarting and health-checked", () => {
    expect(Object.keys(services).sort()).toEqual(["grafana", "homeiq", "influxdb"]);
    for (const [name, s] of Object.entries(services)) {
      expect({ name, restart: s.restart }).toEqual({ name, restart: "unless-stopped" });
      expect(s.healthcheck?.test).toBeDefined();
    }
    expect(services.influxdb.image).toStartWith("influxdb:2.7");
    const init = resolvedEnv("influxdb", filled);
    expect(init.DOCKER_INFLUXDB_INIT_MODE).toBe("setup");
    for (const k of ["USERNAME", "PASSWORD", "ORG", "BUCKET", "ADMIN_TOKEN"])
      expect(init[`DOCKER_INFLUXDB_INIT_${k}`] ?? "").not.toBe("");
  });

  test("refuses to start until .env gives every secret, naming each and where to set it", () => {
    const errors = [...composeText.matchAll(/\$\{[^}]+\}/g)].flatMap(
      (m) => interpolate(m[0], example).errors,
    );
    const missing = new Set(errors.map((e) => /variable (\w+)/.exec(e)?.[1]));
    expect([...missing].sort()).toEqual(["GRAFANA_PASSWORD", "INFLUX_PASSWORD", "INFLUX_TOKEN"]);
    for (const e of errors) expect(e).toContain(".env");
    expect(
      [...composeText.matchAll(/\$\{[^}]+\}/g)].flatMap((m) => interpolate(m[0], filled).errors),
    ).toEqual([]);
  });

  test("ships no credential: every password and token comes from .env, with no default", () => {
    for (const old of ["homeiq-local-admin-token-change-me", "homeiq-password", "GRAFANA_PASSWORD:-"])
      expect(composeText).not.toContain(old);
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (!/PASSWORD|TOKEN|SECRET/.test(key)) continue;
        // Required (`:?`), or empty so HomeIQ generates its own (API token) or has none (HA token).
        const ok = /^\$\{\w+:\?[^}]+\}$/.test(value) || /^\$\{\w+:-\}$/.test(value);
        expect({ name, key, value, ok }).toEqual({ name, key, value, ok: true });
      }
    }
    for (const k of ["INFLUX_TOKEN", "INFLUX_PASSWORD", "GRAFANA_PASSWORD"])
      expect({ k, v: example[k] }).toEqual({ k, v: "" });
    expect(readFileSync(join(ROOT, ".gitignore"), "utf8").split("\n")).toContain(".env");
  });

  test("publishes every port on 127.0.0.1 unless .env says otherwise", () => {
    const ports = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, p })));
    expect(ports.length).toBe(3);
    for (const { name, p } of ports) {
      expect({ name, p, form: /^\$\{BIND_\w+:-127\.0\.0\.1\}:\d+:\d+$/.test(p) }).toMatchObject({
        form: true,
      });
      expect(interpolate(p, {}).value).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
      expect(interpolate(p, filled).value).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  test("HomeIQ writes to that InfluxDB with the org, bucket and token it was set up with, and its environment is a valid config", () => {
    const init = resolvedEnv("influxdb", filled);
    const env = resolvedEnv("homeiq", filled);
    expect(env.HOMEIQ_INFLUX_URL).toBe("http://influxdb:8086");
    expect(env.HOMEIQ_INFLUX_ORG).toBe(init.DOCKER_INFLUXDB_INIT_ORG);
    expect(env.HOMEIQ_INFLUX_BUCKET).toBe(init.DOCKER_INFLUXDB_INIT_BUCKET);
    expect(env.HOMEIQ_INFLUX_TOKEN).toBe(init.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN);
    expect(env.HOMEIQ_INFLUX_TOKEN).toBe(filled.INFLUX_TOKEN);
    expect(resolvedEnv("grafana", filled).INFLUX_TOKEN).toBe(filled.INFLUX_TOKEN);
    // Unset variables come through as "" and count as unset; anything else must be a known, valid key.
    const config = loadConfig({ env });
    expect(config.influx.url).toBe("http://influxdb:8086");
    expect(config.dataDir).toBe("/data");
  });

  test("Grafana gets the provisioning and the dashboard that compose mounts, on the same datasource", () => {
    const mounts = services.grafana.volumes ?? [];
    for (const dir of ["deploy/grafana/provisioning", "deploy/grafana/dashboards"]) {
      expect(mounts.some((m) => m.startsWith(`./${dir}:`))).toBe(true);
      expect(existsSync(join(ROOT, dir))).toBe(true);
    }
    const datasources = parse(
      readFileSync(join(ROOT, "deploy/grafana/provisioning/datasources/influxdb.yaml"), "utf8"),
    ) as { datasources: { uid: string; url: string; jsonData: Record<string, string> }[] };
    const ds = datasources.datasources[0];
    expect(ds.url).toBe("http://influxdb:8086");
    expect(ds.jsonData.version).toBe("Flux");
    // Provisioning expands ${INFLUX_*}; compose hands Grafana exactly those.
    const grafanaEnv = services.grafana.environment ?? {};
    for (const v of ["INFLUX_ORG", "INFLUX_BUCKET", "INFLUX_TOKEN"]) expect(grafanaEnv[v]).toBeDefined();
    const dashboard = readFileSync(join(ROOT, "deploy/grafana/dashboards/homeiq.json"), "utf8");
    const uids = [...dashboard.matchAll(/"uid":\s*"([^"]+)"/g)].map((m) => m[1]);
    const datasourceUids = [...dashboard.matchAll(/"datasource":\s*\{[^}]*"uid":\s*"([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(datasourceUids.length).toBeGreaterThan(0);
    expect(new Set(datasourceUids)).toEqual(new Set([ds.uid]));
    expect(uids).toContain(ds.uid);
  });
});

describe("container images", () => {
  test("compose builds the Dockerfile's app stage, which runs as a non-root user", () => {
    expect(services.homeiq.build).toEqual({ context: ".", target: "app" });
    const stages = parseDockerfile(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
    const app = stages.find((st) => st.name === "app");
    const users = (app?.instructions ?? []).filter((i) => i.op === "USER").map((i) => i.args);
    expect(users.at(-1)).toBe("bun");
  });
});

describe("the provisioned Grafana dashboard", () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, "deploy/grafana/dashboards/homeiq.json"), "utf8")) as {
    panels: { title: string; targets?: { query?: string }[] }[];
    templating: { list: { name: string; query?: unknown }[] };
  };
  const queries = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.query ?? "")),
    ...dashboard.templating.list.map((v) => String(v.query ?? "")),
  ].filter((q) => q.includes("bucket"));

  // What the Influx writer writes, made by its own code: a numeric sensor, a text state, an enrichment.
  const lines = [
    eventLine(
      seriesKey("sensor.kitchen_t", { device: "Plug", area: "Kitchen" }),
      21.5,
      null,
      ",battery=87",
      1e15,
    ),
    eventLine(seriesKey("light.hall", {}), null, "on", "", 1e15),
    readingLine("weather", "temperature_c", 12.5, 1e12),
  ];
  const written = {
    measurements: lines.map((l) => l.slice(0, l.search(/[, ]/))),
    fields: lines.flatMap((l) =>
      l
        .split(" ")[1]
        .split(",")
        .map((f) => f.slice(0, f.indexOf("="))),
    ),
    tags: lines.flatMap((l) =>
      l
        .split(" ")[0]
        .split(",")
        .slice(1)
        .map((t) => t.slice(0, t.indexOf("="))),
    ),
  };

  test("reads the bucket the datasource is set up with (v.defaultBucket), not a name of its own", () => {
    expect(queries.length).toBeGreaterThanOrEqual(5);
    for (const q of queries) expect(q).toMatch(/bucket: v\.defaultBucket/);
  });

  test("every field, tag and measurement pattern it queries is one the writer writes", () => {
    for (const q of queries) {
      for (const [, field] of q.matchAll(/r\._field == "([^"]+)"/g)) expect(written.fields).toContain(field);
      for (const [, tag] of q.matchAll(/r\.([a-z_]+) ==/g))
        if (!tag.startsWith("_")) expect(written.tags).toContain(tag);
      for (const [, cols] of q.matchAll(/group\(columns: \[([^\]]*)\]\)/g))
        for (const [, tag] of cols.matchAll(/"([^"]+)"/g)) expect(written.tags).toContain(tag);
      for (const [, tag] of q.matchAll(/tag: "([^"]+)"/g)) expect(written.tags).toContain(tag);
      for (const [, pattern] of q.matchAll(/r\._measurement [!=]~ \/([^/]+)\//g))
        expect(written.measurements.some((m) => new RegExp(pattern).test(m))).toBe(true);
    }
    // The panels the issue asks for: events/s, per-entity history, enrichment.
    expect(dashboard.panels.map((p) => p.title).join(" | ")).toMatch(/per second.*History.*Enrichment/s);
    expect(escapeKey("entity_id")).toBe("entity_id");
  });
});
