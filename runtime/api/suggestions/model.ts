/** Schemas of `/api/v1/suggestions`: the same shapes the suggestions actor answers with. */
import { t } from "elysia";

/** errors.ts turns the attached `{ field, expected }` into a precise 400. */
const fieldError = (field: string, expected: string) => () => ({ field, expected });

export const SuggestionIdParams = t.Object({
  id: t.String({
    pattern: "^[0-9a-f]{16}$",
    error: fieldError("params.id", "a suggestion id of 16 hex digits, as listed by GET /api/v1/suggestions"),
  }),
});

export const SuggestionsQuery = t.Object({
  status: t.Optional(
    t.Union([t.Literal("open"), t.Literal("accepted"), t.Literal("dismissed"), t.Literal("all")], {
      description: "one of open, accepted, dismissed, all (default open)",
      error: fieldError("query.status", "one of open, accepted, dismissed, all"),
    }),
  ),
});

export const Evidence = t.Object({
  count: t.Number({ description: "occurrences that support the suggestion" }),
  days: t.Array(t.String(), { description: "local dates (YYYY-MM-DD) with an occurrence, ascending" }),
  dayCount: t.Number(),
  confidence: t.Number({ description: "0..1: share of opportunities where the pattern held" }),
  detail: t.Record(t.String(), t.Union([t.Number(), t.String()])),
});

export const SuggestionView = t.Object({
  id: t.String(),
  kind: t.Union([
    t.Literal("time_of_day"),
    t.Literal("co_occurrence"),
    t.Literal("left_on"),
    t.Literal("threshold"),
  ]),
  status: t.Union([t.Literal("open"), t.Literal("accepted"), t.Literal("dismissed")]),
  title: t.String(),
  explanation: t.String(),
  minerTitle: t.String(),
  minerExplanation: t.String(),
  rewritten: t.Boolean({ description: "true when the LLM rewrote title and explanation" }),
  entities: t.Array(t.String()),
  evidence: Evidence,
  yaml: t.String({ description: "Home Assistant automation YAML, ready for automations.yaml" }),
  firstSeen: t.Number(),
  lastSeen: t.Number(),
  statusAt: t.Union([t.Number(), t.Null()]),
});

export const RunView = t.Object({
  id: t.Number(),
  trigger: t.Union([t.Literal("schedule"), t.Literal("manual")]),
  startedAt: t.Number(),
  finishedAt: t.Number(),
  ms: t.Number(),
  events: t.Number(),
  found: t.Number(),
  added: t.Number(),
  suppressed: t.Number(),
  removed: t.Number(),
  open: t.Number(),
  error: t.Union([t.String(), t.Null()]),
});

export const SuggestionList = t.Object({
  suggestions: t.Array(SuggestionView),
  lastRun: t.Union([RunView, t.Null()]),
  running: t.Boolean(),
});

export const SuggestionDecision = t.Object({ suggestion: SuggestionView });
