/**
 * Hostile input for the import: random and mutated line protocol, cut into random chunks. The parser never
 * throws (a bad line is a typed rejection with its number), the import never hangs, and a stored state
 * change is always a whole line as written.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { ImportCheckResult, StateChange } from "../events/messages.ts";
import { parseLine, parseNdjsonLine, timeProblem } from "./import.ts";
import { type ImportLimits, runImport } from "./import-stream.ts";

const NOW_US = 1_795_000_000_000_000;
const limits: ImportLimits = {
  maxBytes: 1 << 20,
  maxLineBytes: 4096,
  maxNewEntities: 50,
  futureSkewMs: 300_000,
};

/** An import into memory: every batch it was asked to store. */
function memoryTarget() {
  const written: StateChange[] = [];
  return {
    written,
    target: {
      check: async (ids: string[]): Promise<ImportCheckResult> => ({
        unknown: ids,
        keysLeft: 1000,
        minUs: 0,
        maxUs: NOW_US * 2,
      }),
      write: async (events: StateChange[]) => {
        written.push(...events);
        return { stored: events.length, duplicates: 0, rejected: [] };
      },
    },
  };
}

const streamOf = (bytes: Uint8Array, cuts: number[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      let at = 0;
      for (const cut of [...cuts].sort((a, b) => a - b)) {
        const to = Math.min(cut, bytes.length);
        if (to > at) controller.enqueue(bytes.slice(at, to));
        at = Math.max(at, to);
      }
      if (at < bytes.length) controller.enqueue(bytes.slice(at));
      controller.close();
    },
  });

async function importBytes(bytes: Uint8Array, cuts: number[]) {
  const mem = memoryTarget();
  const run = runImport(streamOf(bytes, cuts), {
    limits,
    precision: "us",
    format: "lp",
    nowUs: NOW_US,
    target: mem.target,
    reread: () => streamOf(bytes, cuts),
  });
  // Never hangs: a bounded input must be done well within this.
  const outcome = await Promise.race([
    run,
    Bun.sleep(5000).then(() => {
      throw new Error("import did not finish within 5 s");
    }),
  ]);
  return { outcome, written: mem.written };
}

const validLine = fc
  .record({
    domain: fc.constantFrom("sensor", "light", "input_text"),
    object: fc.stringMatching(/^[a-z0-9_]{1,12}$/),
    value: fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => `value=${v}`),
      fc.string({ maxLength: 20 }).map((s) => `state="${s.replace(/["\\]/g, "\\$&")}"`),
    ),
    attr: fc.option(fc.integer().map((n) => `,n=${n}i`)),
    us: fc.integer({ min: 1_700_000_000_000_000, max: NOW_US }),
  })
  .map((l) => `${l.domain},entity_id=${l.domain}.${l.object} ${l.value}${l.attr ?? ""} ${l.us}`);

/** A valid line with a few characters inserted, deleted or replaced. */
const mutatedLine = fc
  .tuple(
    validLine,
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.constantFrom("insert", "delete", "replace"),
        fc.constantFrom(...' ,="\\\n#é\u0000x9'),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([line, edits]) => {
    let s = line;
    for (const [at, op, ch] of edits) {
      const i = at % (s.length + 1);
      s =
        op === "insert"
          ? s.slice(0, i) + ch + s.slice(i)
          : s.slice(0, i) + (op === "replace" ? ch : "") + s.slice(i + 1);
    }
    return s;
  });

