/**
 * Properties over hostile input for the backup readers: random bytes and mutated valid archives and
 * manifests. Each case must end (a hang fails the test by its timeout) with a result or the module's own
 * typed error, never another exception, and what is accepted must be safe to act on.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import fc from "fast-check";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { openDatabase } from "../kernel/sqlite.ts";
import { createBackup, verifyBackup } from "./backup.ts";
import { BackupError, MANIFEST_ENTRIES_MAX, memberNameProblem, parseManifest } from "./backup-manifest.ts";
import { listTar, TarError, TarWriter } from "./tar.ts";

const tempDir = tempDirs("homeiq-hostile-");

/** "ok" or "refused"; anything thrown that is not a typed refusal fails the property. */
function outcome(run: () => unknown): "ok" | "refused" {
  try {
    run();
    return "ok";
  } catch (error) {
    if (error instanceof TarError || error instanceof BackupError) return "refused";
    throw error;
  }
}

const HEADER_FIELDS = [
  [0, 100], // name
  [124, 12], // size
  [148, 8], // checksum
  [156, 1], // typeflag
  [157, 100], // link name
  [257, 8], // magic and version
  [345, 155], // prefix
] as const;

/** One change to an archive: a byte, a cut, or a header field overwritten (checksum fixed or not). */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("field" as const),
    header: fc.nat(),
    field: fc.constantFrom(...HEADER_FIELDS),
    value: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 12 }),
      fc.constantFrom("-0000001000\0", "77777777777\0", "../../x\0", "/etc/passwd\0", "2", "5", "\0"),
    ),
    fixChecksum: fc.boolean(),
  }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(bytes: Buffer, headers: number[], changes: Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of changes) {
    if (out.length === 0) break;
    if (m.kind === "byte") out[m.at % out.length] = m.value;
    else if (m.kind === "cut") out = out.subarray(0, m.at % out.length);
    else {
      const at = headers[m.header % headers.length];
      if (at + 512 > out.length) continue;
      const h = out.subarray(at, at + 512);
      const start = m.field[0];
      const width = m.field[1];
      const value = typeof m.value === "string" ? Buffer.from(m.value, "latin1") : Buffer.from(m.value);
      value.subarray(0, width).copy(h, start);
      if (m.fixChecksum) {
        h.fill(0x20, 148, 156);
        let sum = 0;
        for (const b of h) sum += b;
        h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
      }
    }
  }
  return out;
}

/** A real backup of a small data dir, its bytes and the offsets of its headers. */
function realBackup(): { bytes: Buffer; headers: number[] } {
  const root = tempDir();
  const dataDir = join(root, "data");
  mkdirSync(join(dataDir, "spool"), { recursive: true });
  const db = openDatabase(join(dataDir, "events.db"));
  db.exec("CREATE TABLE e (x); INSERT INTO e VALUES (1), (2)");
  db.close();
  writeFileSync(join(dataDir, "api-token"), "t".repeat(32));
  writeFileSync(join(dataDir, "spool", "seg-000000000001.ndjson"), '{"s":"live"}\n');
  const file = join(root, "b.tar");
  createBackup(dataDir, file);
  return { bytes: readFileSync(file), headers: listTar(file).map((e) => e.offset - 512) };
}

