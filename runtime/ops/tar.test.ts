import { describe, expect, test } from "bun:test";
import { readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { listTar, OCTAL_SIZE_MAX, readEntry, TarError, TarWriter, tarHeader } from "./tar.ts";

const tempDir = tempDirs("homeiq-tar-");
const GIB = 1024 ** 3;

/** A small valid archive: two entries, the second 700 bytes (two data blocks). */
function archive(): { file: string; bytes: Buffer } {
  const file = join(tempDir(), "a.tar");
  const tar = new TarWriter(file);
  tar.addBytes("first", Buffer.from("hello"));
  tar.addBytes("second", Buffer.alloc(700, 7));
  tar.finish();
  return { file, bytes: readFileSync(file) };
}

/** Overwrites a header field of the header at `at`, then fixes its checksum unless told not to. */
function patch(bytes: Buffer, at: number, field: number, value: Buffer | string, fixChecksum = true): Buffer {
  const copy = Buffer.from(bytes);
  const h = copy.subarray(at, at + 512);
  if (typeof value === "string") h.write(value, field, "latin1");
  else value.copy(h, field);
  if (fixChecksum) {
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  }
  return copy;
}

function listBytes(bytes: Uint8Array): ReturnType<typeof listTar> {
  const file = join(tempDir(), "x.tar");
  writeFileSync(file, bytes);
  return listTar(file);
}

describe("tar reader and writer", () => {
  test("what the writer writes, the reader lists and reads back, and GNU tar lists it too", () => {
    const { file } = archive();
    const entries = listTar(file);
    expect(entries).toEqual([
      { name: "first", size: 5, offset: 512 },
      { name: "second", size: 700, offset: 1536 },
    ]);
    expect(readEntry(file, entries[0]).toString()).toBe("hello");
    const gnu = Bun.spawnSync(["tar", "tvf", file]);
    expect(gnu.exitCode).toBe(0);
    expect(gnu.stdout.toString()).toMatch(/^-rw------- 0\/0 +5 .* first\n-rw------- 0\/0 +700 .* second\n$/);
  });

  test("a negative size is refused instead of looping forever (review finding 8)", () => {
    const { bytes } = archive();
    expect(() => listBytes(patch(bytes, 0, 124, "-0000001000\0"))).toThrow(
      'has entry "first" that has a size field that is not an octal number (byte 0 of the archive)',
    );
    const negative256 = Buffer.alloc(12, 0xff); // base-256 -1
    expect(() => listBytes(patch(bytes, 0, 124, negative256))).toThrow(
      'has entry "first" that has a negative size (base-256 size field)',
    );
  });

  test("every malformed header gets its own precise TarError", () => {
    const { bytes } = archive();
    const cases: [Buffer, string][] = [
      [patch(bytes, 0, 124, "00000000009\0"), "size field that is not an octal number"],
      [patch(bytes, 0, 124, "\0\0\0\0\0\0\0\0\0\0\0\0"), "size field that is not an octal number"],
      [patch(bytes, 0, 124, "77777777777\0"), 'is truncated: entry "first" says it holds 8589934591 bytes'],
      [patch(bytes, 0, 0, "changed", false), "bad tar header checksum"],
      [patch(bytes, 0, 148, "12x4567\0", false), "checksum field is not an octal number"],
      [patch(bytes, 1024, 257, "notar\0"), "is not a HomeIQ backup: no tar header where one should start"],
      [patch(bytes, 0, 156, "L"), 'of type "L" (a GNU long name)'],
      [patch(bytes, 0, 156, "x"), 'of type "x" (a pax extended header)'],
      [patch(bytes, 0, 0, "\0"), "has a tar entry with an empty name"],
      [patch(bytes, 0, 345, "some/prefix"), 'has entry "first" with a name prefix'],
      [bytes.subarray(0, 1536 + 200), 'is truncated: entry "second" says it holds 700 bytes'],
      [bytes.subarray(0, 1536 + 1024), "is truncated: the archive has no end marker"],
      [bytes.subarray(0, 100), "is truncated: the archive has no end marker"],
    ];
    for (const [bad, message] of cases) {
      let thrown: unknown;
      try {
        listBytes(bad);
      } catch (error) {
        thrown = error;
      }
      expect({ message, type: thrown instanceof TarError }).toEqual({ message, type: true });
      expect((thrown as Error).message).toContain(message);
      expect((thrown as Error).message).toContain("Fix: use an intact backup file");
    }
  });

  test("the number of entries is bounded", () => {
    const { file } = archive();
    expect(listTar(file, { maxEntries: 2 })).toHaveLength(2);
    expect(() => listTar(file, { maxEntries: 1 })).toThrow(
      "holds more than 1 entries; a HomeIQ backup never does (byte 1024 of the archive)",
    );
  });

  test("sizes up to 8 GiB - 1 stay octal; above, the GNU base-256 form is written and read back", () => {
    expect(tarHeader("x", OCTAL_SIZE_MAX, 0).toString("latin1", 124, 136)).toBe("77777777777\0");
    for (const size of [OCTAL_SIZE_MAX + 1, 64 * GIB + 12345, Number.MAX_SAFE_INTEGER]) {
      const h = tarHeader("x", size, 0);
      expect(h[124]).toBe(0x80);
      let value = 0;
      for (let i = 125; i < 136; i++) value = value * 256 + h[i];
      expect(value).toBe(size);
    }
  });

  test("a real sparse file over 8 GiB gets a header the reader and GNU tar both read as its size", () => {
    const dir = tempDir();
    const source = join(dir, "big.db");
    writeFileSync(source, "");
    truncateSync(source, 8 * GIB + 513); // sparse: no blocks are written
    const size = statSync(source).size;
    expect(size).toBeGreaterThan(OCTAL_SIZE_MAX);
    // The archive TarWriter.addFile would write, made sparse the same way: header, data, padding, end.
    const file = join(dir, "big.tar");
    writeFileSync(file, tarHeader("big.db", size, 1_800_000_000));
    truncateSync(file, 512 + Math.ceil(size / 512) * 512 + 1024);
    expect(listTar(file)).toEqual([{ name: "big.db", size: 8 * GIB + 513, offset: 512 }]);
    const gnu = Bun.spawnSync(["tar", "tvf", file]);
    expect(gnu.stdout.toString()).toContain(` ${8 * GIB + 513} `);
    // A size past the end of the real file is still caught.
    truncateSync(file, 512 + 8 * GIB);
    expect(() => listTar(file)).toThrow(`says it holds ${8 * GIB + 513} bytes`);
  });
});
