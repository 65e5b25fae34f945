import { afterEach, describe, expect, test } from "bun:test";
import type {
  HistoryImportCall,
  HistoryImportStatus,
  StartAnswer,
} from "../../../actors/history-import/messages.ts";
import { type TestApi, testApi } from "../../../test/support/api.ts";

let api: TestApi | undefined;
afterEach(() => api?.close());

const idle: HistoryImportStatus = {
  state: "idle",
  reason: null,
  stepsDone: 0,
  stepsTotal: 0,
  events: 0,
  hours: 0,
  fromMs: null,
  toMs: null,
  lastError: null,
  requests: 0,
};

/** The API over a fake history-import actor that records the calls it gets. */
function withActor(answer: (c: HistoryImportCall) => unknown) {
  api = testApi();
  const calls: { actor: string; body: HistoryImportCall }[] = [];
  api.deps.supervisor.call = async (actor, body) => {
    calls.push({ actor, body: body as HistoryImportCall });
    return answer(body as HistoryImportCall);
  };
  return { api, calls };
}

const post = (t: TestApi, body?: unknown) =>
  t.get("/api/v1/import/history", {
    method: "POST",
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });

describe("POST/GET /api/v1/import/history", () => {
  test("starts an import of the asked days and answers its status", async () => {
    const { api, calls } = withActor((c) =>
      c.type === "start"
        ? ({ ok: true, status: { ...idle, state: "running", reason: "on-demand" } } satisfies StartAnswer)
        : idle,
    );
    const res = await post(api, { days: 3 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as HistoryImportStatus).state).toBe("running");
    const status = await api.get("/api/v1/import/history");
    expect(await status.json()).toEqual(idle);
    expect(calls).toEqual([
      { actor: "history-import", body: { type: "start", days: 3 } },
      { actor: "history-import", body: { type: "status" } },
    ]);
  });

  test("without days imports ha.importDays; a running import answers 409; bad days 400", async () => {
    const { api, calls } = withActor(() => ({ ok: false, error: "a history import is running" }));
    const res = await post(api);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toContain("running");
    expect(calls[0].body).toEqual({ type: "start", days: 10 });
    const bad = await post(api, { days: 0 });
    expect(bad.status).toBe(400);
    expect(calls.length).toBe(1);
  });

  test("an actor that is not running is a 503 with the reason", async () => {
    api = testApi();
    const res = await api.get("/api/v1/import/history");
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toContain("not running");
  });
});
