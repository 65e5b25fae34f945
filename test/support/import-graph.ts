/**
 * The import graph of the source (not tests, benchmarks or test support) and the layer rules it must keep:
 * the kernel imports nothing outside itself, no file imports a higher layer, and no import cycles.
 * Type-only imports count: they are dependencies of the design even where the runtime erases them.
 *
 * Run `bun run test/support/import-graph.ts [--root DIR] [--table FILE.json]` to print the counts and
 * each violation; test/layers.test.ts asserts there are none.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { LAYERS, type LayerTable, SOURCE_DIRS } from "./layers.ts";

export interface ImportEdge {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Static imports, re-exports, side-effect imports and dynamic `import("…")` with a literal specifier. */
const IMPORT =
  /(?:^|[;\s])(?:import|export)\s+(type\s+)?(?:[\w*{}\s,$]*?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

const isTest = (path: string): boolean => /\.(test|bench)\.ts$/.test(path) || path.endsWith(".d.ts");

function listSources(root: string, dir: string, out: string[]): void {
  const abs = join(root, dir);
  if (!existsSync(abs)) return;
  for (const name of readdirSync(abs)) {
    if (name === "node_modules" || name === "dist") continue;
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) listSources(root, rel, out);
    else if (name.endsWith(".ts") && !isTest(rel)) out.push(rel);
  }
}

function resolveSpecifier(root: string, from: string, spec: string): string | null {
  if (!spec.startsWith(".")) return null;
  const base = resolve(root, dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(root, candidate);
  }
  return null;
}

/** Comments are blanked first so that an import shown in a JSDoc example does not count. */
const stripComments = (code: string): string =>
  code.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " ")).replace(/(^|[^:"'`])\/\/.*$/gm, "$1");

export function readImportGraph(root: string, dirs: readonly string[] = SOURCE_DIRS): ImportEdge[] {
  const files: string[] = [];
  for (const dir of dirs) listSources(root, dir, files);
  const edges: ImportEdge[] = [];
  for (const from of files.sort()) {
    const code = stripComments(readFileSync(join(root, from), "utf8"));
    for (const m of code.matchAll(IMPORT)) {
      const to = resolveSpecifier(root, from, m[2] ?? m[3] ?? "");
      if (to === null || isTest(to)) continue;
      edges.push({ from, to, typeOnly: m[1] !== undefined });
    }
  }
  return edges;
}

/** The layer of a file: the entry with the longest matching path prefix; -1 when none matches. */
export function layerOf(table: LayerTable, path: string): { rank: number; name: string } {
  let best = { rank: -1, name: "(unplaced)", length: -1 };
  table.forEach((layer, rank) => {
    for (const prefix of layer.paths) {
      if (
        (path === prefix || path.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`)) &&
        prefix.length > best.length
      )
        best = { rank, name: layer.name, length: prefix.length };
    }
  });
  return { rank: best.rank, name: best.name };
}

/** Strongly connected components with more than one file (or a file importing itself): Tarjan's algorithm. */
export function findCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, []);
    next.get(e.from)!.push(e.to);
    if (!next.has(e.to)) next.set(e.to, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (next.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

export interface LayerReport {
  files: number;
  imports: number;
  unplaced: string[];
  kernelEscapes: ImportEdge[];
  upward: (ImportEdge & { fromLayer: string; toLayer: string })[];
  cycles: string[][];
}

export function checkLayers(edges: readonly ImportEdge[], table: LayerTable = LAYERS): LayerReport {
  const files = new Set(edges.flatMap((e) => [e.from, e.to]));
  const unplaced = [...files].filter((f) => layerOf(table, f).rank < 0).sort();
  const kernel = table.find((l) => l.name === "kernel");
  const inKernel = (f: string) => kernel !== undefined && layerOf(table, f).name === "kernel";
  const upward: LayerReport["upward"] = [];
  for (const e of edges) {
    const a = layerOf(table, e.from);
    const b = layerOf(table, e.to);
    if (a.rank >= 0 && b.rank > a.rank) upward.push({ ...e, fromLayer: a.name, toLayer: b.name });
  }
  return {
    files: files.size,
    imports: edges.length,
    unplaced,
    kernelEscapes: edges.filter((e) => inKernel(e.from) && !inKernel(e.to)),
    upward,
    cycles: findCycles(edges),
  };
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const root = resolve(arg("--root") ?? join(import.meta.dir, "..", ".."));
  const tablePath = arg("--table");
  const table: LayerTable = tablePath ? JSON.parse(readFileSync(tablePath, "utf8")) : LAYERS;
  const report = checkLayers(readImportGraph(root), table);
  for (const f of report.unplaced) console.log(`unplaced: ${f}`);
  for (const e of report.kernelEscapes) console.log(`kernel escape: ${e.from} -> ${e.to}`);
  for (const e of report.upward)
    console.log(
      `upward (${e.fromLayer} -> ${e.toLayer})${e.typeOnly ? " [type]" : ""}: ${e.from} -> ${e.to}`,
    );
  for (const c of report.cycles) console.log(`cycle: ${c.join(" <-> ")}`);
  const typeOnly = report.upward.filter((e) => e.typeOnly).length;
  console.log(
    `files ${report.files}, imports ${report.imports}, unplaced ${report.unplaced.length}, kernel escapes ${report.kernelEscapes.length}, upward imports ${report.upward.length} (${typeOnly} type-only), cycles ${report.cycles.length} (${report.cycles.reduce((n, c) => n + c.length, 0)} files)`,
  );
}
