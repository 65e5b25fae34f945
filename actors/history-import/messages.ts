/**
 * The history import's calls (`supervisor.call("history-import", body)`, from the API and the CLI) and its
 * status. It takes no mailbox messages: it only produces, on `history-import->batcher`.
 */
import { Type as T } from "@sinclair/typebox";
import { messageChecker } from "../../runtime/kernel/schema.ts";

export const HISTORY_IMPORT = "history-import";

export type HistoryImportCall = { type: "status" } | { type: "start"; days: number };
export const historyImportCall = {
  status: (): HistoryImportCall => ({ type: "status" }),
  start: (days: number): HistoryImportCall => ({ type: "start", days }),
};

export interface HistoryImportStatus {
  state: "idle" | "running" | "waiting" | "done" | "off";
  /** Why the current (or last) import was made: "first-start" or "on-demand". */
  reason: string | null;
  stepsDone: number;
  stepsTotal: number;
  /** State changes read from HA's history and handed to the store (the store dedupes). */
  events: number;
  /** Statistics hours handed to the store. */
  hours: number;
  fromMs: number | null;
  toMs: number | null;
  lastError: string | null;
  /** Requests this process made of HA for history imports (get_states, history, statistics). */
  requests: number;
}

export type StartAnswer = { ok: true; status: HistoryImportStatus } | { ok: false; error: string };

/** No inbound edges: an empty set of mailbox messages. */
export const check = messageChecker(HISTORY_IMPORT, { never: T.Object({ type: T.Literal("never") }) });
