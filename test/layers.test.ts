/**
 * The layers show in the folders and the imports keep to them (table: test/support/layers.ts; why:
 * docs/architecture.md). `bun run test/support/import-graph.ts` prints the same figures and each offender.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  checkLayers,
  findCycles,
  type ImportEdge,
  layerOf,
  readImportGraph,
} from "./support/import-graph.ts";
import type { LayerTable } from "./support/layers.ts";

const ROOT = join(import.meta.dir, "..");

/**
 * Cycles known and owned elsewhere, each with why it is still here. A cycle not listed fails the test;
 * so does a listed one that is gone (take it off the list).
 */
const KNOWN_CYCLES: { files: string[]; why: string }[] = [];

describe("the source's layers", () => {
  const report = checkLayers(readImportGraph(ROOT));

  test("every source file belongs to a layer", () => {
    expect(report.files).toBeGreaterThan(200);
    expect(report.unplaced).toEqual([]);
  });

  test("the kernel imports nothing outside runtime/kernel", () => {
    expect(report.kernelEscapes.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  test("no file imports a higher layer", () => {
    expect(report.upward.map((e) => `${e.fromLayer} -> ${e.toLayer}: ${e.from} -> ${e.to}`)).toEqual([]);
  });

  test("no import cycles beyond the known ones", () => {
    expect(report.cycles).toEqual(KNOWN_CYCLES.map((c) => [...c.files].sort()));
  });
});

describe("the layer check", () => {
  const table: LayerTable = [
    { name: "kernel", paths: ["k"] },
    { name: "store", paths: ["s"] },
    { name: "app", paths: ["a", "s/wiring.ts"] },
  ];
  const edge = (from: string, to: string, typeOnly = false): ImportEdge => ({ from, to, typeOnly });

  test("places a file by its longest matching prefix, and a file outside every prefix nowhere", () => {
    expect(layerOf(table, "s/db.ts").name).toBe("store");
    expect(layerOf(table, "s/wiring.ts").name).toBe("app");
    expect(layerOf(table, "sx/db.ts").rank).toBe(-1);
  });

  test("finds upward imports (type-only ones too), kernel escapes and cycles", () => {
    const report = checkLayers(
      [
        edge("a/main.ts", "s/db.ts"),
        edge("s/db.ts", "k/log.ts"),
        edge("s/db.ts", "a/config.ts", true),
        edge("k/log.ts", "s/db.ts"),
        edge("a/main.ts", "a/tree.ts"),
        edge("a/tree.ts", "a/main.ts"),
      ],
      table,
    );
    expect(report.upward.map((e) => [e.from, e.to, e.typeOnly])).toEqual([
      ["s/db.ts", "a/config.ts", true],
      ["k/log.ts", "s/db.ts", false],
    ]);
    expect(report.kernelEscapes.map((e) => e.to)).toEqual(["s/db.ts"]);
    expect(report.cycles).toEqual([
      ["k/log.ts", "s/db.ts"],
      ["a/main.ts", "a/tree.ts"],
    ]);
  });

  test("a file importing itself is a cycle; a chain is not", () => {
    expect(findCycles([edge("x.ts", "x.ts")])).toEqual([["x.ts"]]);
    expect(findCycles([edge("x.ts", "y.ts"), edge("y.ts", "z.ts")])).toEqual([]);
  });

  test("reads static, type-only, re-export and dynamic imports, and skips ones inside comments", () => {
    const edges = readImportGraph(join(ROOT, "test/support/import-graph-sample"), ["src"]);
    expect(edges.map((e) => [e.from, e.to, e.typeOnly])).toEqual([
      ["src/a.ts", "src/b.ts", false],
      ["src/a.ts", "src/c.ts", true],
      ["src/a.ts", "src/d.ts", false],
      ["src/a.ts", "src/e.ts", false],
    ]);
  });
});
