/**
 * The suggestions feature without HTTP: each request becomes a call to the suggestions actor
 * (`supervisor.call("suggestions", ...)`), whose answers are values; they map to 404/400/503 here.
 */

import { type StatusFilter, suggestionsRequest } from "../../../actors/suggestions/messages.ts";
import type { RunRecord, StoredSuggestion } from "../../../actors/suggestions/suggestion-store.ts";
import { errorMessage } from "../../kernel/log.ts";
import type { SupervisorView } from "../deps.ts";
import { ApiError } from "../errors.ts";

const ACTOR = "suggestions";
/** A run mines at most `suggestions.days` of history (target < 5 s); this leaves room on a slow disk. */
export const RUN_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 10_000;

type Reply =
  | { ok: true; suggestions: StoredSuggestion[]; lastRun: RunRecord | null; running: boolean }
  | { ok: true; suggestion: StoredSuggestion }
  | { ok: false; code: "not_found" | "bad_request"; error: string };

export class SuggestionsService {
  constructor(private readonly supervisor: SupervisorView) {}

  private async call(body: unknown, timeoutMs: number): Promise<Reply> {
    let reply: Reply;
    try {
      reply = (await this.supervisor.call(ACTOR, body, timeoutMs)) as Reply;
    } catch (error) {
      throw new ApiError(503, `the suggestions actor did not answer: ${errorMessage(error)}`, {
        expected: "a running suggestions actor; see GET /health",
      });
    }
    if (!reply.ok) {
      if (reply.code === "not_found") throw new ApiError(404, reply.error, { field: "params.id" });
      throw new ApiError(400, reply.error);
    }
    return reply;
  }

  async list(status: StatusFilter | undefined) {
    const reply = await this.call(suggestionsRequest.list(status), CALL_TIMEOUT_MS);
    if (!("suggestions" in reply)) throw new ApiError(503, "the suggestions actor answered out of turn");
    return { suggestions: reply.suggestions, lastRun: reply.lastRun, running: reply.running };
  }

  async run() {
    const reply = await this.call(suggestionsRequest.run(), RUN_TIMEOUT_MS);
    if (!("suggestions" in reply)) throw new ApiError(503, "the suggestions actor answered out of turn");
    return { suggestions: reply.suggestions, lastRun: reply.lastRun, running: reply.running };
  }

  async decide(id: string, decision: "accept" | "dismiss") {
    const body = decision === "accept" ? suggestionsRequest.accept(id) : suggestionsRequest.dismiss(id);
    const reply = await this.call(body, CALL_TIMEOUT_MS);
    if (!("suggestion" in reply)) throw new ApiError(503, "the suggestions actor answered out of turn");
    return { suggestion: reply.suggestion };
  }
}
