import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { importKeyCeiling } from "../../../actors/batcher/logic.ts";
import { change, type TestApi, testApi } from "../../../test/support/api.ts";
import { tempDirs } from "../../../test/support/temp-dirs.ts";
import type { StateChange } from "../../events/messages.ts";
import { waitFor } from "../../kernel/clock.ts";
import { createLogger } from "../../kernel/log.ts";
import { writerTarget } from "../../ops/import-stream.ts";
import { scheduleBackups } from "../../ops/run-backup.ts";
import { MAX_ENTITY_KEY } from "../../store/schema.ts";
import { openStoreWriter, type StoreWriter } from "../../store/writer.ts";

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
    expect(api!.deps.registry.snapshot().counters.find((m) => m.name === "import_stored_total")?.value).toBe(
      2,
    );
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

  test("HomeIQ's own line-protocol export (precision=us header, no query) imports back to the same rows", async () => {
    withOps();
    api!.seed([
      change("light.hall", "on", T),
      change("sensor.t", "-3.5", T + 1000),
      change("input_text.note", "=1+1", T + 2000),
    ]);
    const exportLp = async () =>
      (await api!.get(`/api/v1/export?from=${T - 1000}&to=${T + 5000}&format=lp`)).text();
    const exported = await exportLp();
    api!.close();
    const { imported } = withOps();
    const r = await api!.get("/api/v1/import", { method: "POST", body: exported });
    expect(await r.json()).toEqual({ received: 3, stored: 3, duplicates: 0, newEntities: 3 });
    expect(imported.flat().map((e) => e.last_updated)).toEqual([2, 1, 0].map((i) => (T + i * 1000) * 1000));
    expect(await exportLp()).toBe(exported);
    // Asked for explicitly, another precision still wins over the header.
    const ns = await api!.get("/api/v1/import?precision=ns", { method: "POST", body: exported });
    expect(ns.status).toBe(400);
    expect((await ns.json()).rejections[0]).toMatchObject({ line: 2 });
    const bad = await api!.get("/api/v1/import?precision=minutes", { method: "POST", body: exported });
    expect(await bad.json()).toMatchObject({ field: "query.precision", expected: "one of ns, us, ms, s" });
  });

  test("from=ha-influxdb maps HA's lines, skips and counts what it cannot map, and a re-import is all duplicates", async () => {
    const { imported } = withOps();
    const body = [
      `°C,domain=sensor,entity_id=living,source=HA friendly_name_str="Living, \\"east\\"",value=21.5 ${T}123456`,
      `light.hall,domain=light,entity_id=hall brightness=128.0,state="on",value=1.0 ${T + 1}000000`,
      `°C,domain=sensor value=20 ${T}000000`,
      "nonsense",
    ].join("\n");
    const post = (q: string) => api!.get(`/api/v1/import?${q}`, { method: "POST", body });
    const r = await post("from=ha-influxdb");
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({
      lines: 4,
      mappedLines: 2,
      skippedLines: 2,
      skipped: { "no-entity": 1, syntax: 1 },
      examples: [
        { line: 3, reason: "no-entity" },
        { line: 4, reason: "syntax" },
      ],
      stored: 2,
      duplicates: 0,
    });
    expect(
      imported.flat().map((e) => [e.entity_id, e.state, e.last_updated, JSON.parse(e.attributes)]),
    ).toEqual([
      [
        "sensor.living",
        "21.5",
        T * 1000 + 123,
        { friendly_name: 'Living, "east"', unit_of_measurement: "°C" },
      ],
      ["light.hall", "on", (T + 1) * 1000, { brightness: 128 }],
    ]);
    expect(await (await post("from=ha-influxdb")).json()).toMatchObject({ stored: 0, duplicates: 2 });
    const skipped = api!.deps.registry
      .snapshot()
      .counters.filter((m) => m.name === "import_skipped_lines_total")
      .map((m) => [m.labels.reason, m.value]);
    expect(skipped.sort()).toEqual([
      ["no-entity", 2],
      ["syntax", 2],
    ]);
    expect(await (await post("from=influx")).json()).toMatchObject({
      field: "query.from",
      expected: "homeiq or ha-influxdb",
    });
  });

  test("HomeIQ's NDJSON export imports back with every field (contexts, last_changed, µs times)", async () => {
    withOps();
    api!.seed([
      {
        ...change("light.hall", "on", T, { brightness: 200, nested: { a: [1, "x"] } }),
        last_updated: T * 1000 + 123,
        context_id: "01JAAAAAAAAAAAAAAAAAAAAAAA",
        context_parent_id: "ctx-parent",
        context_user_id: "user-1",
      },
      { ...change("sensor.t", "-3.5", T + 1000), last_changed: (T - 5000) * 1000 },
    ]);
    const exportNd = async () =>
      (await api!.get(`/api/v1/export?from=${T - 1000}&to=${T + 5000}&format=ndjson`)).text();
    const exported = await exportNd();
    api!.close();
    withOps();
    const r = await api!.get("/api/v1/import", { method: "POST", body: exported });
    expect(await r.json()).toEqual({ received: 2, stored: 2, duplicates: 0, newEntities: 2 });
    expect(await exportNd()).toBe(exported);
    const bad = await api!.get("/api/v1/import?format=ndjson", {
      method: "POST",
      body: `${exported.split("\n")[0]}\n{"entity_id":"light.x"}\n[1]\n{not json`,
    });
    expect((await bad.json()).rejections.map((x: { line: number }) => x.line)).toEqual([2, 3, 4]);
  });

  test("rows dated in the future beyond the skew are refused line by line, and nothing is stored", async () => {
    const { imported } = withOps();
    const now = T + 10_000;
    const body = [
      `light,entity_id=light.a state="on" ${now - 1000}`,
      `light,entity_id=light.a state="off" ${now + 60_000}`, // within ops.importFutureSkewMs (5 min)
      `light,entity_id=light.a state="on" ${now + 3_600_000}`,
      "garbage",
    ].join("\n");
    const r = await api!.get("/api/v1/import?precision=ms", { method: "POST", body });
    expect(r.status).toBe(400);
    const answer = await r.json();
    expect(answer).toMatchObject({ received: 2, stored: 0, rejected: 2 });
    expect(answer.rejections.map((x: { line: number }) => x.line)).toEqual([3, 4]);
    expect(answer.rejections[0].reason).toContain("3600 s in the future");
    expect(imported).toEqual([]);
  });

  test("the import that used every entity key is refused whole, with the bound it broke", async () => {
    const { imported } = withOps();
    const body = Array.from(
      { length: 65_535 },
      (_, i) => `sensor,entity_id=sensor.junk${i} value=1 ${(T - 1000 + i) * 1000}`,
    ).join("\n");
    const r = await api!.get("/api/v1/import?precision=us", { method: "POST", body });
    expect(r.status).toBe(422);
    const answer = await r.json();
    expect(answer.error).toStartWith(
      "import would add at least 3000 entities new to the store; one import may add at most 2000 (ops.importMaxNewEntities). Nothing was written",
    );
    expect(answer.stored).toBe(0);
    expect(imported).toEqual([]);
    expect(api!.deps.store.totals().events).toBe(0);
  });

  test("an import past the keys left to imports is refused before anything is written", async () => {
    const { imported } = withOps({ HOMEIQ_OPS_IMPORT_ENTITY_KEY_RESERVE: String(MAX_ENTITY_KEY - 3) });
    const body = ["a", "b", "c", "d"]
      .map((x, i) => `sensor,entity_id=sensor.${x} value=1 ${T + i}`)
      .join("\n");
    const r = await api!.get("/api/v1/import?precision=ms", { method: "POST", body });
    expect(r.status).toBe(422);
    expect((await r.json()).error).toContain("imports may take only 3 more entity keys");
    expect(imported).toEqual([]);
  });

  test("a body over ops.importMaxBytes is refused with 413 while it streams, and nothing is stored", async () => {
    const { imported } = withOps({ HOMEIQ_OPS_IMPORT_MAX_BYTES: "4096" });
    const line = new TextEncoder().encode(`light,entity_id=light.a state="on" ${T}000000\n`);
    let sent = 0;
    // Chunked: no Content-Length to check up front.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 1_000_000) return controller.close();
        sent += line.byteLength;
        controller.enqueue(line);
      },
    });
    const r = await api!.get("/api/v1/import", { method: "POST", body, duplex: "half" } as RequestInit);
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({
      stored: 0,
      expected: expect.stringContaining("ops.importMaxBytes"),
    });
    expect(sent).toBeLessThan(100_000);
    expect(imported).toEqual([]);
  });

  test("one import at a time: a second one while the first streams is refused with 409", async () => {
    withOps();
    let finish = () => {};
    const held = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let pulls = 0;
    const slow = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (pulls++ === 0)
          return controller.enqueue(new TextEncoder().encode(`light,entity_id=light.a state="on" ${T}\n`));
        await held;
        controller.close();
      },
    });
    const first = api!.get("/api/v1/import?precision=ms", {
      method: "POST",
      body: slow,
      duplex: "half",
    } as RequestInit);
    await waitFor(() => pulls > 1, { timeoutMs: 5000, what: "the first import reading" });
    const second = await api!.get("/api/v1/import?precision=ms", { method: "POST", body: "" });
    expect(second.status).toBe(409);
    finish();
    expect(await (await first).json()).toMatchObject({ received: 1, stored: 1 });
    const third = await api!.get("/api/v1/import?precision=ms", { method: "POST", body: "" });
    expect(await third.json()).toMatchObject({ received: 0, stored: 0 });
  });

  test("a batch the store fails to take makes the import report failure with what was stored", async () => {
    withOps();
    let calls = 0;
    const hooks = api!.deps.ops!;
    const write = hooks.importEvents;
    hooks.importEvents = (events) =>
      ++calls === 2 ? Promise.reject(new Error("batcher crashed")) : write(events);
    const body = Array.from({ length: 4500 }, (_, i) => `sensor,entity_id=sensor.t value=${i} ${T + i}`).join(
      "\n",
    );
    const r = await api!.get("/api/v1/import?precision=ms", { method: "POST", body });
    expect(r.status).toBe(500);
    const answer = await r.json();
    expect(answer).toMatchObject({ received: 4500, stored: 2000 });
    expect(answer.error).toContain("import failed after storing 2000 of 4500 state changes: batcher crashed");
    hooks.importCheck = () => Promise.reject(new Error('actor "batcher" is not running (state restarting)'));
    const down = await api!.get("/api/v1/import?precision=ms", { method: "POST", body });
    expect(down.status).toBe(500);
    expect((await down.json()).error).toBe(
      'import failed before anything was written: actor "batcher" is not running (state restarting)',
    );
  });

  test("a large import streams: the event loop keeps turning (health answers) and memory stays bounded", async () => {
    withOps();
    const hooks = api!.deps.ops!;
    // In HomeIQ the store writes in the batcher's worker, not on the API thread: here they are counted, so
    // what is measured is the import route's own work (streaming, parsing, spooling).
    let batches = 0;
    let stored = 0;
    hooks.importEvents = async (events) => {
      batches++;
      stored += events.length;
      return { stored: events.length, duplicates: 0, rejected: [] };
    };
    const lines = 150_000;
    const encoder = new TextEncoder();
    let produced = 0;
    // Made as it is read, so the test holds no copy of the ~10 MB body.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (produced >= lines) return controller.close();
        let chunk = "";
        for (let i = 0; i < 1000; i++, produced++)
          chunk += `sensor,entity_id=sensor.load_${produced % 50} value=${produced} ${T - lines + produced}\n`;
        controller.enqueue(encoder.encode(chunk));
      },
    });
    Bun.gc(true);
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    let maxLag = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const t = performance.now();
      maxLag = Math.max(maxLag, t - last - 5);
      last = t;
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 5);
    const health: number[] = [];
    let done = false;
    const prober = (async () => {
      while (!done) {
        const started = performance.now();
        await api!.get("/health");
        health.push(performance.now() - started);
        await Bun.sleep(20);
      }
    })();
    const importStarted = performance.now();
    const r = await api!.get("/api/v1/import?precision=ms", {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit);
    const tookMs = performance.now() - importStarted;
    done = true;
    clearInterval(ticker);
    await prober;
    expect(await r.json()).toMatchObject({ received: lines, stored: lines });
    expect([batches, stored]).toEqual([lines / 2000, lines]);
    const growthMb = (rssPeak - rssBefore) / 1e6;
    console.log(
      `import of ${lines} lines in ${tookMs.toFixed(0)} ms: max event-loop lag ${maxLag.toFixed(0)} ms, ${health.length} health probes (slowest ${Math.max(...health).toFixed(0)} ms), RSS +${growthMb.toFixed(0)} MB`,
    );
    expect(health.length).toBeGreaterThan(5);
    // Generous bounds (2 shared cores): the whole-text parse this replaces froze the loop for seconds.
    expect(maxLag).toBeLessThan(400);
    // RSS is printed, not asserted: in the whole suite's one process it follows the collector's mood
    // (+69 MB alone, +511 MB once after other files), and at this size it could not tell a streamed import
    // from a whole-body parse anyway. That the body streams is shown by the 413 test (under 100 KB read).
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
