/**
 * The history import in real workers under the supervisor (batcher + history-import), against the
 * simulator's recorded past: what lands in events.db is exactly what the sim's history says, a restart
 * mid-import resumes without asking again for what was committed, and statistics fill the tiers before
 * the raw history.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../runtime/config/load.ts";
import { waitFor } from "../../runtime/kernel/clock.ts";
import { createLogger } from "../../runtime/kernel/log.ts";
import { MetricsHub } from "../../runtime/kernel/metrics.ts";
import { Supervisor } from "../../runtime/kernel/supervisor.ts";
import { type Simulator, startSimulator } from "../../sim/server.ts";
import { EDGES } from "../edges.ts";
import { HOUR_US, stepCounts } from "./logic.ts";
import type { HistoryImportStatus } from "./messages.ts";
import { ImportProgress } from "./progress.ts";

setDefaultTimeout(120000);

const actor = (name: string) => ({ name, module: new URL(`../${name}/worker.ts`, import.meta.url).pathname });

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function startSim(extra: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
  const sim = await startSimulator({
    ...extra,
    entities: 40,
    rate: 0,
    token: "t",
    historyDays: 2,
    statisticsDays: 20,
    recorderCommitIntervalMs: 0,
  });
  cleanup.push(() => sim.stop());
  return sim;
}

async function startHub(sim: Simulator, dataDir: string, env: Record<string, string> = {}, withLive = false) {
  const config = loadConfig({
    env: {
      HOMEIQ_DATA_DIR: dataDir,
      HOMEIQ_HA_URL: sim.url,
      HOMEIQ_HA_TOKEN: "t",
      HOMEIQ_HA_IMPORT_DAYS: "2",
      HOMEIQ_HA_IMPORT_STATISTICS_DAYS: "20",
      HOMEIQ_HA_IMPORT_WINDOW_MS: String(3 * 3600_000),
      HOMEIQ_HA_IMPORT_ENTITY_BATCH: "15",
      HOMEIQ_HA_IMPORT_PACE_MS: "0",
      HOMEIQ_LOG_LEVEL: "silent",
      ...env,
    },
  });
  const metrics = new MetricsHub();
  const supervisor = new Supervisor(
    {
      // With the live session too: the connection and its metadata consumer.
      children: withLive
        ? [actor("metadata"), actor("batcher"), actor("connection"), actor("history-import")]
        : [actor("batcher"), actor("history-import")],
      edges: [
        {
          name: EDGES.historyImportToBatcher,
          from: "history-import",
          to: "batcher",
          capacity: 16,
          retain: true,
        },
        ...(withLive
          ? [
              {
                name: EDGES.connectionToBatcher,
                from: "connection",
                to: "batcher",
                capacity: 64,
                retain: true,
              },
              {
                name: EDGES.connectionToMetadata,
                from: "connection",
                to: "metadata",
                capacity: 16,
                retain: true,
              },
            ]
          : []),
      ],
      maxRestarts: 3,
      periodMs: 30000,
      backoffMinMs: 20,
      backoffMaxMs: 200,
      startTimeoutMs: 10000,
      metricsIntervalMs: 50,
      logLevel: "silent",
      config,
    },
    { log: createLogger({ actor: "supervisor", level: "silent" }), metrics, onFatal: () => {} },
  );
  await supervisor.start();
  let stopped = false;
  const stop = async () => {
    if (!stopped) await supervisor.stop(10000);
    stopped = true;
  };
  cleanup.push(stop);
  const status = () =>
    supervisor.notice("history-import", "history-import") as HistoryImportStatus | undefined;
  return { supervisor, metrics, status, stop };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "homeiq-hist-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Every stored (entity@µs) key, and how many rows there are. */
