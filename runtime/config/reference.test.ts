import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { withConfigTable } from "./reference.ts";

describe("configuration reference", () => {
  test("docs/configuration.md's table lists every configuration key as the schema has it", () => {
    const page = readFileSync(new URL("../../docs/configuration.md", import.meta.url).pathname, "utf8");
    // If this fails: run `bun run runtime/config/reference.ts` and commit docs/configuration.md.
    expect(page).toBe(withConfigTable(page));
    expect(page).toContain("| `HOMEIQ_INFLUX_BUCKET` | `influx.bucket` |");
  });
});
