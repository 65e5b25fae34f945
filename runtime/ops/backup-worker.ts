/** Worker body of `runBackup`: one backup, one reply. */
import { errorMessage } from "../kernel/log.ts";
import { createBackup } from "./backup.ts";
import type { BackupReply } from "./run-backup.ts";

declare const self: Worker;
self.onmessage = (event: MessageEvent<{ dataDir: string; out: string }>) => {
  let reply: BackupReply;
  try {
    reply = { ok: true, manifest: createBackup(event.data.dataDir, event.data.out) };
  } catch (error) {
    reply = { ok: false, error: errorMessage(error) };
  }
  self.postMessage(reply);
};
