import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { createLogger } from "../../../runtime/log.ts";
import { tempDirs } from "../../../test/lib/temp-dirs.ts";
import { importKeyCeiling } from "../../batcher/logic.ts";
import type { StateChange } from "../../batcher/messages.ts";
import { writerTarget } from "../../ops/import-stream.ts";
import { scheduleBackups } from "../../ops/run-backup.ts";
import { MAX_ENTITY_KEY } from "../../store/schema.ts";
import { openStoreWriter, type StoreWriter } from "../../store/writer.ts";
import { change, type TestApi, testApi } from "../fixtures.ts";

let api: TestApi | undefined;
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
  api?.close();
});
/** Registered after the hook above: bun runs afterEach hooks in that order, so the API is closed first. */
const tempBackupDir = tempDirs("homeiq-api-backups-");

const T = 1_795_000_000_000;

function withOps(env: Record<string, string> = {}) {
  const imported: StateChange[][] = [];
  // Imports go to a real store writer over the API's data dir, with the batcher's key ceiling.
  let writer: StoreWriter | undefined;
  const target = () => {
    writer ??= openStoreWriter(dataDir, { dictionaryCache: 100 });
    return writerTarget(
      writer,
      importKeyCeiling(MAX_ENTITY_KEY, api!.deps.config.ops.importEntityKeyReserve),
    );
  };
  closers.push(() => writer?.close());
  const crashed: string[] = [];
  const backupDir = tempBackupDir();
  let dataDir = "";
  const backups = scheduleBackups({
    get dataDir() {
      return dataDir;
    },
    dir: backupDir,
    intervalMs: 0,
    keep: 2,
    log: createLogger({ actor: "backup", level: "silent" }),
  } as Parameters<typeof scheduleBackups>[0]);
  api = testApi({
    store: "sqlite",
    env,
    now: () => T + 10_000,
    ops: {
      backups,
      backupDir,
      importCheck: (ids) => target().check(ids),
      importEvents: (events) => {
        imported.push(events);
        return target().write(events);
      },
      crash: (actor) => {
        crashed.push(actor);
        return actor === "batcher";
      },
    },
  });
  dataDir = api.dataDir!;
  // The import spools its upload in the data dir.
  (api.deps.config as { dataDir: string }).dataDir = dataDir;
  return { imported, crashed, backupDir };
}

describe("operations API", () => {
  test("export streams the range in the asked format, and refuses a bad one naming the field", async () => {
    withOps();
    api!.seed([
      change("light.hall", "on", T),
      change("sensor.t", "21.5", T + 1000),
      change("light.hall", "off", T + 2000),
    ]);
    const lp = await api!.get(`/api/v1/export?from=${T}&to=${T + 1500}&format=lp`);
    expect(lp.status).toBe(200);
    expect(lp.headers.get("content-type")).toStartWith("text/plain");
    expect((await lp.text()).trim().split("\n")).toEqual([
      "# homeiq export precision=us",
      `sensor,entity_id=sensor.t,domain=sensor value=21.5 ${(T + 1000) * 1000}`,
      `light,entity_id=light.hall,domain=light state="on" ${T * 1000}`,
    ]);
    const bad = await api!.get(`/api/v1/export?from=${T}&format=xml`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: "query.format", expected: "one of lp, csv, ndjson" });
    const backwards = await api!.get(`/api/v1/export?from=${T + 5}&to=${T}`);
    expect(backwards.status).toBe(400);
  });

  test("import hands every line to the batcher, or nothing when a line is bad", async () => {
    const { imported } = withOps();
    const good = `light,entity_id=light.hall state="on" ${T}000000\nsensor,entity_id=sensor.t value=3 ${T + 1}000000`;
    const r = await api!.get("/api/v1/import", { method: "POST", body: good });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ received: 2, stored: 2, duplicates: 0, newEntities: 2 });
    expect(imported.flat().map((e) => [e.entity_id, e.state, e.last_updated])).toEqual([
      ["light.hall", "on", T * 1000],
      ["sensor.t", "3", (T + 1) * 1000],
    ]);
    const bad = await api!.get("/api/v1/import", { method: "POST", body: `${good}\nnonsense` });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      rejected: 1,
      rejections: [{ line: 3, reason: "expected `measurement,tags fields [timestamp]`" }],
      stored: 0,
    });
    expect(imported).toHaveLength(1);
  });

  test("an online backup is written on demand and listed", async () => {
    const { backupDir } = withOps();
    api!.seed([change("light.hall", "on", T)]);
    const r = await api!.get("/api/v1/backups", { method: "POST" });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { file: string; databases: string[] };
    expect(body.databases).toContain("events.db");
    expect(readdirSync(backupDir).filter((f) => f.endsWith(".tar"))).toHaveLength(1);
    const list = (await (await api!.get("/api/v1/backups")).json()) as { items: { file: string }[] };
    expect(list.items.map((i) => i.file)).toEqual(readdirSync(backupDir).filter((f) => f.endsWith(".tar")));
  });

  test("crash injection exists only when debugFaults is on", async () => {
    const { crashed } = withOps();
    expect((await api!.get("/api/v1/debug/crash?actor=batcher", { method: "POST" })).status).toBe(404);
    expect(crashed).toEqual([]);
    api!.close();
    const on = withOps({ HOMEIQ_DEBUG_FAULTS: "true" });
    expect((await api!.get("/api/v1/debug/crash?actor=batcher", { method: "POST" })).status).toBe(200);
    expect((await api!.get("/api/v1/debug/crash?actor=nope", { method: "POST" })).status).toBe(409);
    expect(on.crashed).toEqual(["batcher", "nope"]);
  });

  test("without operations hooks the routes say so", async () => {
    api = testApi({ store: "memory" });
    expect((await api.get("/api/v1/backups")).status).toBe(503);
  });
});
