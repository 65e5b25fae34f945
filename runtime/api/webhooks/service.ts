/**
 * Webhook CRUD, logs, test fires and replays without Elysia's Context. The webhook dispatcher owns
 * webhooks.db: after full validation here, a rule change goes to it as a call (`put-rule`,
 * `delete-rule`) and the answer is awaited (webhooks.apiCallTimeoutMs); it saves and reloads in one go.
 * Reads (rules, delivery log, dead letters) use the main thread's own connection through the dispatcher's
 * store module. Bad input throws ApiError naming the field and the fix, and writes nothing. While the
 * dispatcher is restarting a change is refused with a 503 and nothing is saved (the client retries).
 */
import { randomBytes } from "node:crypto";
import { ACTOR, type RuleWriteResult, webhookCall } from "../../../actors/webhook-dispatcher/messages.ts";
import {
  checkRule,
  type PublicRule,
  publicRule,
  type Rule,
  RuleError,
  type RuleInput,
  type RulePatch,
} from "../../../actors/webhook-dispatcher/rules.ts";
import type { DeadLetterRow, DeliveryRow, WebhookStore } from "../../../actors/webhook-dispatcher/store.ts";
import { TargetPolicy } from "../../../actors/webhook-dispatcher/targets.ts";
import type { HomeIQConfig } from "../../config/schema.ts";
import { errorMessage, type Logger } from "../../kernel/log.ts";
import type { SupervisorView } from "../deps.ts";
import { ApiError } from "../errors.ts";

export interface WebhookServiceDeps {
  config: HomeIQConfig;
  /** webhooks.db on the main thread's own connection, opened on first use; read only from here. */
  store: () => WebhookStore;
  supervisor: Pick<SupervisorView, "call">;
  log: Logger;
  now: () => number;
}

const notFound = (id: string) =>
  new ApiError(404, `webhook ${id} does not exist`, {
    field: "params.id",
    expected: "an id listed by GET /api/v1/webhooks",
  });

function parse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

const deliveryView = (d: DeliveryRow) => ({
  id: d.id,
  ruleId: d.rule_id,
  event: d.event,
  status: d.status,
  attempts: d.attempts,
  createdAt: d.created_at,
  nextAt: d.next_at,
  lastAttemptAt: d.last_attempt_at,
  lastStatus: d.last_status,
  lastError: d.last_error,
  finishedAt: d.finished_at,
  payload: parse(d.body),
});
const deadView = (d: DeadLetterRow) => ({ ...deliveryView(d), reason: d.reason, deadAt: d.dead_at });

const offsetOf = (cursor: string | undefined): number => {
  if (cursor === undefined) return 0;
  if (!/^\d{1,9}$/.test(cursor))
    throw new ApiError(400, `cursor "${cursor}" is not one this API returned`, {
      field: "query.cursor",
      expected: "the nextCursor value of a previous page",
    });
  return Number(cursor);
};

export class WebhookService {
  /** Built once from the config: HA's host (or the simulator's) and webhooks.allowHosts. */
  private readonly targets: TargetPolicy;

  constructor(private readonly d: WebhookServiceDeps) {
    this.targets = TargetPolicy.fromConfig(d.config);
  }

  list(): { items: PublicRule[]; total: number } {
    const items = this.d.store().rules().map(publicRule);
    return { items, total: items.length };
  }

  get(id: string): PublicRule {
    const rule = this.d.store().rule(id);
    if (!rule) throw notFound(id);
    return publicRule(rule);
  }

  /** Creates a rule; the answer carries the secret (the only time it is shown). */
  async create(input: RuleInput): Promise<Rule> {
    this.check(input);
    const now = this.d.now();
    const rule: Rule = {
      id: `wh_${randomBytes(9).toString("hex")}`,
      name: input.name,
      url: input.url,
      secret: input.secret ?? randomBytes(24).toString("base64url"),
      enabled: input.enabled ?? true,
      when: input.when,
      createdAt: now,
      updatedAt: now,
    };
    this.answered(await this.write(webhookCall.putRule("create", rule)), rule.id);
    return rule;
  }

  /** Applies a partial update (`when` is replaced whole); a new secret is accepted but never shown back. */
  async update(id: string, patch: RulePatch): Promise<PublicRule> {
    const current = this.d.store().rule(id);
    if (!current) throw notFound(id);
    const next: Rule = {
      ...current,
      ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
      updatedAt: Math.max(this.d.now(), current.updatedAt + 1),
    };
    this.check(next);
    this.answered(await this.write(webhookCall.putRule("update", next)), id);
    return publicRule(next);
  }

