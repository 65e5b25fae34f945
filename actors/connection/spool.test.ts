import { describe, expect, test } from "bun:test";
import { appendFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import type { StateChange } from "../../runtime/events/messages.ts";
import { packEvents, unpackEvents } from "../../runtime/events/packed.ts";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { Spool } from "./spool.ts";

const change = (n: number): StateChange => ({
  entity_id: "sensor.x",
  state: String(n),
  attributes: "{}",
  last_changed: n,
  last_updated: n,
  context_id: null,
  context_parent_id: null,
  context_user_id: null,
});

const tempDir = tempDirs("homeiq-spool-");

function drainAll(spool: Spool): number[] {
  const out: number[] = [];
  for (let r = spool.peek(); r; r = spool.peek()) {
    out.push(...unpackEvents(r.events).map((e) => e.last_updated));
    spool.shift();
  }
  return out;
}

describe("Spool", () => {
  test("hands batches back in append order across segments, interleaved with appends, and deletes drained segments", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 50 })), { maxLength: 80 }),
        (steps) => {
          const dir = tempDir();
          const spool = new Spool(dir, { maxBytes: 10 * 1024 * 1024, segmentBytes: 64 * 1024 });
          let next = 0;
          const got: number[] = [];
          for (const [append, n] of steps) {
            if (append) {
              const events = Array.from({ length: n }, () => change(next++));
              expect(spool.append({ source: "live", events: packEvents(events) })).toBe(true);
            } else {
              const r = spool.peek();
              if (r) {
                got.push(...unpackEvents(r.events).map((e) => e.last_updated));
                spool.shift();
              }
            }
          }
          got.push(...drainAll(spool));
          expect(got).toEqual(Array.from({ length: next }, (_, i) => i));
          expect(spool.bytes).toBe(0);
          expect(spool.events).toBe(0);
          expect(spool.empty).toBe(true);
          spool.close();
          expect(readdirSync(dir).filter((f) => f.endsWith(".ndjson")).length).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 100 },
    );
  });

  test("refuses a batch that would pass maxBytes and keeps what it has", () => {
    const spool = new Spool(tempDir(), { maxBytes: 64 * 1024, segmentBytes: 64 * 1024 });
    let accepted = 0;
    while (
      spool.append({ source: "live", events: packEvents(Array.from({ length: 10 }, (_, i) => change(i))) })
    )
      accepted++;
    expect(spool.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(spool.events).toBe(accepted * 10);
    expect(drainAll(spool).length).toBe(accepted * 10);
  });

  test("a segment written before batches were packed (records in `e`) drains to the same records", () => {
    const dir = tempDir();
    const old = [change(1), change(2)];
    writeFileSync(join(dir, "seg-000000000001.ndjson"), `${JSON.stringify({ s: "live", n: 2, e: old })}\n`);
    const spool = new Spool(dir, { maxBytes: 1024 * 1024, segmentBytes: 4096 });
    expect(spool.events).toBe(2);
    const r = spool.peek();
    expect(r && unpackEvents(r.events)).toEqual(old);
    spool.close();
  });

  test("survives a restart: leftover segments are counted and drained; a torn last line is skipped and reported", () => {
    const dir = tempDir();
    const first = new Spool(dir, { maxBytes: 1024 * 1024, segmentBytes: 4096 });
    for (let i = 0; i < 20; i++)
      first.append({ source: "backfill", events: packEvents([change(i), change(i + 1000)]) });
    first.close();
    const last = readdirSync(dir).sort().pop()!;
    appendFileSync(join(dir, last), '{"s":"live","n":1,"e":[{"entity_id":"sens');
    const corrupt: string[] = [];
    const second = new Spool(dir, {
      maxBytes: 1024 * 1024,
      segmentBytes: 4096,
      onCorrupt: (d) => corrupt.push(d),
    });
    expect(second.events).toBe(41);
    const got = drainAll(second);
    expect(got.length).toBe(40);
    expect(corrupt.length).toBe(1);
    expect(second.bytes).toBe(0);
  });
});
