/**
 * Webhook rules: what a rule says (one TypeBox schema shared by the API body and webhooks.db), and the
 * checks that turn a submitted rule into a precise error (what, where, how to fix) before anything is saved.
 *
 * A rule has one trigger (`when`), a discriminated union on `kind`:
 * - `state`: a Home Assistant state change. Selectors `entity` (exact id or glob with `*`/`?`) and
 *   `domain` narrow which entities; then either a transition (`from`/`to`) or a numeric threshold
 *   (`above` or `below`, with `hysteresis`), or neither (every change of a selected entity fires).
 *   `sources` says which changes may fire: `live` (default; only while younger than webhooks.maxEventAgeMs),
 *   `snapshot` (the states HA reports on connect) and `backfill` (changes fetched after an outage).
 * - `enrichment`: a value from an enricher (`source`, `metric`) crossing `above`/`below` with hysteresis.
 * - `health`: an entity-health verdict from the insights actor (provisional shape; see messages.ts).
 *
 * @example
 * { name: "hot office", url: "http://ha.local:8123/api/webhook/hot",
 *   when: { kind: "state", entity: "sensor.office_*_temperature", above: 26, hysteresis: 0.5 } }
 */
import { type Static, Type as T } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { TargetPolicy } from "./targets.ts";

/** Bounds on an entity glob: matching is linear (glob.ts), these keep each rule's cost small and fixed. */
export const GLOB_MAX_LENGTH = 128;
export const GLOB_MAX_WILDCARDS = 16;

/** Where a state change came from, as a rule can select it (see `sources`). */
export const RULE_SOURCES = ["live", "snapshot", "backfill"] as const;
export type RuleSource = (typeof RULE_SOURCES)[number];
export const DEFAULT_SOURCES: readonly RuleSource[] = ["live"];

const Selector = {
  entity: T.Optional(
    T.String({ minLength: 1, maxLength: 255, description: "entity id, or a glob with * and ?" }),
  ),
  domain: T.Optional(T.String({ minLength: 1, maxLength: 64, description: "e.g. binary_sensor" })),
};
const Threshold = {
  above: T.Optional(T.Number({ description: "fires when the value rises above this" })),
  below: T.Optional(T.Number({ description: "fires when the value falls below this" })),
  hysteresis: T.Optional(
    T.Number({ minimum: 0, description: "the value must move back this far past the threshold to re-arm" }),
  ),
};

export const StateTriggerSchema = T.Object(
  {
    kind: T.Literal("state"),
    ...Selector,
    from: T.Optional(T.String({ maxLength: 255 })),
    to: T.Optional(T.String({ maxLength: 255 })),
    ...Threshold,
    sources: T.Optional(
      T.Array(T.Union([T.Literal("live"), T.Literal("snapshot"), T.Literal("backfill")]), {
        minItems: 1,
        maxItems: RULE_SOURCES.length,
        uniqueItems: true,
        description:
          'which changes fire: "live" (default; younger than webhooks.maxEventAgeMs), "snapshot" (states reported on connect), "backfill" (fetched after an outage)',
      }),
    ),
  },
  { additionalProperties: false },
);
export const EnrichmentTriggerSchema = T.Object(
  {
    kind: T.Literal("enrichment"),
    source: T.String({ minLength: 1, maxLength: 64, description: "enricher, e.g. carbon" }),
    metric: T.String({ minLength: 1, maxLength: 64, description: "metric, e.g. intensity" }),
    ...Threshold,
  },
  { additionalProperties: false },
);
export const HealthTriggerSchema = T.Object(
  {
    kind: T.Literal("health"),
    ...Selector,
    status: T.Optional(T.String({ maxLength: 64, description: "e.g. stale, unavailable" })),
  },
  { additionalProperties: false },
);
export const TriggerSchema = T.Union([StateTriggerSchema, EnrichmentTriggerSchema, HealthTriggerSchema]);
export type Trigger = Static<typeof TriggerSchema>;
export type StateTrigger = Static<typeof StateTriggerSchema>;

/** What a client submits to create a rule. */
export const RuleInputSchema = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 200 }),
    url: T.String({ minLength: 8, maxLength: 2048, description: "http(s) URL the webhook is POSTed to" }),
    secret: T.Optional(
      T.String({ minLength: 16, maxLength: 256, description: "HMAC key; generated when omitted" }),
    ),
    enabled: T.Optional(T.Boolean({ default: true })),
    when: TriggerSchema,
  },
  { additionalProperties: false },
);
export type RuleInput = Static<typeof RuleInputSchema>;

/** A partial update; `when` is replaced whole. */
export const RulePatchSchema = T.Partial(RuleInputSchema, { additionalProperties: false });
export type RulePatch = Static<typeof RulePatchSchema>;

export interface Rule {
  id: string;
  name: string;
  url: string;
  secret: string;
  enabled: boolean;
  when: Trigger;
  createdAt: number;
  updatedAt: number;
}

/** A rule as shown by the API: the secret stays in webhooks.db (it is returned once, on create). */
export type PublicRule = Omit<Rule, "secret">;
export const publicRule = ({ secret: _secret, ...rest }: Rule): PublicRule => rest;

export class RuleError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "RuleError";
  }
}

const GLOB_CHARS = /[*?]/;
const ENTITY_CHARS = /^[a-z0-9_.*?]+$/;
const DOMAIN_CHARS = /^[a-z0-9_]+$/;

export const isGlob = (pattern: string): boolean => GLOB_CHARS.test(pattern);

const wildcards = (glob: string): number => {
  let n = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charCodeAt(i);
    if (c === 42 || c === 63) n++;
  }
  return n;
};

