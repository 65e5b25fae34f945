/**
 * Lints the Home Assistant add-on against the add-on configuration schema the Supervisor documents:
 * required keys and their types, option/schema agreement, option type syntax, and that the run script
 * only sets HOMEIQ_* variables HomeIQ knows. Also checks the Raspberry Pi profile config loads.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { configReference, loadConfig } from "../runtime/config/load.ts";

const root = new URL("..", import.meta.url).pathname;
const addon = parse(readFileSync(`${root}addon/config.yaml`, "utf8")) as Record<string, unknown>;
const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string };

const ARCHES = ["armhf", "armv7", "aarch64", "amd64", "i386"];
const STARTUP = ["initialize", "system", "services", "application", "once"];
const BOOT = ["auto", "manual", "manual_only"];
/** Option types from the add-on configuration docs; `?` marks an optional option. */
const OPTION_TYPE =
  /^(str|bool|int|float|email|url|password|port|device)(\((-?\d+(\.\d+)?)?,(-?\d+(\.\d+)?)?\))?\??$|^list\([^|)]+(\|[^|)]+)*\)\??$|^match\(.+\)\??$|^device\(subsystem=\w+\)\??$/;

describe("Home Assistant add-on", () => {
  test("has the required keys with the documented types", () => {
    for (const key of ["name", "version", "slug", "description"]) expect(typeof addon[key]).toBe("string");
    expect(addon.slug).toMatch(/^[a-z0-9_]+$/);
    expect(Array.isArray(addon.arch)).toBe(true);
    for (const arch of addon.arch as string[]) expect(ARCHES).toContain(arch);
    expect(STARTUP).toContain(addon.startup as string);
    expect(BOOT).toContain(addon.boot as string);
    expect(addon.ingress).toBe(true);
    expect(Number.isInteger(addon.ingress_port)).toBe(true);
    expect(addon.homeassistant_api).toBe(true);
  });

  test("is versioned with the package", () => {
    expect(addon.version).toBe(pkg.version);
  });

  test("every option has a schema entry of a valid type, and defaults match their types", () => {
    const options = addon.options as Record<string, unknown>;
    const schema = addon.schema as Record<string, string>;
    for (const key of Object.keys(options)) expect(Object.keys(schema)).toContain(key);
    for (const [key, type] of Object.entries(schema)) {
      expect({ key, valid: OPTION_TYPE.test(type) }).toEqual({ key, valid: true });
      // Required options need a default; optional ones are left out.
      if (!type.endsWith("?")) expect(Object.keys(options)).toContain(key);
      if (!(key in options)) continue;
      const value = options[key];
      if (type.startsWith("bool")) expect(typeof value).toBe("boolean");
      else if (type.startsWith("int") || type.startsWith("port")) expect(Number.isInteger(value)).toBe(true);
      else if (type.startsWith("list("))
        expect(type.slice(5, type.indexOf(")")).split("|")).toContain(value as string);
      else expect(typeof value).toBe("string");
    }
  });

  test("the run script sets only variables HomeIQ knows, and uses the Supervisor's token and WebSocket", () => {
    const run = readFileSync(`${root}addon/run.sh`, "utf8");
    const known = new Set(configReference().map((r) => r.env));
    const set = [...run.matchAll(/\b(HOMEIQ_[A-Z_]+)=/g)].map((m) => m[1]);
    expect(set.length).toBeGreaterThan(5);
    for (const name of set) expect({ name, known: known.has(name) }).toEqual({ name, known: true });
    expect(run).toContain("HOMEIQ_HA_URL=ws://supervisor/core/websocket");
    expect(run).toMatch(/HOMEIQ_HA_TOKEN="\$\{SUPERVISOR_TOKEN\}"/);
    expect(run).toContain("HOMEIQ_DATA_DIR=/data");
  });

  test("the Raspberry Pi low-memory profile is a valid configuration", () => {
    const config = loadConfig({ env: {}, file: `${root}deploy/pi/homeiq.low-memory.json` });
    expect(config.mailbox.eventsCapacity).toBe(8);
  });
});