function storedKeys(dataDir: string): string[] {
  const db = new Database(join(dataDir, "events.db"), { readonly: true });
  try {
    const base = (db.query("SELECT value FROM meta WHERE key = 'base_us'").get() as { value: number }).value;
    const rows = db
      .query("SELECT en.entity_id AS id, ev.id AS rid FROM events ev JOIN entities en ON en.e = ev.e")
      .all() as { id: string; rid: bigint | number }[];
    return rows.map((r) => `${r.id}@${Number(BigInt(r.rid) >> 16n) + base}`);
  } finally {
    db.close();
  }
}

/** What the sim's recorder holds for the planned range: its past plus what it recorded since starting. */
function expectedKeys(sim: Simulator, dataDir: string): string[] {
  const saved = new ImportProgress(dataDir).load();
  if (!saved) throw new Error("no plan saved");
  const ids = saved.plan.batches.flat();
  return [...sim.past.keys(ids, saved.plan.fromUs, sim.past.endUs), ...sim.emittedKeys()].sort();
}

describe("history import", () => {
  test("imports exactly the recorder's rows of the planned days, and statistics into the tiers before them", async () => {
    const sim = await startSim();
    const dataDir = tempDir();
    const hub = await startHub(sim, dataDir);
    await waitFor(() => hub.status()?.state === "done", { timeoutMs: 90000, what: "import done" });
    const s = hub.status() as HistoryImportStatus;
    expect(s.reason).toBe("first-start");
    expect(s.stepsDone).toBe(s.stepsTotal);
    await hub.stop();

    const got = storedKeys(dataDir);
    expect(new Set(got).size).toBe(got.length);
    expect(got.sort()).toEqual(expectedKeys(sim, dataDir));

    // Statistics: hours before the raw history, each HA mean as a full hour held; days the sum of hours.
    const plan = (new ImportProgress(dataDir).load() as NonNullable<ReturnType<ImportProgress["load"]>>).plan;
    const id = plan.batches.flat().find((x) => x.endsWith("_temperature")) as string;
    const meter = plan.batches.flat().find((x) => x.endsWith("_energy")) as string;
    const rawHour = Math.floor(plan.fromUs / HOUR_US) * HOUR_US;
    const ha = sim.past.statistics(
      plan.statsFromUs,
      rawHour,
      [id, meter],
      new Set(["mean", "min", "max", "sum", "state"]),
    );
    const db = new Database(join(dataDir, "events.db"), { readonly: true });
    const hourly = db
      .query(
        "SELECT t, tw, tws, min, max, growth FROM hourly h JOIN entities en ON en.e = h.e WHERE en.entity_id = ? AND t < ? ORDER BY t",
      )
      .all(id, rawHour / 1e6) as { t: number; tw: number; tws: number; min: number; max: number }[];
    expect(hourly.length).toBe(ha[id].length);
    expect(hourly.length).toBeGreaterThan(17 * 24);
    for (let i = 0; i < hourly.length; i++) {
      expect(hourly[i].t * 1000).toBe(ha[id][i].start as number);
      expect(hourly[i].tws).toBe(3600);
      expect(hourly[i].tw / 3600).toBeCloseTo(ha[id][i].mean as number, 9);
      expect(hourly[i].min).toBe(ha[id][i].min as number);
    }
    const growth = db
      .query(
        "SELECT sum(growth) AS g FROM hourly h JOIN entities en ON en.e = h.e WHERE en.entity_id = ? AND t < ?",
      )
      .get(meter, rawHour / 1e6) as { g: number };
    const sums = ha[meter];
    expect(growth.g).toBeCloseTo((sums.at(-1)?.sum as number) - (sums[0].sum as number), 6);
    const day = db
      .query(
        "SELECT d.tw AS tw, (SELECT sum(tw) FROM hourly h WHERE h.e = d.e AND h.t >= d.t AND h.t < d.t + 86400) AS hours FROM daily d JOIN entities en ON en.e = d.e WHERE en.entity_id = ? ORDER BY d.t LIMIT 1 OFFSET 3",
      )
      .get(id) as { tw: number; hours: number };
    expect(day.tw).toBeCloseTo(day.hours, 6);
    db.close();
  });

  test("a window whose answer is over ha.maxFrameBytes is asked again in halves, and nothing is lost", async () => {
    const sim = await startSim();
    const dataDir = tempDir();
    const hub = await startHub(sim, dataDir, { HOMEIQ_HA_MAX_FRAME_BYTES: "60000" });
    await waitFor(() => hub.status()?.state === "done", { timeoutMs: 90000, what: "import done" });
    await waitFor(() => hub.metrics.counter("history_import_splits_total") > 0, {
      timeoutMs: 5000,
      what: "splits",
    });
    await hub.stop();
    const got = storedKeys(dataDir);
    expect(new Set(got).size).toBe(got.length);
    expect(got.sort()).toEqual(expectedKeys(sim, dataDir));
  });

  test("next to the live session, every change is stored once: the recorder's past and everything live", async () => {
    const sim = await startSim();
    sim.setRate(200);
    const dataDir = tempDir();
    const hub = await startHub(sim, dataDir, { HOMEIQ_HA_IMPORT_PACE_MS: "10" }, true);
    await waitFor(() => hub.status()?.state === "done", { timeoutMs: 90000, what: "import done" });
    sim.setRate(0);
    const expected = expectedKeys(sim, dataDir);
    await waitFor(() => storedKeys(dataDir).length >= expected.length, {
      timeoutMs: 30000,
      what: "every live change stored",
    });
    await hub.stop();
    const got = storedKeys(dataDir);
    expect(new Set(got).size).toBe(got.length);
    expect(got.sort()).toEqual(expected);
    expect(sim.stats().sent).toBeGreaterThan(200);
  });

  test("an HA whose history is still loading is asked again later; the import then completes exactly", async () => {
    const sim = await startSim({ historyAvailableAfterMs: 1500 });
    const dataDir = tempDir();
    const hub = await startHub(sim, dataDir, {
      HOMEIQ_HA_RECONNECT_MIN_MS: "50",
      HOMEIQ_HA_RECONNECT_MAX_MS: "300",
    });
    await waitFor(() => hub.status()?.state === "waiting", { timeoutMs: 10000, what: "a refused first try" });
    expect(hub.status()?.lastError).toContain("Unknown command");
    await waitFor(() => hub.status()?.state === "done", { timeoutMs: 90000, what: "import done" });
    expect(hub.metrics.counter("history_import_failures_total")).toBeGreaterThan(0);
    await hub.stop();
    const got = storedKeys(dataDir);
    expect(got.sort()).toEqual(expectedKeys(sim, dataDir));
  });

  test("a restart mid-import resumes at the step in flight: nothing re-asked, nothing stored twice", async () => {
    const sim = await startSim();
    const dataDir = tempDir();
    const first = await startHub(sim, dataDir, { HOMEIQ_HA_IMPORT_PACE_MS: "20" });
    await waitFor(() => (first.status()?.stepsDone ?? 0) >= 20, { timeoutMs: 60000, what: "20 steps" });
    await first.stop();
    const mid = new ImportProgress(dataDir).load() as NonNullable<ReturnType<ImportProgress["load"]>>;
    const total = stepCounts(mid.plan).total;
    expect(mid.done).toBeGreaterThanOrEqual(20);
    expect(mid.done).toBeLessThan(total);
    const before = sim.stats().connections;

    const second = await startHub(sim, dataDir);
    await waitFor(() => second.status()?.state === "done", { timeoutMs: 90000, what: "import done" });
    // Resumed: only the remaining steps were asked (no get_states: the plan was kept).
    await waitFor(() => second.metrics.counter("history_import_requests_total") === total - mid.done, {
      timeoutMs: 5000,
      what: "requests counted",
    });
    expect(sim.stats().connections).toBe(before + 1);
    expect(second.status()?.reason).toBe("first-start");
    await second.stop();
    const got = storedKeys(dataDir);
    expect(new Set(got).size).toBe(got.length);
    expect(got.sort()).toEqual(expectedKeys(sim, dataDir));
  });
});
