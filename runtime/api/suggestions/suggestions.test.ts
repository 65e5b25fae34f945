/**
 * The suggestions feature end to end: a real supervisor runs the suggestions worker over a seeded
 * events.db; the API plugin talks to it in-process (`app.handle`).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Elysia } from "elysia";
import { parse } from "yaml";
import { testApi } from "../../../test/support/api.ts";
import { seedStore } from "../../../test/support/synthetic-home/habits-store.ts";
import { loadConfig } from "../../config/load.ts";
import { waitFor } from "../../kernel/clock.ts";
import { createLogger } from "../../kernel/log.ts";
import { MetricsHub } from "../../kernel/metrics.ts";
import { Supervisor } from "../../kernel/supervisor.ts";
import { errors } from "../errors.ts";
import { suggestionsPlugin } from "./index.ts";

// Mining a month of history is seconds of CPU on a busy 2-core box; the default 5 s is too tight.
setDefaultTimeout(30_000);

const DAY = 86_400_000;
let dir: string;
let supervisor: Supervisor;
let metrics: MetricsHub;
let app: ReturnType<typeof build>;

/** OpenAI-compatible fixture: fails for the hallway suggestion, never answers for the thermostat ones. */
let release: () => void = () => {};
const hang = new Promise<void>((resolve) => {
  release = resolve;
});
const llm = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const body = (await req.json()) as { messages: { content: string }[] };
    const { title } = JSON.parse(body.messages[1].content) as { title: string };
    if (title.includes("Hallway")) return new Response("overloaded", { status: 500 });
    if (title.includes("thermostat")) await hang;
    const content = JSON.stringify({
      title: `Plain: ${title}`,
      explanation: "Said simply, by the fixture model.",
    });
    return Response.json({ choices: [{ index: 0, message: { role: "assistant", content } }] });
  },
});

const build = (s: Supervisor) => new Elysia().use(errors).use(suggestionsPlugin({ supervisor: s }));
const request = (method: string, path: string) =>
  app.handle(new Request(`http://localhost${path}`, { method }));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "homeiq-suggestions-api-"));
  const start = Math.floor(Date.now() / DAY) * DAY - 29 * DAY;
  seedStore(dir, { start, days: 29, entities: 24, seed: 3, planted: true, sensorEveryMin: 30 });
  const config = loadConfig({
    env: {
      HOMEIQ_DATA_DIR: dir,
      HOMEIQ_SUGGESTIONS_START_DELAY_MS: "3600000",
      HOMEIQ_SUGGESTIONS_TIME_ZONE: "UTC",
      HOMEIQ_LOG_LEVEL: "silent",
      HOMEIQ_LLM_URL: `http://127.0.0.1:${llm.port}`,
      HOMEIQ_LLM_MODEL: "fixture",
      HOMEIQ_LLM_TIMEOUT_MS: "1500",
    },
  });
  metrics = new MetricsHub();
  supervisor = new Supervisor(
    {
      children: [
        {
          name: "suggestions",
          module: new URL("../../../actors/suggestions/worker.ts", import.meta.url).pathname,
        },
      ],
      edges: [],
      maxRestarts: 1,
      periodMs: 30000,
      backoffMinMs: 10,
      backoffMaxMs: 100,
      startTimeoutMs: 10000,
      metricsIntervalMs: 50,
      logLevel: "silent",
      config,
    },
    { log: createLogger({ actor: "supervisor", level: "silent" }), metrics, onFatal: () => {} },
  );
  await supervisor.start();
  app = build(supervisor);
}, 60_000);

