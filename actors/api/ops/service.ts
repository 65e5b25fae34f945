/** Operations without HTTP: list backups, parse an import, plan an export. */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { StateChange } from "../../batcher/messages.ts";
import { type Precision, parseLineProtocol } from "../../ops/import.ts";

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

/** Batches of at most `size` state changes, for the hub's edge into the batcher. */
export function* batches(events: StateChange[], size: number): Generator<StateChange[]> {
  for (let i = 0; i < events.length; i += size) yield events.slice(i, i + size);
}

export function parseImport(text: string, precision?: Precision): StateChange[] {
  return parseLineProtocol(text, precision);
}
