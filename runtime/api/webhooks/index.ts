/**
 * `/api/v1/webhooks`: rule CRUD (validated; precise errors), `POST /:id/test` (a signed test delivery now),
 * `GET /:id/deliveries` (the delivery log), `GET /dead-letters` and `POST /dead-letters/:id/replay`.
 * Rules live in webhooks.db, owned by the webhook dispatcher: changes go to it as calls and are awaited;
 * reads use the plugin's own connection through the dispatcher's store module.
 */
import { Elysia, t } from "elysia";
import { WebhookStore } from "../../../actors/webhook-dispatcher/store.ts";
import type { ApiDeps } from "../deps.ts";
import {
  CreatedRule,
  DEFAULT_PAGE,
  DeadLetter,
  Delivery,
  RuleInput,
  RulePatch,
  RuleView,
  webhookModels,
} from "./model.ts";
import { WebhookService } from "./service.ts";

export function webhooksPlugin(
  deps: Pick<ApiDeps, "config" | "supervisor" | "log"> & { webhookStore?: WebhookStore },
  now: () => number = Date.now,
) {
  // Opened on first use, so building the app (e.g. in other features' tests) touches no file.
  let opened = deps.webhookStore;
  const store = () => {
    opened ??= new WebhookStore(deps.config.dataDir);
    return opened;
  };
  const service = new WebhookService({
    config: deps.config,
    store,
    supervisor: deps.supervisor,
    log: deps.log,
    now,
  });
  const { IdParams, PageQuery } = webhookModels(deps.config.api.pageMax);
  const limit = (l: number | undefined) => l ?? Math.min(DEFAULT_PAGE, deps.config.api.pageMax);
  const Page = <S extends Parameters<typeof t.Array>[0]>(item: S) =>
    t.Object({ items: t.Array(item), nextCursor: t.Union([t.String(), t.Null()]) });
  return new Elysia({ name: "homeiq/webhooks", detail: { tags: ["webhooks"] } })
    .get("/api/v1/webhooks", () => service.list(), {
      response: t.Object({ items: t.Array(RuleView), total: t.Number() }),
      detail: { summary: "Webhook rules (secrets are not shown)" },
    })
    .post(
      "/api/v1/webhooks",
      async ({ body, set }) => {
        set.status = 201;
        return await service.create(body);
      },
      {
        body: RuleInput,
        response: { 201: CreatedRule },
        detail: { summary: "Create a rule; the answer shows its signing secret once" },
      },
    )
    .get(
      "/api/v1/webhooks/dead-letters",
      ({ query }) => service.deadLetters(limit(query.limit), query.cursor),
      {
        query: PageQuery,
        response: Page(DeadLetter),
        detail: { summary: "Deliveries given up on, newest first" },
      },
    )
    .post("/api/v1/webhooks/dead-letters/:id/replay", ({ params }) => service.replay(params.id), {
      params: IdParams,
      response: Delivery,
      detail: { summary: "Queue a dead letter again, with the same delivery id" },
    })
    .get("/api/v1/webhooks/:id", ({ params }) => service.get(params.id), {
      params: IdParams,
      response: RuleView,
      detail: { summary: "One rule" },
    })
    .patch("/api/v1/webhooks/:id", ({ params, body }) => service.update(params.id, body), {
      params: IdParams,
      body: RulePatch,
      response: RuleView,
      detail: { summary: "Change a rule (when is replaced whole)" },
    })
    .delete(
      "/api/v1/webhooks/:id",
      async ({ params, set }) => {
        await service.remove(params.id);
        set.status = 204;
      },
      { params: IdParams, detail: { summary: "Delete a rule (its pending deliveries are dead-lettered)" } },
    )
    .post("/api/v1/webhooks/:id/test", ({ params }) => service.test(params.id), {
      params: IdParams,
      detail: { summary: "Send a signed test delivery now and report the target's answer" },
    })
    .get(
      "/api/v1/webhooks/:id/deliveries",
      ({ params, query }) => service.deliveries(params.id, limit(query.limit), query.cursor),
      {
        params: IdParams,
        query: PageQuery,
        response: Page(Delivery),
        detail: { summary: "A rule's delivery log, newest first" },
      },
    );
}
