/**
 * The API bearer token: `HOMEIQ_API_TOKEN` (config `apiToken`) when set, else the one saved in
 * `${dataDir}/api-token`, else a fresh random token written there with mode 0600. `generated` tells the
 * caller to print it once; it is never logged.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const TOKEN_FILE = "api-token";
const MIN_LENGTH = 16;

export interface ApiToken {
  token: string;
  source: "config" | "file" | "generated";
  /** True when the token was created just now (print it once). */
  generated: boolean;
  path?: string;
}

export class TokenFileError extends Error {
  constructor(path: string, problem: string) {
    super(
      `API token file ${path} ${problem}. Fix: delete the file to have a new token generated, or set HOMEIQ_API_TOKEN (at least ${MIN_LENGTH} characters).`,
    );
    this.name = "TokenFileError";
  }
}

/** Resolves the API token for a data dir; creates it on first start. */
export function resolveApiToken(opts: { apiToken?: string; dataDir: string }): ApiToken {
  if (opts.apiToken) return { token: opts.apiToken, source: "config", generated: false };
  const path = join(opts.dataDir, TOKEN_FILE);
  if (existsSync(path)) {
    const token = readFileSync(path, "utf8").trim();
    if (token.length < MIN_LENGTH)
      throw new TokenFileError(path, `holds fewer than ${MIN_LENGTH} characters`);
    // A token file that others can read is tightened rather than trusted as-is.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return { token, source: "file", generated: false, path };
  }
  const token = randomBytes(32).toString("base64url");
  // "wx": never overwrite a token another process wrote between the check and now.
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: "wx" });
  return { token, source: "generated", generated: true, path };
}
