/**
 * Runs a backup in its own worker thread, so a multi-gigabyte VACUUM INTO never blocks the API's event
 * loop, and keeps a schedule with a retention count.
 */
import { join } from "node:path";
import type { Logger } from "../kernel/log.ts";
import { type BackupManifest, backupFileName, pruneBackups } from "./backup.ts";

export type BackupReply = { ok: true; manifest: BackupManifest } | { ok: false; error: string };

export function runBackup(dataDir: string, out: string): Promise<BackupManifest> {
  const worker = new Worker(new URL("./backup-worker.ts", import.meta.url).href);
  return new Promise<BackupManifest>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<BackupReply>) => {
      worker.terminate();
      if (event.data.ok) resolve(event.data.manifest);
      else reject(new Error(event.data.error));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message));
    };
    worker.postMessage({ dataDir, out });
  });
}

export interface BackupSchedule {
  stop(): void;
  /** Takes a backup now into the backup dir and prunes old ones; at most one runs at a time. */
  now(): Promise<{ file: string; manifest: BackupManifest }>;
}

export function scheduleBackups(opts: {
  dataDir: string;
  dir: string;
  intervalMs: number;
  keep: number;
  log: Logger;
}): BackupSchedule {
  let running: Promise<{ file: string; manifest: BackupManifest }> | undefined;
  const now = () => {
    if (running) return running;
    const file = join(opts.dir, backupFileName());
    running = runBackup(opts.dataDir, file)
      .then((manifest) => {
        const pruned = pruneBackups(opts.dir, opts.keep);
        opts.log.info("backup written", {
          file,
          databases: manifest.databases.length,
          pruned: pruned.length,
        });
        return { file, manifest };
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer =
    opts.intervalMs > 0
      ? setInterval(() => {
          now().catch((error: Error) => opts.log.error("scheduled backup failed", { error: error.message }));
        }, opts.intervalMs)
      : undefined;
  return {
    stop: () => {
      if (timer) clearInterval(timer);
    },
    now,
  };
}
