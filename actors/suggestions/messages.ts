/**
 * The suggestions actor's requests. It has no event edges: the API reaches it with `supervisor.call`, and
 * these schemas check those call bodies (the HTTP plugin builds them from validated routes).
 */
import { Type as T } from "@sinclair/typebox";
import { type MessageOf, messageChecker } from "../../runtime/kernel/schema.ts";

export const SuggestionIdSchema = T.String({
  pattern: "^[0-9a-f]{16}$",
  description: "a suggestion id as listed by GET /api/v1/suggestions (16 hex digits)",
});
export const StatusFilterSchema = T.Union(
  [T.Literal("open"), T.Literal("accepted"), T.Literal("dismissed"), T.Literal("all")],
  { description: "which suggestions to list; default open" },
);

export const suggestionsSchemas = {
  list: T.Object({ type: T.Literal("list"), status: T.Optional(StatusFilterSchema) }),
  run: T.Object({ type: T.Literal("run") }),
  accept: T.Object({ type: T.Literal("accept"), id: SuggestionIdSchema }),
  dismiss: T.Object({ type: T.Literal("dismiss"), id: SuggestionIdSchema }),
};

export type SuggestionsRequest = MessageOf<typeof suggestionsSchemas>;
export type StatusFilter = NonNullable<Extract<SuggestionsRequest, { type: "list" }>["status"]>;

export const check = messageChecker("suggestions", suggestionsSchemas);

export const suggestionsRequest = {
  list: (status?: StatusFilter): SuggestionsRequest => (status ? { type: "list", status } : { type: "list" }),
  run: (): SuggestionsRequest => ({ type: "run" }),
  accept: (id: string): SuggestionsRequest => ({ type: "accept", id }),
  dismiss: (id: string): SuggestionsRequest => ({ type: "dismiss", id }),
};