describe("import parsers under hostile input", () => {
  test("parseLine never throws: any text is a whole state change or a reason", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutatedLine, validLine), (line) => {
        const parsed = parseLine(line, "us");
        if (typeof parsed === "string") {
          expect(parsed.length).toBeGreaterThan(0);
          return;
        }
        expect(parsed.entity_id).toMatch(/^[a-z0-9_]+\.[a-z0-9_]+$/);
        expect(Number.isSafeInteger(parsed.last_updated)).toBe(true);
        expect(typeof parsed.state).toBe("string");
        expect(typeof JSON.parse(parsed.attributes)).toBe("object");
      }),
      { numRuns: 3000 },
    );
  });

  test("valid lines parse to exactly their fields", () => {
    fc.assert(
      fc.property(validLine, (line) => {
        const parsed = parseLine(line, "us") as StateChange;
        expect(typeof parsed).toBe("object");
        expect(line).toContain(`entity_id=${parsed.entity_id} `);
        expect(line.endsWith(` ${parsed.last_updated}`)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test("an import of random and mutated lines, in random chunks, is all stored or all refused with typed rejections", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(validLine, mutatedLine, fc.string({ maxLength: 60 })), { maxLength: 40 }),
        // Cut points for the body's chunks.
        fc.array(fc.nat({ max: 4000 }), { maxLength: 8 }),
        async (lines, cuts) => {
          const text = lines.join("\n");
          const bytes = new TextEncoder().encode(text);
          const { outcome, written } = await importBytes(bytes, cuts);
          // What each line means on its own (the import reads the same lines, numbered from 1).
          const own = text.split("\n").map((raw) => {
            const line = raw.trim();
            if (!line || line.startsWith("#")) return null;
            const parsed = parseLine(line, "us");
            if (typeof parsed === "string") return parsed;
            return timeProblem(parsed.last_updated, { nowUs: NOW_US, skewUs: 300_000_000 }) ?? parsed;
          });
          const bad = own.flatMap((p, i) => (typeof p === "string" ? [i + 1] : []));
          if (outcome.ok) {
            expect(bad).toEqual([]);
            // Every stored state change is one whole line, in order.
            expect(written).toEqual(own.filter((p): p is StateChange => p !== null && typeof p !== "string"));
          } else {
            expect(written).toEqual([]);
            expect([400, 422]).toContain(outcome.status);
            for (const r of outcome.rejections) {
              expect(Number.isInteger(r.line) && r.line >= 1 && r.line <= own.length).toBe(true);
              expect(typeof r.reason).toBe("string");
            }
            if (outcome.status === 400)
              expect(outcome.rejections.map((r) => r.line)).toEqual(bad.slice(0, 20));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test("random bytes (broken UTF-8, NULs, no newlines) end in an outcome, never a throw or a hang", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 6000 }),
        fc.array(fc.nat({ max: 6000 }), { maxLength: 6 }),
        async (bytes, cuts) => {
          const { outcome, written } = await importBytes(bytes, cuts);
          if (!outcome.ok) expect(written).toEqual([]);
          if (!outcome.ok && outcome.status === 413)
            expect(outcome.error).toContain("longer than 4096 bytes");
        },
      ),
      { numRuns: 300 },
    );
  });

  test("parseNdjsonLine never throws: any JSON value, mutated export line or deep nesting is a state change or a reason", () => {
    const exportLine = fc
      .record({
        entity_id: fc.stringMatching(/^[a-z]{1,6}\.[a-z0-9_]{1,8}$/),
        state: fc.string({ maxLength: 20 }),
        value: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true })),
        attributes: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })),
        ts: fc.double({ min: 1.6e12, max: 1.8e12, noNaN: true }),
        context_id: fc.option(fc.string({ maxLength: 26 })),
      })
      .map((o) => JSON.stringify(o));
    const mutated = fc
      .tuple(exportLine, fc.nat(), fc.constantFrom('"', "{", "}", ",", ":", "\\", "1", "", "null"))
      .map(([line, at, ch]) => line.slice(0, at % line.length) + ch + line.slice((at % line.length) + 1));
    const deep = fc
      .nat({ max: 20_000 })
      .map(
        (n) =>
          `{"entity_id":"a.b","state":"x","ts":1.7e12,"attributes":{"d":${"[".repeat(n)}${"]".repeat(n)}}}`,
      );
    fc.assert(
      fc.property(fc.oneof(exportLine, mutated, fc.json(), fc.string({ maxLength: 80 }), deep), (line) => {
        const parsed = parseNdjsonLine(line);
        if (typeof parsed === "string") return;
        expect(parsed.entity_id).toMatch(/^[a-z0-9_]+\.[a-z0-9_]+$/);
        expect(Number.isSafeInteger(parsed.last_updated)).toBe(true);
        expect(parsed.last_changed).toBeLessThanOrEqual(parsed.last_updated);
        expect(typeof JSON.parse(parsed.attributes)).toBe("object");
      }),
      { numRuns: 1000 },
    );
  });

  test("a line cut anywhere between chunks, even inside a multi-byte character, reads the same", async () => {
    const text = 'input_text,entity_id=input_text.note state="grüße 🌡️ ok" 1795000000000000\n';
    const bytes = new TextEncoder().encode(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { outcome, written } = await importBytes(bytes, [cut]);
      expect(outcome.ok).toBe(true);
      expect(written.map((e) => e.state)).toEqual(["grüße 🌡️ ok"]);
    }
  });
});