afterAll(async () => {
  await supervisor.stop(5000);
  release();
  llm.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

describe("/api/v1/suggestions against the suggestions worker", () => {
  test("lists nothing before the first run, then POST mines and lists the planted habits", async () => {
    const before = await (await request("GET", "/api/v1/suggestions")).json();
    expect(before).toEqual({ suggestions: [], lastRun: null, running: false });

    const res = await request("POST", "/api/v1/suggestions");
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.lastRun.error).toBeNull();
    expect(body.lastRun.trigger).toBe("manual");
    const kinds = body.suggestions.map(
      (s: { kind: string; entities: string[] }) => `${s.kind}:${s.entities[0]}`,
    );
    expect(kinds).toEqual(
      expect.arrayContaining([
        "time_of_day:light.kitchen",
        "co_occurrence:binary_sensor.front_door",
        "left_on:light.living_room",
        "threshold:climate.living_room",
      ]),
    );
    for (const s of body.suggestions) expect(parse(s.yaml)[0].id).toBe(s.id);
  });

  test("the LLM rewrites titles in the background; its failures and timeouts leave the miner's text", async () => {
    type View = { title: string; minerTitle: string; rewritten: boolean };
    const { suggestions } = await waitFor(
      async () => {
        const list = await (await request("GET", "/api/v1/suggestions")).json();
        const done = metrics.counter("suggestions_llm_rewrites_total") >= list.suggestions.length;
        return done ? list : null;
      },
      { timeoutMs: 20000, what: "every open suggestion tried by the LLM" },
    );
    for (const s of suggestions as View[]) {
      const keeps = s.minerTitle.includes("Hallway") || s.minerTitle.includes("thermostat");
      expect(s.rewritten).toBe(!keeps);
      expect(s.title).toBe(keeps ? s.minerTitle : `Plain: ${s.minerTitle}`);
    }
    expect(metrics.counter("suggestions_llm_rewrites_total", { outcome: "failed" })).toBe(1);
    expect(metrics.counter("suggestions_llm_rewrites_total", { outcome: "timeout" })).toBeGreaterThanOrEqual(
      2,
    );
  });

  test("dismiss removes a suggestion for good; accept keeps it as accepted", async () => {
    const { suggestions } = await (await request("GET", "/api/v1/suggestions")).json();
    const [first, second] = suggestions;
    const dismissed = await request("POST", `/api/v1/suggestions/${first.id}/dismiss`);
    expect(dismissed.status).toBe(200);
    expect((await dismissed.json()).suggestion.status).toBe("dismissed");
    const accepted = await (await request("POST", `/api/v1/suggestions/${second.id}/accept`)).json();
    expect(accepted.suggestion.status).toBe("accepted");

    const rerun = await (await request("POST", "/api/v1/suggestions")).json();
    expect(rerun.lastRun.suppressed).toBe(1);
    expect(rerun.suggestions.map((s: { id: string }) => s.id)).not.toContain(first.id);
    const all = await (await request("GET", "/api/v1/suggestions?status=dismissed")).json();
    expect(all.suggestions.map((s: { id: string }) => s.id)).toEqual([first.id]);
    // Two runs, visible in the merged metrics.
    await waitFor(() => metrics.counter("suggestions_runs_total") === 2, {
      timeoutMs: 5000,
      what: "run metrics",
    });
    expect(metrics.gauge("suggestions_open")).toBe(rerun.suggestions.length);
  });

  test("answers an unknown id with 404 and a malformed one with 400, naming the field", async () => {
    const missing = await request("POST", "/api/v1/suggestions/0123456789abcdef/accept");
    expect(missing.status).toBe(404);
    expect((await missing.json()).field).toBe("params.id");
    const bad = await request("POST", "/api/v1/suggestions/not-an-id/dismiss");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: "params.id" });
    const status = await request("GET", "/api/v1/suggestions?status=maybe");
    expect(status.status).toBe(400);
    expect(await status.json()).toMatchObject({ field: "query.status" });
  });
});

describe("/api/v1/suggestions without the actor", () => {
  test("answers 503 naming the actor when it is not running", async () => {
    const down = new Elysia().use(errors).use(
      suggestionsPlugin({
        supervisor: {
          status: () => [],
          notice: () => undefined,
          call: () => Promise.reject(new Error("not running")),
        },
      }),
    );
    const res = await down.handle(new Request("http://localhost/api/v1/suggestions"));
    expect(res.status).toBe(503);
    expect((await res.json()).error).toContain("suggestions actor");
  });
});

describe("/api/v1/suggestions in the HomeIQ app", () => {
  test("needs the bearer token like every /api/v1 route, and is listed in the OpenAPI document", async () => {
    const api = testApi();
    try {
      expect((await api.get("/api/v1/suggestions", { auth: false })).status).toBe(401);
      expect((await api.get("/api/v1/suggestions")).status).toBe(503); // the fake supervisor runs no actors
      const doc = await (await api.get("/openapi/json")).json();
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          "/api/v1/suggestions",
          "/api/v1/suggestions/{id}/accept",
          "/api/v1/suggestions/{id}/dismiss",
        ]),
      );
    } finally {
      api.close();
    }
  });
});