/** The domain part of an entity id or glob, or undefined when the domain part holds a wildcard. */
export function literalDomain(pattern: string): string | undefined {
  const dot = pattern.indexOf(".");
  if (dot <= 0) return undefined;
  const domain = pattern.slice(0, dot);
  return isGlob(domain) ? undefined : domain;
}

function checkThreshold(t: { above?: number; below?: number; hysteresis?: number }, at: string): void {
  if (t.above !== undefined && t.below !== undefined)
    throw new RuleError(
      `${at}.above`,
      "a rule takes one threshold, above or below, not both. Fix: split it into two rules.",
    );
  if (t.hysteresis !== undefined && t.above === undefined && t.below === undefined)
    throw new RuleError(
      `${at}.hysteresis`,
      "hysteresis needs a threshold. Fix: add above or below, or remove hysteresis.",
    );
}

/**
 * Checks what the schema cannot: URL scheme and target host (targets.ts), glob syntax and size, field
 * combinations. Throws `RuleError` naming the field and the fix; returns normally when the rule is valid.
 */
export function checkRule(input: { url: string; when: Trigger }, targets: TargetPolicy): void {
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    throw new RuleError(
      "url",
      `"${input.url}" is not a URL. Fix: use e.g. http://ha.local:8123/api/webhook/id.`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new RuleError(
      "url",
      `scheme "${url.protocol}" is not allowed. Fix: use an http:// or https:// URL.`,
    );
  if (url.username || url.password)
    throw new RuleError("url", "credentials in the URL are not allowed. Fix: remove user:password@.");
  const host = targets.checkHost(url.hostname);
  if (!host.ok) throw new RuleError("url", host.error);
  const w = input.when;
  if (w.kind === "enrichment") {
    checkThreshold(w, "when");
    return;
  }
  if (w.entity !== undefined && !ENTITY_CHARS.test(w.entity))
    throw new RuleError(
      "when.entity",
      `"${w.entity}" has characters an entity id cannot have. Fix: use lowercase letters, digits, _ and ., with * or ? as wildcards.`,
    );
  if (w.entity !== undefined && isGlob(w.entity)) {
    if (w.entity.length > GLOB_MAX_LENGTH)
      throw new RuleError(
        "when.entity",
        `a glob may be at most ${GLOB_MAX_LENGTH} characters long (this one has ${w.entity.length}). Fix: shorten it, or select by domain.`,
      );
    const n = wildcards(w.entity);
    if (n > GLOB_MAX_WILDCARDS)
      throw new RuleError(
        "when.entity",
        `a glob may hold at most ${GLOB_MAX_WILDCARDS} wildcards (* and ?; this one has ${n}). Fix: use fewer; one * spans any run of characters.`,
      );
  }
  if (w.domain !== undefined && !DOMAIN_CHARS.test(w.domain))
    throw new RuleError(
      "when.domain",
      `"${w.domain}" is not a domain. Fix: use e.g. sensor or binary_sensor.`,
    );
  if (w.entity !== undefined && w.domain !== undefined) {
    const d = literalDomain(w.entity);
    if (d !== undefined && d !== w.domain)
      throw new RuleError(
        "when.domain",
        `entity "${w.entity}" is in domain "${d}", not "${w.domain}", so the rule could never fire. Fix: drop domain or correct it.`,
      );
  }
  if (w.kind === "health") return;
  checkThreshold(w, "when");
  if (w.sources !== undefined) {
    if (
      w.sources.length === 0 ||
      w.sources.some((x) => !RULE_SOURCES.includes(x)) ||
      new Set(w.sources).size !== w.sources.length
    )
      throw new RuleError(
        "when.sources",
        `sources must list each of ${RULE_SOURCES.join(", ")} at most once, and at least one. Fix: e.g. ["live", "snapshot"], or leave it out for live changes only.`,
      );
  }
  if ((w.above !== undefined || w.below !== undefined) && (w.from !== undefined || w.to !== undefined))
    throw new RuleError(
      "when.from",
      "a rule is either a transition (from/to) or a threshold (above/below). Fix: split it into two rules.",
    );
}

const TRIGGERS: Record<
  string,
  typeof StateTriggerSchema | typeof EnrichmentTriggerSchema | typeof HealthTriggerSchema
> = { state: StateTriggerSchema, enrichment: EnrichmentTriggerSchema, health: HealthTriggerSchema };

/** A rule's sources, with the default for rules that do not say. */
export const sourcesOf = (w: StateTrigger): readonly RuleSource[] => w.sources ?? DEFAULT_SOURCES;

/**
 * Untrusted input (a request body, a row read back) to a checked rule input, or a `RuleError` naming the
 * first problem. Never throws.
 */
export function parseRuleInput(
  input: unknown,
  targets: TargetPolicy,
): { ok: true; value: RuleInput } | { ok: false; error: RuleError } {
  if (!Value.Check(RuleInputSchema, input)) {
    // A union reports only "expected union value": check `when` against the member its kind names instead.
    const when = (input as { when?: { kind?: unknown } } | null)?.when;
    const kind = String(when?.kind);
    const member = Object.hasOwn(TRIGGERS, kind) ? TRIGGERS[kind] : undefined;
    const first =
      member && !Value.Check(member, when)
        ? { ...Value.Errors(member, when).First(), at: "when" }
        : { ...Value.Errors(RuleInputSchema, input).First(), at: "" };
    const path = `${first.at}${first.path ?? ""}`.replace(/^\//, "").replaceAll("/", ".");
    return {
      ok: false,
      error: new RuleError(path || "body", `${first.message ?? "invalid rule"}. Fix: see the rule schema.`),
    };
  }
  try {
    checkRule(input, targets);
    return { ok: true, value: input };
  } catch (error) {
    if (error instanceof RuleError) return { ok: false, error };
    throw error; // a bug in checkRule, not bad input: let it surface
  }
}
