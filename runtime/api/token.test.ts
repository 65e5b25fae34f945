import { describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { resolveApiToken, TokenFileError } from "./token.ts";

const tempDir = tempDirs("homeiq-token-");

describe("resolveApiToken", () => {
  test("HOMEIQ_API_TOKEN wins and nothing is written", () => {
    const dir = tempDir();
    expect(resolveApiToken({ apiToken: "configured-token-123456", dataDir: dir })).toEqual({
      token: "configured-token-123456",
      source: "config",
      generated: false,
    });
    expect(() => statSync(join(dir, "api-token"))).toThrow();
  });

  test("first start generates a token into <dataDir>/api-token with mode 0600; later starts reuse it", () => {
    const dir = tempDir();
    const first = resolveApiToken({ dataDir: dir });
    expect(first.generated).toBe(true);
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(join(dir, "api-token")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "api-token"), "utf8").trim()).toBe(first.token);
    const second = resolveApiToken({ dataDir: dir });
    expect(second).toMatchObject({ token: first.token, source: "file", generated: false });
  });

  test("a token file readable by others is tightened to 0600", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "api-token"), "a-token-of-enough-length\n", { mode: 0o644 });
    expect(resolveApiToken({ dataDir: dir }).token).toBe("a-token-of-enough-length");
    expect(statSync(join(dir, "api-token")).mode & 0o777).toBe(0o600);
  });

  test("a too-short token file is an error that says how to fix it", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "api-token"), "short", { mode: 0o600 });
    expect(() => resolveApiToken({ dataDir: dir })).toThrow(TokenFileError);
    expect(() => resolveApiToken({ dataDir: dir })).toThrow(/delete the file/);
  });
});
