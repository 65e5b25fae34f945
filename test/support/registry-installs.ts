/**
 * Finds the Dockerfile lines that would install software chosen by a name at build time, rather than
 * pinned by package-lock.json: `bun add`, `npm install <name>`, `npx`/`bunx` (which fetch what is missing),
 * a `bun install` without `--frozen-lockfile`, downloads with curl/wget/git, and `ADD <url>`. Whoever
 * controls such a name controls the image.
 */
import { parseDockerfile } from "./dockerfile.ts";

const FETCHES: [RegExp, string][] = [
  [/\bbun\s+(add|a|x)\b/, "bun add/x"],
  [/\bbunx\b/, "bunx fetches what is not installed"],
  [/\bnpx\b/, "npx fetches what is not installed"],
  [/\bnpm\s+(install|i|add|exec)\b/, "npm install/exec (use npm ci)"],
  [/\b(yarn|pnpm)\s+(add|dlx)\b/, "yarn/pnpm add"],
  [/\bpip3?\s+install\b/, "pip install"],
  [/\b(curl|wget)\b/, "download"],
  [/\bgit\s+clone\b/, "git clone"],
];

/** Offending lines as `line N: why: text`; empty when every install comes from the lockfile. */
export function registryInstalls(dockerfile: string): string[] {
  // A lone line (as the tests give it) is read as one stage's.
  const text = /^\s*FROM\b/im.test(dockerfile) ? dockerfile : `FROM scratch\n${dockerfile}`;
  const found: string[] = [];
  for (const stage of parseDockerfile(text)) {
    for (const ins of stage.instructions) {
      if (ins.op === "ADD" && /\b(https?|git):\/\//.test(ins.args))
        found.push(`line ${ins.line}: ADD of a URL: ${ins.args}`);
      if (ins.op !== "RUN") continue;
      for (const [re, why] of FETCHES)
        if (re.test(ins.args)) found.push(`line ${ins.line}: ${why}: ${ins.args}`);
      for (const m of ins.args.matchAll(/\bbun\s+(?:install|i)\b([^&|;]*)/g)) {
        const words = m[1].trim().split(/\s+/).filter(Boolean);
        if (!words.includes("--frozen-lockfile"))
          found.push(`line ${ins.line}: bun install without --frozen-lockfile: ${ins.args}`);
        if (words.some((w) => !w.startsWith("-")))
          found.push(`line ${ins.line}: bun install of a named package: ${ins.args}`);
      }
    }
  }
  return found;
}
