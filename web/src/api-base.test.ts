import { afterEach, describe, expect, test } from "bun:test";
import { api, apiBase, bearerFor } from "./api.ts";
import { INGRESS_TOKEN } from "./stores/token.ts";

const g = globalThis as unknown as { document?: unknown };

afterEach(() => {
  delete g.document;
});

describe("apiBase", () => {
  test("is the page's directory, so every call stays under HA ingress's path prefix", () => {
    g.document = { baseURI: "http://ha.local:8123/api/hassio_ingress/Ab-9_x/" };
    expect(apiBase()).toBe("http://ha.local:8123/api/hassio_ingress/Ab-9_x");
    expect(api.streamUrl()).toBe("http://ha.local:8123/api/hassio_ingress/Ab-9_x/api/v1/stream");
  });

  test("is the origin for a page served at the root, whatever hash route it shows", () => {
    g.document = { baseURI: "http://127.0.0.1:8787/#/entity/sensor.x" };
    expect(apiBase()).toBe("http://127.0.0.1:8787");
    expect(api.streamUrl()).toBe("http://127.0.0.1:8787/api/v1/stream");
  });

  test("sends no bearer token under ingress, the entered one elsewhere", () => {
    expect(bearerFor(INGRESS_TOKEN)).toBeNull();
    expect(bearerFor("a-real-token-0123456789")).toBe("a-real-token-0123456789");
  });
});
