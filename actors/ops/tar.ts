/**
 * A minimal POSIX ustar writer and reader for backup files: regular files only, streamed in chunks so a
 * multi-gigabyte database never sits in memory. Any `tar tf` can list a HomeIQ backup.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";

const BLOCK = 512;
const CHUNK = 1024 * 1024;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function header(name: string, size: number, mtimeSec: number): Uint8Array {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, "utf8");
  h.write(octal(0o644, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
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
  }

  addFile(name: string, sourcePath: string): number {
    const src = openSync(sourcePath, "r");
    try {
      const size = fstatSync(src).size;
      writeSync(this.fd, header(name, size, Date.now() / 1000));
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
    writeSync(this.fd, header(name, bytes.length, Date.now() / 1000));
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

/** Lists a tar file's entries; throws a clear error on anything that is not a well-formed ustar archive. */
export function listTar(path: string): TarEntry[] {
  const fd = openSync(path, "r");
  try {
    const total = fstatSync(fd).size;
    const entries: TarEntry[] = [];
    const h = Buffer.alloc(BLOCK);
    let pos = 0;
    while (pos + BLOCK <= total) {
      readSync(fd, h, 0, BLOCK, pos);
      if (h.every((b) => b === 0)) return entries;
      if (h.toString("latin1", 257, 262) !== "ustar")
        throw new Error(`${path} is not a HomeIQ backup (no tar header at byte ${pos})`);
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
      const stored = Number.parseInt(h.toString("latin1", 148, 155).replace(/\0.*$/, "").trim(), 8);
      if (stored !== sum) throw new Error(`${path} is damaged: bad tar header checksum at byte ${pos}`);
      const name = h.toString("utf8", 0, 100).replace(/\0.*$/s, "");
      const size = Number.parseInt(h.toString("latin1", 124, 135), 8);
      entries.push({ name, size, offset: pos + BLOCK });
      pos += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    }
    throw new Error(`${path} is truncated: the archive has no end marker`);
  } finally {
    closeSync(fd);
  }
}

/** Copies one entry's bytes to a file, in chunks. */
export function extractEntry(archive: string, entry: TarEntry, target: string): void {
  const src = openSync(archive, "r");
  const dst = openSync(target, "w", 0o600);
  try {
    const buffer = Buffer.alloc(CHUNK);
    let copied = 0;
    while (copied < entry.size) {
      const n = readSync(src, buffer, 0, Math.min(CHUNK, entry.size - copied), entry.offset + copied);
      if (n <= 0) throw new Error(`${archive} is truncated inside ${entry.name}`);
      writeSync(dst, buffer, 0, n);
      copied += n;
    }
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}

export function readEntry(archive: string, entry: TarEntry): Buffer {
  const fd = openSync(archive, "r");
  try {
    const buffer = Buffer.alloc(entry.size);
    readSync(fd, buffer, 0, entry.size, entry.offset);
    return buffer;
  } finally {
    closeSync(fd);
  }
}
