/**
 * Writes the configuration table into docs/configuration.md between the config-table markers, from the schema, so
 * the documentation cannot drift from the code: `bun run runtime/config/reference.ts`.
 * A test checks that the page is current.
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

export function withConfigTable(page: string): string {
  const start = "<!-- config-table:start -->";
  const end = "<!-- config-table:end -->";
  const a = page.indexOf(start);
  const b = page.indexOf(end);
  if (a < 0 || b < a) throw new Error("docs/configuration.md has no config-table markers");
  return `${page.slice(0, a + start.length)}\n${configTable()}\n${page.slice(b)}`;
}

if (import.meta.main) {
  const path = new URL("../../docs/configuration.md", import.meta.url).pathname;
  writeFileSync(path, withConfigTable(readFileSync(path, "utf8")));
  console.log("docs/configuration.md: configuration table updated");
}
