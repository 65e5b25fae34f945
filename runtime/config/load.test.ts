import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, envName, loadConfig } from "./load.ts";

function problems(env: Record<string, string>, file?: string): string[] {
  try {
    loadConfig({ env, file });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("config", () => {
  test("with nothing set it runs the embedded demo: simulator, ./data, no InfluxDB", () => {
    const config = loadConfig({ env: {} });
    expect(config.dataDir).toBe("./data");
    expect(config.ha.url).toBeUndefined();
    expect(config.sim.enabled).toBe(true);
    expect(config.influx.url).toBeUndefined();
    expect(config.port).toBe(8787);
  });

  test("maps keys to HOMEIQ_ variables by path", () => {
    expect(envName(["dataDir"])).toBe("HOMEIQ_DATA_DIR");
    expect(envName(["influx", "bucket"])).toBe("HOMEIQ_INFLUX_BUCKET");
    expect(envName(["ha", "authTimeoutMs"])).toBe("HOMEIQ_HA_AUTH_TIMEOUT_MS");
    const config = loadConfig({
      env: { HOMEIQ_PORT: "9000", HOMEIQ_HA_AUTH_TIMEOUT_MS: "2500", HOMEIQ_API_CORS_ORIGINS: "a, b" },
    });
    expect(config.port).toBe(9000);
    expect(config.ha.authTimeoutMs).toBe(2500);
    expect(config.api.corsOrigins).toEqual(["a", "b"]);
  });

  test("an empty variable counts as unset", () => {
    expect(loadConfig({ env: { HOMEIQ_HA_URL: "", HOMEIQ_PORT: "" } }).port).toBe(8787);
  });

  test("a value of the wrong type names the variable, what was expected and how to fix it", () => {
    expect(problems({ HOMEIQ_PORT: "eighty" })).toEqual([
      'HOMEIQ_PORT (environment): expected a whole number between 0 and 65535, got "eighty". Fix: set it to a whole number between 0 and 65535 (TCP port for the API and dashboard (0 picks a free port); default 8787).',
    ]);
  });

  test("a too-short API token is refused by its length, never echoed (nor any other credential)", () => {
    const short = "abc-secret";
    const got = problems({ HOMEIQ_API_TOKEN: short });
    expect(got).toEqual([
      "HOMEIQ_API_TOKEN (environment): expected text of at least 16 characters, got 10 characters (not shown). Fix: bearer token for the API; generated and saved in the data dir when unset.",
    ]);
    expect(got.join("\n")).not.toContain(short);
    const dir = mkdtempSync(join(tmpdir(), "homeiq-cfg-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ apiToken: "tiny", influx: { token: 42 } }));
    const fromFile = problems({}, file).join("\n");
    rmSync(dir, { recursive: true, force: true });
    expect(fromFile).toContain("got 4 characters (not shown)");
    expect(fromFile).toContain("got a value (not shown)");
    expect(fromFile).not.toContain("tiny");
    expect(fromFile).not.toContain("42");
  });

  test("an out-of-range value is refused", () => {
    expect(problems({ HOMEIQ_PORT: "70000" })[0]).toStartWith(
      "HOMEIQ_PORT (environment): expected a whole number between 0 and 65535, got 70000.",
    );
  });

  test("a misspelt variable is refused with a suggestion", () => {
    expect(problems({ HOMEIQ_INFLUX_BUKET: "x" })).toEqual([
      "HOMEIQ_INFLUX_BUKET (environment): unknown variable. Fix: remove it or use one of the documented HOMEIQ_* names (did you mean HOMEIQ_INFLUX_BUCKET?).",
    ]);
  });

  test("an enum value outside its set lists the allowed values", () => {
    expect(problems({ HOMEIQ_LOG_LEVEL: "loud" })[0]).toStartWith(
      'HOMEIQ_LOG_LEVEL (environment): expected one of "debug", "info", "warn", "error", "silent", got "loud".',
    );
  });

  test("a feature switched on without its required companions names each missing one", () => {
    expect(problems({ HOMEIQ_INFLUX_URL: "http://localhost:8086", HOMEIQ_INFLUX_TOKEN: "t" })).toEqual([
      "HOMEIQ_INFLUX_ORG: missing while HOMEIQ_INFLUX_URL is set. Fix: set it, or unset HOMEIQ_INFLUX_URL to run without InfluxDB.",
      "HOMEIQ_INFLUX_BUCKET: missing while HOMEIQ_INFLUX_URL is set. Fix: set it, or unset HOMEIQ_INFLUX_URL to run without InfluxDB.",
    ]);
    expect(problems({ HOMEIQ_HA_URL: "ws://ha:8123/api/websocket" })[0]).toStartWith(
      "HOMEIQ_HA_TOKEN: missing while HOMEIQ_HA_URL is set.",
    );
  });

  test("a URL with the wrong scheme is refused", () => {
    expect(problems({ HOMEIQ_HA_URL: "http://ha:8123", HOMEIQ_HA_TOKEN: "t" })[0]).toStartWith(
      'HOMEIQ_HA_URL (environment): expected a URL starting with ws:// or wss://, got "http://ha:8123".',
    );
  });

  test("a JSON file is read, checked for unknown keys, and reported by key and file", () => {
    const dir = mkdtempSync(join(tmpdir(), "homeiq-config-"));
    try {
      const file = join(dir, "homeiq.json");
      writeFileSync(
        file,
        JSON.stringify({ port: 9100, influx: { bukket: "x" }, batcher: { maxEvents: -5 } }),
      );
      expect(problems({}, file)).toEqual([
        `influx.bukket in ${file}: unknown key. Fix: remove it or check its spelling against docs/configuration.md.`,
        `batcher.maxEvents in ${file}: expected a whole number between 1 and 1000000, got -5. Fix: most events per store transaction and per live-feed batch; default 10000.`,
      ]);
      writeFileSync(file, JSON.stringify({ port: 9100 }));
      expect(loadConfig({ env: { HOMEIQ_PORT: "9200" }, file }).port).toBe(9200); // environment wins
      writeFileSync(file, "{ not json");
      expect(problems({}, file)[0]).toStartWith(`${file}: not valid JSON config`);
      expect(problems({}, join(dir, "missing.json"))[0]).toContain("does not exist");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the process refuses to start on bad config with exit code 2 and every problem on stderr", async () => {
    const proc = Bun.spawn(["bun", new URL("../app/main.ts", import.meta.url).pathname], {
      env: { PATH: process.env.PATH ?? "", HOMEIQ_PORT: "x", HOMEIQ_LOG_LEVEL: "loud" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(2);
    expect(stderr).toContain("HomeIQ cannot start: 2 configuration problems");
    expect(stderr).toContain("HOMEIQ_PORT (environment)");
    expect(stderr).toContain("HOMEIQ_LOG_LEVEL (environment)");
  });
});
