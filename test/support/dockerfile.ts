/**
 * Builds a Dockerfile's stages in temporary directories, without Docker (none runs where the tests run):
 * the build context is the repository's files as a clone has them, filtered by .dockerignore with Docker's
 * rules; COPY copies as Docker does; RUN lines run verbatim under `sh -c` in the stage's WORKDIR. A stage's
 * "/" is a directory of its own, so RUN lines that name absolute paths can't be run this way: `buildStage`
 * refuses them unless the caller lists them (they then only get checked, not run).
 *
 * It implements what HomeIQ's Dockerfile uses and throws on anything else, so a new instruction or flag
 * fails the test until this file learns it.
 */
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, posix } from "node:path";

export interface Instruction {
  op: string;
  /** Everything after the instruction word, continuation lines joined. */
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages; comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    while (line.endsWith("\\") && i + 1 < lines.length) {
      i++;
      const next = lines[i].trim();
      line = `${line.slice(0, -1).trimEnd()} ${next.startsWith("#") ? "" : next}`.trimEnd();
    }
    const m = /^(\w+)\s+(.*)$/s.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot read "${line}"`);
    const op = m[1].toUpperCase();
    const args = m[2].trim();
    if (op === "FROM") {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile line ${start + 1}: FROM "${args}"`);
      stages.push({ name: from[2] ?? String(stages.length), from: from[1], instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`Dockerfile line ${start + 1}: ${op} before any FROM`);
    stage.instructions.push({ op, args, line: start + 1 });
  }
  return stages;
}

/**
 * Docker's .dockerignore rules: patterns match the path from the context root (no implicit `**` as in
 * .gitignore), a pattern that matches a parent directory matches everything under it, `!` re-includes,
 * and the last matching pattern decides. Returns whether `path` enters the context.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pattern = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, "")).replace(/\/+$/, "");
      if (/[[\]{}\\]/.test(pattern)) throw new Error(`.dockerignore: "${l}" uses syntax this reader lacks`);
      return { negate, re: new RegExp(`^${globToRegex(pattern)}$`) };
    });
  return (path) => {
    const parts = path.split("/");
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let included = true;
    for (const rule of rules) if (prefixes.some((p) => rule.re.test(p))) included = rule.negate;
    return included;
  };
}

/** Go's filepath.Match plus Docker's `**` (any number of directories, even none). */
function globToRegex(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      i++;
      if (pattern[i + 1] === "/") i++;
      out += i + 1 >= pattern.length ? ".*" : "(.*/)?";
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else out += c.replace(/[.+^$()|]/g, "\\$&");
  }
  return out;
}

/** A build context: context-relative path → file on disk. */
export type Context = Map<string, string>;

/**
 * The files a clone of the repository holds (tracked plus new, not ignored by git), as .dockerignore lets
 * them through.
 */
export function buildContext(root: string, files: string[], ignore: string): Context {
  const keep = dockerignore(ignore);
  const context: Context = new Map();
  for (const f of files) if (keep(f) && existsSync(join(root, f))) context.set(f, join(root, f));
  return context;
}

export interface BuildOptions {
  context: Context;
  /** Directory holding each stage's "/" (created per stage name). */
  rootDir: string;
  /** The environment RUN lines get (the Dockerfile's ENV is added). */
  env: Record<string, string>;
  /** RUN lines allowed to name absolute paths: checked to be exactly these, and not run. */
  unrunnable?: string[];
}

export interface BuiltStage {
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string;
  cmd: string[];
  ran: string[];
  skipped: string[];
}

/**
 * Builds `stage` into `<rootDir>/<stage name>`. A stage FROM an earlier stage continues in that stage's
 * directory (build them in order). Returns where it landed and the runtime settings it declares.
 */
