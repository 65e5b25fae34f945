/**
 * Each database has one owner and one door (docs/architecture.md "Who owns what"). This test reads the
 * source and fails when code outside a database's owner opens it or writes SQL against its tables:
 * - events.db: only runtime/store/ (everyone else calls the store's modules or messages the batcher);
 * - influx.db: only actors/influx-writer/ (the batcher hears the acknowledged position by message);
 * - webhooks.db: only actors/webhook-dispatcher/ (the API asks it to change rules, and reads through its
 *   store module on a connection of its own).
 * Scope: the application's source. Tests, benchmarks and `fixtures/` folders set up databases as they need
 * and are not scanned.
 * Comments are stripped first: prose may name any database.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..");
const SCANNED = ["actors", "runtime", "sim", "web"];

/** Files that still reach into events.db themselves, each with why. Keep it empty. */
const EVENTS_DB_ALLOWED: Record<string, string> = {};

/** Tables only events.db has (names shared with other databases, e.g. entities or cursors, are left out). */
const EVENTS_TABLES = [
  "events",
  "raw_events",
  "entity_names",
  "states",
  "attrs",
  "attr_rows",
  "journal",
  "entity_index",
  "entity_postings",
  "hourly",
  "daily",
  "rollup_carry",
  "readings",
];
const EVENTS_SQL = new RegExp(`\\b(FROM|JOIN|INTO|UPDATE|TABLE|INDEX ON)\\s+(${EVENTS_TABLES.join("|")})\\b`);
const EVENTS_OPEN = /\bEVENTS_DB\b|["'`]events\.db["'`]/;

const INFLUX_OPEN = /\bINFLUX_DB\b|["'`]influx\.db["'`]|\bInfluxState\b|influx-writer\/state\.ts/;
const INFLUX_SQL = /\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+(field_types)\b/;

const WEBHOOKS_OPEN = /\bwebhooksDbPath\b|["'`]webhooks\.db["'`]/;
/** WebhookStore's methods that write (the dispatcher's alone), called on something named a store. */
const WEBHOOKS_WRITES =
  /[sS]tore(\(\))?\.(putRule|deleteRule|transaction|pruneRuleState|commitBatch|retryLater|finish|deadLetter|insertFinished|replay|prune)\(/;
const WEBHOOKS_MODULE = /webhook-dispatcher\/store\.ts/;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "node_modules" || name === "fixtures" || name.startsWith(".")) continue;
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.ts$/.test(name) && !/\.test\.ts$/.test(name)) out.push(path);
  }
  return out;
}

/** The code without comments (block, and line comments not inside a URL like "http://"). */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");

const files = SCANNED.flatMap((d) => sourceFiles(join(ROOT, d))).map((path) => ({
  path: relative(ROOT, path),
  code: code(readFileSync(path, "utf8")),
}));

/** Files outside `owner` whose code matches any of `patterns`, each with the first match. */
function trespassers(owner: string, patterns: RegExp[], allowed: Record<string, string> = {}): string[] {
  const out: string[] = [];
  for (const f of files) {
    if (f.path.startsWith(owner) || f.path in allowed) continue;
    for (const p of patterns) {
      const m = p.exec(f.code);
      if (m) {
        out.push(`${f.path}: ${m[0]}`);
        break;
      }
    }
  }
  return out;
}

describe("database owners", () => {
  test("the scan sees the code it polices (a rule that matches nothing proves nothing)", () => {
    const all = (patterns: RegExp[]) =>
      files.filter((f) => patterns.some((p) => p.test(f.code))).map((f) => f.path);
    expect(all([EVENTS_SQL])).toContain("runtime/store/reader.ts");
    expect(all([EVENTS_OPEN])).toContain("runtime/store/writer.ts");
    expect(all([INFLUX_OPEN])).toContain("actors/influx-writer/state.ts");
    expect(all([WEBHOOKS_OPEN])).toContain("actors/webhook-dispatcher/store.ts");
    expect(all([WEBHOOKS_WRITES])).toContain("actors/webhook-dispatcher/rule-writes.ts");
    expect(files.length).toBeGreaterThan(100);
  });

  test("only runtime/store/ opens events.db or writes SQL against its tables", () => {
    expect(trespassers("runtime/store/", [EVENTS_OPEN, EVENTS_SQL], EVENTS_DB_ALLOWED)).toEqual([]);
  });

  test("the events.db allowlist names only files that still need it", () => {
    for (const path of Object.keys(EVENTS_DB_ALLOWED)) {
      const f = files.find((x) => x.path === path);
      if (f)
        expect({ path, reaches: EVENTS_OPEN.test(f.code) || EVENTS_SQL.test(f.code) }).toEqual({
          path,
          reaches: true,
        });
    }
  });

  test("only actors/influx-writer/ opens influx.db", () => {
    expect(trespassers("actors/influx-writer/", [INFLUX_OPEN, INFLUX_SQL])).toEqual([]);
  });

  test("only actors/webhook-dispatcher/ opens webhooks.db or writes to it", () => {
    expect(trespassers("actors/webhook-dispatcher/", [WEBHOOKS_OPEN])).toEqual([]);
    // Through the dispatcher's store module (reads on the API's own connection), never a write method.
    const writers = files.filter(
      (f) =>
        !f.path.startsWith("actors/webhook-dispatcher/") &&
        WEBHOOKS_MODULE.test(f.code) &&
        WEBHOOKS_WRITES.test(f.code),
    );
    expect(writers.map((f) => `${f.path}: ${WEBHOOKS_WRITES.exec(f.code)?.[0]}`)).toEqual([]);
  });
});
