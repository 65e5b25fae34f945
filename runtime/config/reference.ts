/**
 * Writes the configuration table into README.md between the config-table markers, from the schema, so
 * the documentation cannot drift from the code: `bun run runtime/config/reference.ts`.
 * A test checks that the README is current.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { configReference } from "./load.ts";

export function configTable(): string {
  const rows = configReference().map((r) => {
    const def = r.default === undefined ? "—" : `\`${JSON.stringify(r.default)}\``;
    return `| \`${r.env}\` | \`${r.key}\` | ${def} | ${r.description.replace(/\|/g, "\\|")} |`;
  });
  return ["| variable | JSON key | default | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

export function withConfigTable(readme: string): string {
  const start = "<!-- config-table:start -->";
  const end = "<!-- config-table:end -->";
  const a = readme.indexOf(start);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) throw new Error("README.md has no config-table markers");
  return `${readme.slice(0, a + start.length)}\n${configTable()}\n${readme.slice(b)}`;
}

if (import.meta.main) {
  const path = new URL("../../README.md", import.meta.url).pathname;
  writeFileSync(path, withConfigTable(readFileSync(path, "utf8")));
  console.log("README.md configuration table updated");
}