export async function buildStage(
  stage: Stage,
  built: Map<string, BuiltStage>,
  opts: BuildOptions,
): Promise<BuiltStage> {
  const parent = built.get(stage.from);
  const root = parent?.root ?? join(opts.rootDir, stage.name);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  const out: BuiltStage = parent
    ? { ...parent, env: { ...parent.env }, ran: [], skipped: [] }
    : { root, workdir: "/", env: {}, user: "root", cmd: [], ran: [], skipped: [] };
  const inRoot = (p: string) => join(root, posix.resolve(out.workdir, p));
  for (const ins of stage.instructions) {
    const where = `Dockerfile line ${ins.line} (${stage.name})`;
    switch (ins.op) {
      case "WORKDIR":
        out.workdir = posix.resolve(out.workdir, ins.args);
        mkdirSync(inRoot("."), { recursive: true });
        break;
      case "ENV":
        for (const [, k, v] of ins.args.matchAll(/(\w+)=(\S+)/g)) out.env[k] = v;
        break;
      case "USER":
        out.user = ins.args;
        break;
      case "CMD":
        out.cmd = JSON.parse(ins.args) as string[];
        break;
      case "COPY":
        copy(ins.args, where, opts.context, built, inRoot);
        break;
      case "RUN":
        if (/(^|\s)\//.test(ins.args)) {
          if (!opts.unrunnable?.includes(ins.args))
            throw new Error(`${where}: RUN names an absolute path: ${ins.args}`);
          out.skipped.push(ins.args);
          break;
        }
        await run(ins.args, inRoot("."), { ...opts.env, ...out.env }, where);
        out.ran.push(ins.args);
        break;
      case "EXPOSE":
      case "VOLUME":
      case "HEALTHCHECK":
      case "STOPSIGNAL":
        break;
      default:
        throw new Error(`${where}: ${ins.op} is not handled by test/support/dockerfile.ts`);
    }
  }
  built.set(stage.name, out);
  return out;
}

function copy(
  args: string,
  where: string,
  context: Context,
  built: Map<string, BuiltStage>,
  inRoot: (p: string) => string,
): void {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith("--"));
  const paths = words.filter((w) => !w.startsWith("--"));
  let from: BuiltStage | undefined;
  for (const flag of flags) {
    const m = /^--from=(\S+)$/.exec(flag);
    if (!m) throw new Error(`${where}: COPY flag ${flag} is not handled`);
    from = built.get(m[1]);
    if (!from) throw new Error(`${where}: COPY --from=${m[1]}: no such earlier stage`);
  }
  const dest = paths.pop() ?? "";
  if (paths.length === 0) throw new Error(`${where}: COPY without a source`);
  if (paths.length > 1 && !dest.endsWith("/"))
    throw new Error(`${where}: COPY of several sources needs a dest/`);
  for (const src of paths) {
    if (from) {
      const abs = join(from.root, posix.resolve(from.workdir, src));
      if (!existsSync(abs)) throw new Error(`${where}: COPY --from: ${src} does not exist in that stage`);
      const target =
        lstatSync(abs).isDirectory() || !dest.endsWith("/")
          ? inRoot(dest)
          : join(inRoot(dest), posix.basename(src));
      cpSync(abs, target, { recursive: true, verbatimSymlinks: true });
      continue;
    }
    const prefix = posix.normalize(src) === "." ? "" : `${posix.normalize(src)}/`;
    const file = context.get(posix.normalize(src));
    if (file) {
      const target = dest.endsWith("/") ? join(inRoot(dest), posix.basename(src)) : inRoot(dest);
      copyKeepingMode(file, target);
      continue;
    }
    const under = [...context].filter(([p]) => p.startsWith(prefix));
    if (under.length === 0) throw new Error(`${where}: COPY ${src}: nothing in the build context`);
    for (const [p, f] of under) copyKeepingMode(f, join(inRoot(dest), p.slice(prefix.length)));
  }
}

function copyKeepingMode(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, statSync(from).mode & 0o777);
}

async function run(cmd: string, cwd: string, env: Record<string, string>, where: string): Promise<void> {
  const proc = Bun.spawn(["sh", "-c", cmd], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  if (code !== 0)
    throw new Error(`${where}: RUN ${cmd} exited ${code}\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`);
}
