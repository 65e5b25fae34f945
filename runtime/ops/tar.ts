/**
 * A minimal POSIX ustar writer and reader for backup files: regular files only, streamed in chunks so a
 * multi-gigabyte database never sits in memory. Any `tar tf` can list a HomeIQ backup.
 *
 * The reader takes hostile input: every header is checked (checksum, octal or base-256 size, regular-file
 * typeflag, bounds against the file's length) and the number of entries is capped, so a crafted archive
 * gets a `TarError` naming the byte offset, never a loop, a crash or an allocation it chose.
 */
import { closeSync, fchmodSync, fstatSync, openSync, readSync, writeSync } from "node:fs";

const BLOCK = 512;
const CHUNK = 1024 * 1024;
/** Largest size the 11-digit octal field holds (8 GiB - 1); above it the GNU base-256 form is used. */
export const OCTAL_SIZE_MAX = 8 ** 11 - 1;
/** Entries `listTar` reads before refusing the archive, unless the caller passes its own bound. */
export const TAR_ENTRIES_MAX = 100_001;
const FIX = "Fix: use an intact backup file made by `homeiq backup` (copy it again if it was transferred).";

/** Anything wrong with an archive: what, at which byte, and how to fix it. */
export class TarError extends Error {
  constructor(
    readonly archive: string,
    readonly offset: number,
    problem: string,
  ) {
    super(`${archive} ${problem} (byte ${offset} of the archive). ${FIX}`);
    this.name = "TarError";
  }
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

/** The 12-byte size field: octal up to 8 GiB - 1, GNU base-256 (0x80, then big-endian) above. */
function writeSize(h: Buffer, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`tar entry size ${size} is not valid`);
  if (size <= OCTAL_SIZE_MAX) {
    h.write(octal(size, 12), 124, "latin1");
    return;
  }
  let rest = size;
  for (let i = 135; i > 124; i--) {
    h[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  h[124] = 0x80;
}

/** One ustar header block for a regular file (mode 0600: backups hold secrets). */
export function tarHeader(name: string, size: number, mtimeSec: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, "utf8");
  h.write(octal(0o600, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  writeSize(h, size);
  h.write(octal(Math.floor(mtimeSec), 12), 136);
  h.write("        ", 148); // checksum placeholder: eight spaces
  h.write("0", 156); // regular file
  h.write("ustar\0", 257);
  h.write("00", 263);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

/** Appends entries to a tar file opened for writing. Call `finish()` once. */
export class TarWriter {
  private readonly fd: number;
  constructor(path: string) {
    this.fd = openSync(path, "w", 0o600);
    fchmodSync(this.fd, 0o600); // a file left over from an earlier run keeps its mode otherwise
  }

  addFile(name: string, sourcePath: string): number {
    const src = openSync(sourcePath, "r");
    try {
      const size = fstatSync(src).size;
      writeSync(this.fd, tarHeader(name, size, Date.now() / 1000));
      const buffer = Buffer.alloc(CHUNK);
      let copied = 0;
      while (copied < size) {
        const n = readSync(src, buffer, 0, Math.min(CHUNK, size - copied), copied);
        if (n <= 0) throw new Error(`${sourcePath} shrank while being archived`);
        writeSync(this.fd, buffer, 0, n);
        copied += n;
      }
      this.pad(size);
      return size;
    } finally {
      closeSync(src);
    }
  }

  addBytes(name: string, bytes: Uint8Array): void {
    writeSync(this.fd, tarHeader(name, bytes.length, Date.now() / 1000));
    writeSync(this.fd, bytes);
    this.pad(bytes.length);
  }

  finish(): void {
    writeSync(this.fd, Buffer.alloc(BLOCK * 2));
    closeSync(this.fd);
  }

  private pad(size: number): void {
    const rest = size % BLOCK;
    if (rest) writeSync(this.fd, Buffer.alloc(BLOCK - rest));
  }
}

export interface TarEntry {
  name: string;
  size: number;
  /** Byte offset of the entry's data in the archive. */
  offset: number;
}

/**
 * A numeric header field: optional leading spaces, at least one octal digit, then only NULs or spaces.
 * Returns null for anything else (a sign, a non-octal digit, an empty field).
 */
function octalField(h: Uint8Array, start: number, end: number): number | null {
  let i = start;
  while (i < end && h[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < end && h[i] >= 0x30 && h[i] <= 0x37; i++, digits++) value = value * 8 + (h[i] - 0x30);
  if (digits === 0) return null;
  for (; i < end; i++) if (h[i] !== 0 && h[i] !== 0x20) return null;
  return value;
}

/** The size field: octal, or GNU base-256 (high bit set; 0xff marks a negative number, refused). */
function sizeField(h: Uint8Array): number | string {
  if ((h[124] & 0x80) === 0) return octalField(h, 124, 136) ?? "has a size field that is not an octal number";
  if (h[124] === 0xff) return "has a negative size (base-256 size field)";
  let value = h[124] & 0x7f;
  for (let i = 125; i < 136; i++) {
    value = value * 256 + h[i];
    if (value > Number.MAX_SAFE_INTEGER) return "has a size too large to be real (base-256 size field)";
  }
  return value;
}

const TYPE_NAMES: Record<string, string> = {
  "1": "a hard link",
  "2": "a symbolic link",
  "3": "a character device",
  "4": "a block device",
  "5": "a directory",
  "6": "a FIFO",
  "7": "a contiguous file",
  x: "a pax extended header",
  g: "a pax global header",
  L: "a GNU long name",
  K: "a GNU long link name",
};

/** Checks one header block and returns its entry, or null at the end-of-archive (zero) block. */
function parseHeader(archive: string, h: Uint8Array, pos: number, total: number): TarEntry | null {
  if (h.every((b) => b === 0)) return null;
  const bad = (problem: string) => new TarError(archive, pos, problem);
  if (Buffer.from(h.buffer, h.byteOffset + 257, 5).toString("latin1") !== "ustar")
    throw bad("is not a HomeIQ backup: no tar header where one should start");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  const stored = octalField(h, 148, 156);
  if (stored === null) throw bad("is damaged: a tar header's checksum field is not an octal number");
  if (stored !== sum) throw bad(`is damaged: bad tar header checksum (stored ${stored}, computed ${sum})`);
  const nameEnd = h.indexOf(0);
  const name = Buffer.from(h.buffer, h.byteOffset, nameEnd < 0 || nameEnd > 100 ? 100 : nameEnd).toString(
    "utf8",
  );
  if (name === "") throw bad("has a tar entry with an empty name");
  const flag = h[156];
  if (flag !== 0x30 && flag !== 0) {
    const type = String.fromCharCode(flag);
    throw bad(
      `has entry ${JSON.stringify(name)} of type ${JSON.stringify(type)} (${TYPE_NAMES[type] ?? "not a regular file"}); a HomeIQ backup holds only regular files`,
    );
  }
  // POSIX ustar keeps the first part of long names in a prefix field; HomeIQ never writes one.
  if (h[262] === 0 && h[345] !== 0)
    throw bad(`has entry ${JSON.stringify(name)} with a name prefix (ustar long name)`);
  const size = sizeField(h);
  if (typeof size === "string") throw bad(`has entry ${JSON.stringify(name)} that ${size}`);
  const offset = pos + BLOCK;
  if (size > total - offset)
    throw bad(
      `is truncated: entry ${JSON.stringify(name)} says it holds ${size} bytes, but the archive ends ${total - offset} bytes after its header`,
    );
  return { name, size, offset };
}

/**
 * Lists a tar file's entries; throws a `TarError` on anything that is not a well-formed archive of regular
 * files, or that holds more than `maxEntries` entries.
 */
export function listTar(path: string, opts: { maxEntries?: number } = {}): TarEntry[] {
  const maxEntries = opts.maxEntries ?? TAR_ENTRIES_MAX;
  const fd = openSync(path, "r");
  try {
    const total = fstatSync(fd).size;
    const entries: TarEntry[] = [];
    const h = Buffer.alloc(BLOCK);
    let pos = 0;
    while (pos + BLOCK <= total) {
      if (readSync(fd, h, 0, BLOCK, pos) !== BLOCK) break;
      const entry = parseHeader(path, h, pos, total);
      if (!entry) return entries;
      if (entries.length >= maxEntries)
        throw new TarError(path, pos, `holds more than ${maxEntries} entries; a HomeIQ backup never does`);
      entries.push(entry);
      pos = entry.offset + Math.ceil(entry.size / BLOCK) * BLOCK; // always advances: size >= 0
    }
    throw new TarError(path, pos, "is truncated: the archive has no end marker");
  } finally {
    closeSync(fd);
  }
}

/**
 * Copies one entry's bytes to a new file (mode 0600; an existing file or symlink at `target` is an error,
 * never followed) in chunks, and returns the SHA-256 (hex) of exactly the bytes written.
 */
export function extractEntry(archive: string, entry: TarEntry, target: string): string {
  const hasher = new Bun.CryptoHasher("sha256");
  const src = openSync(archive, "r");
  try {
    const dst = openSync(target, "wx", 0o600);
    try {
      const buffer = Buffer.alloc(CHUNK);
      let copied = 0;
      while (copied < entry.size) {
        const n = readSync(src, buffer, 0, Math.min(CHUNK, entry.size - copied), entry.offset + copied);
        if (n <= 0)
          throw new TarError(
            archive,
            entry.offset + copied,
            `is truncated inside ${JSON.stringify(entry.name)}`,
          );
        writeSync(dst, buffer, 0, n);
        hasher.update(buffer.subarray(0, n));
        copied += n;
      }
    } finally {
      closeSync(dst);
    }
  } finally {
    closeSync(src);
  }
  return hasher.digest("hex");
}

/** Reads one (small) entry into memory; the caller bounds `entry.size`. */
export function readEntry(archive: string, entry: TarEntry): Buffer {
  const fd = openSync(archive, "r");
  try {
    const buffer = Buffer.alloc(entry.size);
    if (readSync(fd, buffer, 0, entry.size, entry.offset) !== entry.size)
      throw new TarError(archive, entry.offset, `is truncated inside ${JSON.stringify(entry.name)}`);
    return buffer;
  } finally {
    closeSync(fd);
  }
}