describe("tar reader on hostile input", () => {
  test("random bytes: a typed refusal or entries that lie inside the file", () => {
    const file = join(tempDir(), "random.tar");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        writeFileSync(file, bytes);
        outcome(() => listTar(file));
      }),
      { numRuns: 300 },
    );
  });

  test("mutated valid archives: a typed refusal, or bounded entries with sizes inside the file", () => {
    const dir = tempDir();
    const source = join(dir, "valid.tar");
    const tar = new TarWriter(source);
    tar.addBytes("manifest.json", Buffer.from("{}"));
    tar.addBytes("events.db", Buffer.alloc(1500, 1));
    tar.addBytes("api-token", Buffer.from("secret"));
    tar.finish();
    const valid = readFileSync(source);
    const headers = listTar(source).map((e) => e.offset - 512);
    const file = join(dir, "mutated.tar");
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (changes) => {
        const bytes = mutate(valid, headers, changes);
        writeFileSync(file, bytes);
        let entries: ReturnType<typeof listTar> = [];
        if (outcome(() => (entries = listTar(file, { maxEntries: 8 }))) === "refused") return;
        expect(entries.length).toBeLessThanOrEqual(8);
        for (const e of entries) {
          expect(e.size).toBeGreaterThanOrEqual(0);
          expect(e.offset + e.size).toBeLessThanOrEqual(bytes.length);
        }
      }),
      { numRuns: 500 },
    );
  });

  test("mutated real backups: verify answers with problems or a typed refusal, and leaves nothing behind", () => {
    const { bytes: valid, headers } = realBackup();
    const dir = tempDir();
    const file = join(dir, "mutated.tar");
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (changes) => {
        writeFileSync(file, mutate(valid, headers, changes));
        outcome(() => verifyBackup(file));
        expect(readdirSync(dir)).toEqual(["mutated.tar"]);
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});

describe("backup manifest on hostile input", () => {
  const good = {
    format: "homeiq-backup",
    formatVersion: 1,
    createdAt: "2026-12-07T00:00:00.000Z",
    databases: [
      { file: "events.db", schemaVersion: 3, tables: { events: 2 }, bytes: 4096, sha256: "a".repeat(64) },
    ],
    files: [{ file: "spool/seg-1.ndjson", bytes: 3, sha256: "b".repeat(64) }],
  };
  const hostileName = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom(
      "..",
      "../x",
      "/etc/passwd",
      "a\\b",
      "a\0b",
      "spool/../x",
      "spool/a/b",
      ".hidden",
      "spool",
      "manifest.json",
      "x".repeat(200),
      "__proto__",
    ),
  );

  /** Every name an accepted manifest lists resolves strictly inside any root. */
  function namesAreInside(text: string | Uint8Array): void {
    const bytes = typeof text === "string" ? Buffer.from(text) : text;
    let parsed: ReturnType<typeof parseManifest> | undefined;
    if (outcome(() => (parsed = parseManifest(bytes, "b.tar"))) === "refused") return;
    const root = resolve("/srv/homeiq/data");
    for (const { file } of [...parsed!.databases, ...parsed!.files])
      expect(resolve(root, file).startsWith(root + sep)).toBe(true);
  }

  test("random bytes and random JSON: a typed refusal or a manifest whose names stay inside", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), namesAreInside), { numRuns: 300 });
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => namesAreInside(JSON.stringify(v))),
      { numRuns: 300 },
    );
  });

  test("a valid manifest with one field replaced: a typed refusal or names that stay inside", () => {
    const field = fc.constantFrom(
      "format",
      "formatVersion",
      "createdAt",
      "databases",
      "files",
      "databases.0.file",
      "databases.0.tables",
      "databases.0.bytes",
      "files.0.file",
      "files.0.sha256",
    );
    fc.assert(
      fc.property(field, fc.oneof(hostileName, fc.jsonValue({ maxDepth: 3 })), (path, value) => {
        const copy = structuredClone(good) as Record<string, unknown>;
        const keys = path.split(".");
        let at = copy as Record<string, unknown>;
        for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
        at[keys[keys.length - 1]] = value;
        namesAreInside(JSON.stringify(copy));
      }),
      { numRuns: 500 },
    );
  });

  test("the name allowlist never accepts a name that leaves the directory", () => {
    fc.assert(
      fc.property(hostileName, fc.constantFrom("database" as const, "file" as const), (name, kind) => {
        if (memberNameProblem(name, kind) !== null) return;
        const root = resolve("/srv/homeiq/data");
        expect(resolve(root, name).startsWith(root + sep)).toBe(true);
        expect(name.split("/").length).toBeLessThanOrEqual(2);
      }),
      { numRuns: 1000 },
    );
  });

  test("counts and depth are bounded: too many entries and deep nesting are refused with a BackupError", () => {
    const many = {
      ...good,
      files: Array.from({ length: MANIFEST_ENTRIES_MAX }, (_, i) => ({
        file: `f${i}`,
        bytes: 0,
        sha256: "c".repeat(64),
      })),
    };
    expect(() => parseManifest(Buffer.from(JSON.stringify(many)), "b.tar")).toThrow(
      `b.tar: manifest.json lists ${MANIFEST_ENTRIES_MAX + 1} files, more than ${MANIFEST_ENTRIES_MAX}`,
    );
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    expect(outcome(() => parseManifest(Buffer.from(deep), "b.tar"))).toBe("refused");
  });
});
