import { describe, expect, test } from "bun:test";
import { createHeavyTurnSlot, HeavyTurn, releaseHeldBy, turnHolder } from "./heavy-turn.ts";
import { Registry } from "./metrics.ts";

/** A run that records when it starts and ends, and finishes when the test says so. */
function gatedRun(log: string[], name: string) {
  let finish!: () => void;
  const gate = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let started!: () => void;
  const startedP = new Promise<void>((resolve) => {
    started = resolve;
  });
  const fn = async () => {
    log.push(`${name} start`);
    started();
    await gate;
    log.push(`${name} end`);
    return name;
  };
  return { fn, finish, started: startedP };
}

describe("heavy turn", () => {
  test("a second actor's run waits until the first has ended, then runs", async () => {
    const slot = createHeavyTurnSlot();
    const a = new HeavyTurn({ slot, holder: 1, maxWaitMs: 60_000 });
    const b = new HeavyTurn({ slot, holder: 2, maxWaitMs: 60_000 });
    const log: string[] = [];
    const first = gatedRun(log, "a");
    const second = gatedRun(log, "b");
    const ra = a.run(first.fn);
    await first.started;
    const rb = b.run(second.fn);
    expect(turnHolder(slot)).toBe(1);
    // b is parked on the shared word, not running, for as long as a holds the turn.
    await Promise.race([second.started, Bun.sleep(50)]);
    expect(log).toEqual(["a start"]);
    first.finish();
    await second.started;
    expect(turnHolder(slot)).toBe(2);
    second.finish();
    expect(await Promise.all([ra, rb])).toEqual(["a", "b"]);
    expect(log).toEqual(["a start", "a end", "b start", "b end"]);
    expect(turnHolder(slot)).toBe(0);
  });

  test("runs of one actor take turns among themselves too", async () => {
    const turn = new HeavyTurn({ slot: createHeavyTurnSlot(), holder: 1, maxWaitMs: 60_000 });
    const log: string[] = [];
    const runs = ["x", "y", "z"].map((name) => gatedRun(log, name));
    const results = runs.map((r) => turn.run(r.fn));
    for (const r of runs) {
      await r.started;
      r.finish();
    }
    expect(await Promise.all(results)).toEqual(["x", "y", "z"]);
    expect(log).toEqual(["x start", "x end", "y start", "y end", "z start", "z end"]);
  });

  test("a run that throws frees the turn and passes its error on", async () => {
    const slot = createHeavyTurnSlot();
    const a = new HeavyTurn({ slot, holder: 1, maxWaitMs: 60_000 });
    const b = new HeavyTurn({ slot, holder: 2, maxWaitMs: 60_000 });
    await expect(
      a.run(() => {
        throw new Error("mining failed");
      }),
    ).rejects.toThrow("mining failed");
    expect(turnHolder(slot)).toBe(0);
    expect(await b.run(() => "ran")).toBe("ran");
    // The failed run does not poison the actor's own queue either.
    expect(await a.run(() => "again")).toBe("again");
  });

  test("a waiter stops waiting at maxWaitMs, runs beside the holder, and says so", async () => {
    const slot = createHeavyTurnSlot();
    const metrics = new Registry({ actor: "suggestions" });
    const timeouts: number[] = [];
    const stuck = new HeavyTurn({ slot, holder: 1, maxWaitMs: 60_000 });
    const waiter = new HeavyTurn({
      slot,
      holder: 2,
      maxWaitMs: 30,
      metrics,
      onTimeout: (_ms, holder) => timeouts.push(holder),
    });
    void stuck.run(() => new Promise<never>(() => {}));
    expect(await waiter.run(() => "ran anyway")).toBe("ran anyway");
    expect(timeouts).toEqual([1]);
    // The waiter never held the turn, so it must not have freed the stuck holder's.
    expect(turnHolder(slot)).toBe(1);
    const snap = metrics.snapshot();
    expect(snap.counters.find((c) => c.name === "heavy_run_wait_timeouts_total")?.value).toBe(1);
    expect(snap.gauges.find((g) => g.name === "heavy_run_max_wait_ms")?.value).toBe(30);
  });

  test("releaseHeldBy frees the turn of a holder that died, and only that holder's", async () => {
    const slot = createHeavyTurnSlot();
    const dead = new HeavyTurn({ slot, holder: 3, maxWaitMs: 60_000 });
    const next = new HeavyTurn({ slot, holder: 4, maxWaitMs: 60_000 });
    await new Promise<void>((held) => {
      void dead.run(() => {
        held();
        return new Promise<never>(() => {});
      });
    });
    expect(turnHolder(slot)).toBe(3);
    const waiting = next.run(() => "ran");
    expect(releaseHeldBy(slot, 4)).toBe(false);
    expect(turnHolder(slot)).toBe(3);
    expect(releaseHeldBy(slot, 3)).toBe(true);
    expect(await waiting).toBe("ran");
  });

  test("a holder id must be a positive integer", () => {
    expect(() => new HeavyTurn({ slot: null, holder: 0, maxWaitMs: 1 })).toThrow("positive integer");
  });
});
