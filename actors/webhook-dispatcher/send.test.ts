/**
 * The send path against real local servers: target policy at send time (no connection to a refused
 * target, the same answer whatever listens there, names pinned to their checked address) and the bound on
 * how much of an answer is read.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config/load.ts";
import { systemClock, waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { Registry } from "../../runtime/kernel/metrics.ts";
import { startReceiver } from "../../test/support/webhook-receiver.ts";
import { Dispatcher, type FetchLike, type WebhookConfig } from "./dispatcher.ts";
import type { Rule } from "./rules.ts";
import { WebhookStore } from "./store.ts";
import { type Lookup, TargetPolicy } from "./targets.ts";

const secret = "send-test-secret-0123";
const dirs: string[] = [];
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function open(opts: {
  hosts: string[];
  config?: Partial<WebhookConfig>;
  fetch?: FetchLike;
  lookup?: Lookup;
}) {
  const dir = mkdtempSync(join(tmpdir(), "homeiq-webhooks-send-"));
  dirs.push(dir);
  const store = new WebhookStore(dir);
  const metrics = new Registry({ actor: "webhook-dispatcher" });
  const dispatcher = new Dispatcher({
    store,
    config: { ...loadConfig({ env: {} }).webhooks, retryMinMs: 20, retryMaxMs: 40, ...opts.config },
    clock: systemClock,
    random: () => 0.5,
    fetch: opts.fetch ?? ((url, init) => fetch(url, init)),
    targets: new TargetPolicy(opts.hosts),
    ...(opts.lookup ? { lookup: opts.lookup } : {}),
    metrics,
    log: createLogger({ actor: "test", level: "silent" }),
  });
  dispatcher.start();
  cleanups.push(async () => {
    await dispatcher.stop(2000);
    store.close();
  });
  const add = (id: string, url: string) => {
    const rule: Rule = {
      id,
      name: id,
      url,
      secret,
      enabled: true,
      when: { kind: "state", entity: "light.a" },
      createdAt: 1,
      updatedAt: 1,
    };
    store.putRule(rule);
    dispatcher.reloadRules();
  };
  return { dispatcher, store, metrics, add };
}

describe("sending to a webhook target", () => {
  test("a refused target gets the policy's error without a connection, the same for an open and a closed port", async () => {
    const rx = startReceiver({ secret });
    cleanups.push(() => rx.stop());
    const port = new URL(rx.url).port;
    let fetches = 0;
    let lookups = 0;
    const { dispatcher, add, metrics } = open({
      hosts: ["ha.local"],
      fetch: (url, init) => {
        fetches++;
        return fetch(url, init);
      },
      lookup: async () => {
        lookups++;
        return [{ address: "169.254.169.254", family: 4 }];
      },
    });
    add("open", `http://127.0.0.1:${port}/hook`); // a real listener
    add("closed", "http://127.0.0.1:1/hook"); // nothing listens
    add("hex", `http://0x7f000001:${port}/hook`);
    add("rebound", "http://ha.local:8123/hook"); // allowed name, resolves to cloud metadata
    const results = await Promise.all(["open", "closed", "hex"].map((id) => dispatcher.testFire(id)));
    const errors = results.map((r) => r?.error);
    expect(results.map((r) => [r?.ok, r?.status])).toEqual([
      [false, null],
      [false, null],
      [false, null],
    ]);
    expect(new Set(errors).size).toBe(1);
    expect(errors[0]).toContain('host "127.0.0.1" is not an allowed webhook target');
    const rebound = await dispatcher.testFire("rebound");
    expect(rebound?.error).toContain(
      "resolves to 169.254.169.254 (link-local), which webhooks may not reach",
    );
    expect([fetches, lookups, rx.attempts.length]).toEqual([0, 1, 0]);
    expect(metrics.counter("webhooks_targets_refused_total", "").value).toBe(4);
  });

  test("a name is connected to at the address it was checked at, with its own Host header, and delivered", async () => {
    const rx = startReceiver({ secret });
    cleanups.push(() => rx.stop());
    const port = new URL(rx.url).port;
    const seen: { url: string; host: string | undefined }[] = [];
    const { dispatcher, add, store } = open({
      hosts: ["ha.local", "127.0.0.1"],
      fetch: (url, init) => {
        seen.push({ url, host: (init.headers as Record<string, string>).host });
        return fetch(url, init);
      },
      lookup: async () => [{ address: "127.0.0.1", family: 4 }],
    });
    add("r", `http://ha.local:${port}/hook?x=1`);
    dispatcher.onStored([
      {
        entity_id: "light.a",
        state: "on",
        attributes: "{}",
        last_changed: Date.now() * 1000,
        last_updated: Date.now() * 1000,
        context_id: null,
        context_parent_id: null,
        context_user_id: null,
      },
    ]);
    await waitFor(() => rx.delivered().length === 1, { timeoutMs: 5000, what: "the delivery" });
    expect(seen).toEqual([{ url: `http://127.0.0.1:${port}/hook?x=1`, host: `ha.local:${port}` }]);
    expect(rx.attempts[0].verified).toBe(true);
    await waitFor(() => store.pending().length === 0, { timeoutMs: 2000, what: "delivered in the log" });
  });

  test("an endless answer is read only up to webhooks.responseMaxBytes: memory stays flat and the delivery is recorded", async () => {
    const chunk = new Uint8Array(64 * 1024).fill(120);
    let sent = 0;
    let cancelled = false;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        new Response(
          new ReadableStream({
            pull(controller) {
              sent += chunk.byteLength;
              controller.enqueue(chunk);
            },
            cancel() {
              cancelled = true;
            },
          }),
          { status: 200 },
        ),
    });
    cleanups.push(() => server.stop(true));
    const { dispatcher, add, metrics, store } = open({
      hosts: ["127.0.0.1"],
      config: { responseMaxBytes: 64 * 1024, timeoutMs: 5000 },
    });
    add("big", `http://127.0.0.1:${server.port}/hook`);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const result = await dispatcher.testFire("big");
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ ok: true, status: 200, error: null });
    expect(elapsed).toBeLessThan(4000); // well inside webhooks.timeoutMs: not read to the end
    expect(metrics.counter("webhooks_responses_truncated_total", "").value).toBe(1);
    expect(metrics.gauge("webhooks_response_max_bytes", "").value).toBe(64 * 1024);
    expect(store.deliveriesOf("big", 10, 0).map((d) => d.status)).toEqual(["delivered"]);
    await waitFor(() => cancelled, { timeoutMs: 3000, what: "the answer's stream cancelled" });
    const sentAtCancel = sent;
    expect(sentAtCancel).toBeLessThan(32 * 1024 * 1024); // socket buffers at most, not the stream
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(128 * 1024 * 1024);
  });
});
