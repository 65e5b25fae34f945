import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FakeSupervisor,
  MemoryMetadata,
  MemoryStore,
  TEST_TOKEN,
  testConfig,
} from "../../../test/support/api.ts";
import { createLogger } from "../../kernel/log.ts";
import { MetricsHub, Registry } from "../../kernel/metrics.ts";
import { LiveFeed } from "../live.ts";
import { type RunningApi, startApi } from "../server.ts";
import { ingressBasePath, ingressIndexHtml, isIngressPeer } from "./ingress.ts";

/** The address the tests' "Supervisor" connects from; every other test request comes from 127.0.0.1. */
const SUPERVISOR = "127.0.0.2";
const INDEX =
  '<!doctype html><html><head><meta charset="utf-8" /></head><body><hiq-app></hiq-app></body></html>';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request from a chosen local address (node:http can bind the outgoing socket; fetch cannot). */
function get(url: string, from: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress: from, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

let api: RunningApi;
let registry: Registry;
let staticDir = "";

beforeAll(() => {
  staticDir = mkdtempSync(join(tmpdir(), "homeiq-ingress-web-"));
  writeFileSync(join(staticDir, "index.html"), INDEX);
  registry = new Registry({ actor: "hub" });
  api = startApi({
    config: testConfig({
      HOMEIQ_HOST: "127.0.0.1",
      HOMEIQ_PORT: "0",
      HOMEIQ_API_INGRESS_FROM: SUPERVISOR,
      HOMEIQ_API_INGRESS_PORT: "0",
    }),
    supervisor: new FakeSupervisor(),
    metrics: new MetricsHub(),
    store: new MemoryStore(),
    metadata: new MemoryMetadata(3),
    live: new LiveFeed({ queueMax: 100, registry }),
    log: createLogger({ actor: "api", level: "silent" }),
    token: TEST_TOKEN,
    registry,
    staticDir,
  });
});
afterAll(async () => {
  await api.stop();
  rmSync(staticDir, { recursive: true, force: true });
});

describe("the ingress listener", () => {
  test("opens on its own port only when api.ingressFrom is set", () => {
    expect(api.ingress?.port).toBeGreaterThan(0);
    expect(api.ingress?.port).not.toBe(api.port);
    const noIngress = startApi({
      config: testConfig({ HOMEIQ_HOST: "127.0.0.1", HOMEIQ_PORT: "0" }),
      supervisor: new FakeSupervisor(),
      metrics: new MetricsHub(),
      store: new MemoryStore(),
      metadata: new MemoryMetadata(1),
      live: new LiveFeed({ queueMax: 10, registry: new Registry({ actor: "hub" }) }),
      log: createLogger({ actor: "api", level: "silent" }),
      token: TEST_TOKEN,
    });
    expect(noIngress.ingress).toBeUndefined();
    void noIngress.stop();
  });

  test("serves the Supervisor's address without the token, and counts it", async () => {
    const r = await get(`${api.ingress?.url}/api/v1/devices?limit=2`, SUPERVISOR, {
      "x-ingress-path": "/api/hassio_ingress/abc123",
    });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { items: unknown[] }).items).toHaveLength(2);
    const counted = registry.snapshot().counters.find((c) => c.name === "api_ingress_requests_total");
    expect(counted?.value).toBeGreaterThan(0);
  });

  test("refuses every other peer on the ingress port, token or not", async () => {
    const anonymous = await get(`${api.ingress?.url}/api/v1/devices`, "127.0.0.1", {
      "x-ingress-path": "/api/hassio_ingress/abc123",
    });
    expect(anonymous.status).toBe(403);
    expect(anonymous.body).toContain(SUPERVISOR);
    const withToken = await get(`${api.ingress?.url}/api/v1/devices`, "127.0.0.1", {
      authorization: `Bearer ${TEST_TOKEN}`,
    });
    expect(withToken.status).toBe(403);
    const refused = registry
      .snapshot()
      .counters.find((c) => c.name === "api_refused_total" && c.labels.reason === "ingress_peer");
    expect(refused?.value).toBe(2);
  });

  test("the main port still wants the token from everyone, the Supervisor's address and X-Ingress-Path included", async () => {
    for (const from of ["127.0.0.1", SUPERVISOR]) {
      const r = await get(`${api.url}/api/v1/devices`, from, {
        "x-ingress-path": "/api/hassio_ingress/abc123",
        "x-forwarded-for": SUPERVISOR,
      });
      expect([from, r.status]).toEqual([from, 401]);
    }
    const withToken = await get(`${api.url}/api/v1/devices`, "127.0.0.1", {
      authorization: `Bearer ${TEST_TOKEN}`,
    });
    expect(withToken.status).toBe(200);
  });

  test("index.html through ingress carries the ingress base and the ingress marker; elsewhere it is untouched", async () => {
    const viaIngress = await get(`${api.ingress?.url}/`, SUPERVISOR, {
      "x-ingress-path": "/api/hassio_ingress/abc123",
    });
    expect(viaIngress.status).toBe(200);
    expect(viaIngress.headers["content-type"]).toStartWith("text/html");
    expect(viaIngress.body).toContain('<head><base href="/api/hassio_ingress/abc123/" />');
    expect(viaIngress.body).toContain('<meta name="homeiq-auth" content="ingress" />');
    expect(viaIngress.headers["content-security-policy"]).toContain("base-uri 'self'");
    const direct = await get(`${api.url}/`, SUPERVISOR, { "x-ingress-path": "/api/hassio_ingress/abc123" });
    expect(direct.body).toBe(INDEX);
  });

  test("a malformed X-Ingress-Path gives no base element (the page stays relative), never an escaped one", async () => {
    const r = await get(`${api.ingress?.url}/`, SUPERVISOR, {
      "x-ingress-path": '/x"><script>alert(1)</script>',
    });
    expect(r.status).toBe(200);
    expect(r.body).not.toContain("<base");
    expect(r.body).not.toContain("<script>");
    expect(r.body).toContain('content="ingress"');
  });
});

