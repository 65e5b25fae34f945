/** Operations without HTTP: list backups, run an import through a spool file. */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { type ImportOptions, type ImportOutcome, runImport } from "../../ops/import-stream.ts";

export function listBackups(dir: string): { file: string; bytes: number; createdAt: string }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^homeiq-.*\.tar$/.test(f))
    .sort()
    .reverse()
    .map((f) => {
      const st = statSync(join(dir, f));
      return { file: f, bytes: st.size, createdAt: st.mtime.toISOString() };
    });
}

let spools = 0;

/**
 * Runs an import of a request body: pass 1 checks it while copying it to a spool file in the data dir
 * (owner-only, bounded by ops.importMaxBytes), pass 2 stores it from there, so memory stays bounded by a
 * batch whatever the upload. The spool is removed whatever happens.
 */
export async function importThroughSpool(
  body: ReadableStream<Uint8Array> | null,
  opts: Omit<ImportOptions, "tee" | "reread"> & { dataDir: string },
): Promise<ImportOutcome> {
  const path = join(opts.dataDir, `.import-${process.pid}-${++spools}.spool`);
  const file = await open(path, "wx", 0o600);
  try {
    return await runImport(body ?? new Response("").body!, {
      ...opts,
      tee: (chunk) => file.write(chunk),
      reread: () => Bun.file(path).stream(),
    });
  } finally {
    await file.close();
    rmSync(path, { force: true });
  }
}
