/**
 * `/api/v1/suggestions`: automations HomeIQ proposes from the home's history.
 * - `GET /api/v1/suggestions?status=open|accepted|dismissed|all` — suggestions with evidence and YAML.
 * - `POST /api/v1/suggestions` — mine now (joins a run in progress) and answer with the open ones.
 * - `POST /api/v1/suggestions/:id/accept`, `POST /api/v1/suggestions/:id/dismiss` — record the decision;
 *   a dismissed suggestion is never proposed again.
 */
import { Elysia } from "elysia";
import type { ApiDeps } from "../deps.ts";
import { SuggestionDecision, SuggestionIdParams, SuggestionList, SuggestionsQuery } from "./model.ts";
import { SuggestionsService } from "./service.ts";

export function suggestionsPlugin(deps: Pick<ApiDeps, "supervisor">) {
  const service = new SuggestionsService(deps.supervisor);
  return new Elysia({ name: "homeiq/suggestions", detail: { tags: ["suggestions"] } })
    .get("/api/v1/suggestions", ({ query }) => service.list(query.status), {
      query: SuggestionsQuery,
      response: SuggestionList,
      detail: { summary: "Automation suggestions mined from the history, with evidence and HA YAML" },
    })
    .post("/api/v1/suggestions", () => service.run(), {
      response: SuggestionList,
      detail: { summary: "Mine the history now and list the open suggestions" },
    })
    .post("/api/v1/suggestions/:id/accept", ({ params }) => service.decide(params.id, "accept"), {
      params: SuggestionIdParams,
      response: SuggestionDecision,
      detail: { summary: "Mark a suggestion accepted" },
    })
    .post("/api/v1/suggestions/:id/dismiss", ({ params }) => service.decide(params.id, "dismiss"), {
      params: SuggestionIdParams,
      response: SuggestionDecision,
      detail: { summary: "Dismiss a suggestion; it is never proposed again" },
    });
}