describe("ingress helpers", () => {
  test("isIngressPeer compares the socket address, IPv4-mapped IPv6 included", () => {
    expect(isIngressPeer("172.30.32.2", "172.30.32.2")).toBe(true);
    expect(isIngressPeer("::ffff:172.30.32.2", "172.30.32.2")).toBe(true);
    expect(isIngressPeer("172.30.32.20", "172.30.32.2")).toBe(false);
    expect(isIngressPeer("172.30.32.1", "172.30.32.2")).toBe(false);
    expect(isIngressPeer(undefined, "172.30.32.2")).toBe(false);
    expect(isIngressPeer("", "172.30.32.2")).toBe(false);
  });

  test("ingressBasePath takes plain absolute paths and refuses anything else", () => {
    expect(ingressBasePath("/api/hassio_ingress/Ab-9_x~y")).toBe("/api/hassio_ingress/Ab-9_x~y");
    for (const bad of [
      null,
      "",
      "/",
      "api/hassio_ingress/x",
      "/api/hassio_ingress/x/",
      "/api/../x",
      "/api/./x",
      "//evil.example/x",
      "/a b",
      '/a"b',
      "/a%2fb",
      "/a\\b",
      `/${"a".repeat(600)}`,
    ])
      expect([bad, ingressBasePath(bad)]).toEqual([bad, null]);
  });

  test("ingressIndexHtml puts the elements first in <head>", () => {
    expect(
      ingressIndexHtml("<html><head lang=x><title>t</title></head></html>", { peer: "p", basePath: "/a/b" }),
    ).toBe(
      '<html><head lang=x><base href="/a/b/" /><meta name="homeiq-auth" content="ingress" /><title>t</title></head></html>',
    );
  });
});
