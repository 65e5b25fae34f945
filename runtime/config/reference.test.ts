import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { withConfigTable } from "./reference.ts";

describe("configuration reference", () => {
  test("the README's table lists every configuration key as the schema has it", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url).pathname, "utf8");
    // If this fails: run `bun run runtime/config/reference.ts` and commit README.md.
    expect(readme).toBe(withConfigTable(readme));
    expect(readme).toContain("| `HOMEIQ_INFLUX_BUCKET` | `influx.bucket` |");
  });
});