  async remove(id: string): Promise<void> {
    this.answered(await this.write(webhookCall.deleteRule(id)), id);
  }

  deliveries(id: string, limit: number, cursor?: string) {
    if (!this.d.store().rule(id)) throw notFound(id);
    const offset = offsetOf(cursor);
    const rows = this.d.store().deliveriesOf(id, limit, offset);
    return {
      items: rows.map(deliveryView),
      nextCursor: rows.length === limit ? String(offset + limit) : null,
    };
  }

  deadLetters(limit: number, cursor?: string) {
    const offset = offsetOf(cursor);
    const rows = this.d.store().deadLetters(limit, offset);
    return { items: rows.map(deadView), nextCursor: rows.length === limit ? String(offset + limit) : null };
  }

  /** Sends one signed test delivery now through the dispatcher actor and reports what the target said. */
  async test(id: string) {
    if (!this.d.store().rule(id)) throw notFound(id);
    const result = await this.callActor(webhookCall.testFire(id), this.d.config.webhooks.timeoutMs + 2000);
    if (result === null) throw notFound(id);
    return result as {
      deliveryId: string;
      ok: boolean;
      status: number | null;
      error: string | null;
      latencyMs: number;
    };
  }

  /** Puts a dead letter back in the queue with its delivery id (receivers can still de-duplicate). */
  async replay(deliveryId: string) {
    const row = (await this.callActor(webhookCall.replay(deliveryId))) as DeliveryRow | null;
    if (!row)
      throw new ApiError(404, `dead letter ${deliveryId} does not exist`, {
        field: "params.id",
        expected: "an id listed by GET /api/v1/webhooks/dead-letters",
      });
    return deliveryView(row);
  }

  private check(rule: { url: string; when: RuleInput["when"] }): void {
    try {
      checkRule(rule, this.targets);
    } catch (error) {
      if (error instanceof RuleError)
        throw new ApiError(400, `invalid body.${error.message}`, {
          field: `body.${error.field}`,
          expected: error.message.slice(error.field.length + 2),
        });
      throw error;
    }
  }

  private async callActor(body: unknown, timeoutMs?: number): Promise<unknown> {
    try {
      return await this.d.supervisor.call(ACTOR, body, timeoutMs);
    } catch (error) {
      throw new ApiError(503, `the webhook dispatcher did not answer: ${errorMessage(error)}`, {
        expected: "retry shortly; GET /health/deep shows the actor's state",
      });
    }
  }

  /**
   * A rule change, made by the dispatcher. A dispatcher that is not running (restarting) refuses at once:
   * nothing was saved. One that does not answer in time may still save it: the 503 says so.
   */
  private async write(body: unknown): Promise<RuleWriteResult> {
    const timeoutMs = this.d.config.webhooks.apiCallTimeoutMs;
    try {
      return (await this.d.supervisor.call(ACTOR, body, timeoutMs)) as RuleWriteResult;
    } catch (error) {
      const message = errorMessage(error);
      if (/is not running/.test(message))
        throw new ApiError(503, `the webhook dispatcher is not running, so nothing was saved: ${message}`, {
          expected: "retry shortly; GET /health/deep shows the actor's state",
        });
      throw new ApiError(
        503,
        `the webhook dispatcher did not confirm the change within ${timeoutMs} ms (webhooks.apiCallTimeoutMs): ${message}`,
        { expected: "GET /api/v1/webhooks shows whether it was saved; retry if not" },
      );
    }
  }

  /** Turns a refused write into the error the endpoint has always answered. */
  private answered(result: RuleWriteResult, id: string): void {
    if (result?.ok === true) return;
    switch (result?.error) {
      case "not-found":
        throw notFound(id);
      case "max-rules":
        throw new ApiError(409, `there are already ${result.maxRules} webhooks (webhooks.maxRules)`, {
          expected: "delete a webhook or raise HOMEIQ_WEBHOOKS_MAX_RULES",
        });
      case "invalid":
        throw new ApiError(400, `invalid body.${result.message}`, {
          field: `body.${result.field}`,
          expected: result.message.slice(result.field.length + 2),
        });
    }
    // Not an answer to a rule write: say so rather than report a change that may not have happened.
    throw new ApiError(503, "the webhook dispatcher gave no answer to the rule change this API understands", {
      expected: "GET /api/v1/webhooks shows whether it was saved; retry if not",
    });
  }
}
