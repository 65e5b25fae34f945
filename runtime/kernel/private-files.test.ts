import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { privateDataDir, privateDir, privateFile } from "./private-files.ts";

const tempDir = tempDirs("homeiq-private-");
const modeOf = (path: string) => statSync(path).mode & 0o777;

// The usual umask, under which these paths used to come out 0755 and 0644 (review finding 14).
let umask = 0;
beforeAll(() => {
  umask = process.umask(0o022);
});
afterAll(() => {
  process.umask(umask);
});

describe("private files", () => {
  test("privateDir creates 0700 dirs (with parents) and tightens a loose one", () => {
    const root = tempDir();
    privateDir(join(root, "a", "b"));
    expect(modeOf(join(root, "a", "b"))).toBe(0o700);
    const loose = join(root, "loose");
    mkdirSync(loose, { mode: 0o755 });
    expect(modeOf(loose)).toBe(0o755);
    privateDir(loose);
    expect(modeOf(loose)).toBe(0o700);
  });

  test("privateFile creates an empty 0600 file, tightens a loose one and keeps its content", () => {
    const root = tempDir();
    privateFile(join(root, "new.db"));
    expect({ mode: modeOf(join(root, "new.db")), size: statSync(join(root, "new.db")).size }).toEqual({
      mode: 0o600,
      size: 0,
    });
    writeFileSync(join(root, "old.db"), "data", { mode: 0o644 });
    privateFile(join(root, "old.db"));
    expect(modeOf(join(root, "old.db"))).toBe(0o600);
    expect(statSync(join(root, "old.db")).size).toBe(4);
  });

  test("privateDataDir tightens an older HomeIQ's data dir two levels deep and leaves links' targets alone", () => {
    const root = tempDir();
    const data = join(root, "data");
    mkdirSync(join(data, "spool"), { recursive: true, mode: 0o755 });
    mkdirSync(join(data, "backups"), { mode: 0o755 });
    chmodSync(data, 0o755);
    chmodSync(join(data, "spool"), 0o755);
    for (const f of [
      "events.db",
      "events.db-wal",
      "webhooks.db",
      "spool/seg-000000000001.ndjson",
      "backups/b.tar",
    ])
      writeFileSync(join(data, f), "x", { mode: 0o644 });
    const elsewhere = join(root, "elsewhere");
    writeFileSync(elsewhere, "x", { mode: 0o644 });
    symlinkSync(elsewhere, join(data, "link"));

    expect(privateDataDir(data).length).toBe(8);
    expect(modeOf(data)).toBe(0o700);
    for (const d of ["spool", "backups"])
      expect({ d, mode: modeOf(join(data, d)) }).toEqual({ d, mode: 0o700 });
    for (const f of [
      "events.db",
      "events.db-wal",
      "webhooks.db",
      "spool/seg-000000000001.ndjson",
      "backups/b.tar",
    ])
      expect({ f, mode: modeOf(join(data, f)) }).toEqual({ f, mode: 0o600 });
    expect(modeOf(elsewhere)).toBe(0o644);
    expect(privateDataDir(data)).toEqual([]); // nothing left to tighten
    const fresh = join(root, "fresh");
    expect(privateDataDir(fresh)).toEqual([]);
    expect(modeOf(fresh)).toBe(0o700);
  });
});
