import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HistoryImportCall } from "../../actors/history-import/messages.ts";
import { TEST_TOKEN, testApi } from "../../test/support/api.ts";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { openDatabase } from "../kernel/sqlite.ts";
import { TarWriter } from "../ops/tar.ts";

const CLI = new URL("./cli.ts", import.meta.url).pathname;

const tempDir = tempDirs("homeiq-cli-");

async function homeiq(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(["bun", CLI, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  return { code, stdout, stderr };
}

describe("homeiq CLI", () => {
  test("lists its commands, and each has --help", async () => {
    const top = await homeiq(["--help"]);
    expect(top.code).toBe(0);
    for (const c of ["backup", "restore", "verify", "export", "import", "check-config", "status"]) {
      expect(top.stdout).toContain(`  ${c}`);
      const h = await homeiq([c, "--help"]);
      expect({ c, code: h.code }).toEqual({ c, code: 0 });
      expect(h.stdout).toStartWith(`usage: homeiq ${c}`);
    }
  });

  test("bad usage exits 2 with the reason", async () => {
    expect(await homeiq(["frobnicate"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown command "frobnicate"'),
    });
    expect(await homeiq(["backup", "--nope"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--nope"),
    });
    expect(await homeiq(["restore", "x.tar"])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("--data-dir is required"),
    });
  });

  test("check-config explains a bad configuration and exits 2", async () => {
    const bad = await homeiq(["check-config"], { HOMEIQ_PORT: "nope" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("HOMEIQ_PORT (environment)");
    const good = await homeiq(["check-config"], { HOMEIQ_PORT: "9999" });
    expect(good).toMatchObject({
      code: 0,
      stdout: expect.stringContaining("API:            http://0.0.0.0:9999"),
    });
  });

  test("backup, verify and restore round-trip a data dir; restore refuses a non-empty target", async () => {
    const root = tempDir();
    const data = join(root, "data");
    mkdirSync(data);
    const db = openDatabase(join(data, "events.db"));
    db.exec("CREATE TABLE e (x); INSERT INTO e VALUES (1), (2), (3)");
    db.close();
    const file = join(root, "b.tar");
    expect(await homeiq(["backup", "--data-dir", data, "--out", file])).toMatchObject({
      code: 0,
      stdout: `backup written: ${file} (1 databases, 3 rows)\n`,
    });
    expect((await homeiq(["verify", file])).code).toBe(0);
    const target = join(root, "restored");
    expect((await homeiq(["restore", file, "--data-dir", target])).code).toBe(0);
    const restored = openDatabase(join(target, "events.db"), { readonly: true });
    expect(restored.query("SELECT count(*) AS n FROM e").get()).toEqual({ n: 3 });
    restored.close();
    const again = await homeiq(["restore", file, "--data-dir", target]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("is not empty");
    writeFileSync(file, "garbage");
    expect((await homeiq(["verify", file])).code).toBe(1);
  });

  test("verify and restore of a backup whose manifest names ../ files say what is wrong and write nothing", async () => {
    const root = tempDir();
    const file = join(root, "evil.tar");
    const payload = Buffer.from("pwned\n");
    const name = "../../PWNED.txt"; // from the staging dir <root>/.X/data, this would be <root>/PWNED.txt
    const tar = new TarWriter(file);
    tar.addBytes(
      "manifest.json",
      Buffer.from(
        JSON.stringify({
          format: "homeiq-backup",
          formatVersion: 1,
          createdAt: new Date().toISOString(),
          databases: [],
          files: [
            {
              file: name,
              bytes: payload.length,
              sha256: new Bun.CryptoHasher("sha256").update(payload).digest("hex"),
            },
          ],
        }),
      ),
    );
    tar.addBytes(name, payload);
    tar.finish();
    const verify = await homeiq(["verify", file]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toStartWith(
      `homeiq verify: ${file}: manifest.json files[0].file "${name}" climbs out of the data dir with ".."`,
    );
    const restore = await homeiq(["restore", file, "--data-dir", join(root, "data")]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain("climbs out of the data dir");
    expect(existsSync(join(root, "PWNED.txt"))).toBe(false);
    expect(readdirSync(root)).toEqual(["evil.tar"]);
  });

  test("import then export round-trips line protocol, and a bad file imports nothing", async () => {
    const root = tempDir();
    const data = join(root, "data");
    const lp = join(root, "in.lp");
    const t = 1_795_000_000_000; // ms
    writeFileSync(
      lp,
      [
        `light,entity_id=light.hall,domain=light state="on",brightness=200 ${t}000000`,
        `sensor,entity_id=sensor.t,domain=sensor value=21.5 ${t + 1000}000000`,
      ].join("\n"),
    );
    expect(await homeiq(["import", lp, "--data-dir", data])).toMatchObject({
      code: 0,
      stdout: `imported 2 state changes into ${data} (0 already stored)\n`,
    });
    expect((await homeiq(["import", lp, "--data-dir", data])).stdout).toContain("(2 already stored)");
    expect([statSync(data).mode & 0o777, statSync(join(data, "events.db")).mode & 0o777]).toEqual([
      0o700, 0o600,
    ]);
    const out = join(root, "out.csv");
    writeFileSync(out, "an older, world-readable export", { mode: 0o644 });
    const exp = await homeiq([
      "export",
      "--data-dir",
      data,
      "--from",
      String(t - 1),
      "--to",
      String(t + 5000),
      "--format",
      "csv",
      "--out",
      out,
    ]);
    expect(exp.code).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600); // the home's history is the owner's only
    const csv = readFileSync(out, "utf8").trim().split("\n");
    expect(csv).toHaveLength(3);
    expect(csv[1]).toStartWith(`${new Date(t + 1000).toISOString()},sensor.t,21.5,21.5`);
    writeFileSync(lp, `light,entity_id=light.hall state="on" ${t}000000\nnot line protocol`);
    const bad = await homeiq(["import", lp, "--data-dir", data]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("line 2:");
  });

  test("import reads HomeIQ's own export back at its stated precision, and refuses too many new entities, future rows and bad lines before writing", async () => {
    const root = tempDir();
    const data = join(root, "data");
    const lp = join(root, "in.lp");
    const t = Date.now() - 3_600_000; // ms
    writeFileSync(
      lp,
      `# homeiq export precision=us\nlight,entity_id=light.hall,domain=light state="on" ${t}000\n`,
    );
    expect(await homeiq(["import", lp, "--data-dir", data])).toMatchObject({
      code: 0,
      stdout: `imported 1 state changes into ${data} (0 already stored)\n`,
    });
    const many = Array.from({ length: 6 }, (_, i) => `sensor,entity_id=sensor.n${i} value=1 ${t + i}`);
    writeFileSync(lp, many.join("\n"));
    const tooMany = await homeiq(["import", lp, "--precision", "ms", "--data-dir", data], {
      HOMEIQ_OPS_IMPORT_MAX_NEW_ENTITIES: "5",
    });
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toContain(
      "import would add 6 entities new to the store; one import may add at most 5",
    );
    writeFileSync(
      lp,
      [many[0], `light,entity_id=light.hall state="x" ${t + 86_400_000}`, "nonsense"].join("\n"),
    );
    const bad = await homeiq(["import", lp, "--precision", "ms", "--data-dir", data]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("2 bad lines");
    expect(bad.stderr).toContain("  - line 2: timestamp");
    expect(bad.stderr).toContain("s in the future");
    expect(bad.stderr).toContain("  - line 3: expected");
    const db = openDatabase(join(data, "events.db"), { readonly: true });
    expect(db.query("SELECT count(*) AS n FROM events").get()).toEqual({ n: 1 });
    db.close();
  });

  test("import-history starts an import of --days through the API and --wait follows it to the end", async () => {
    const api = testApi();
    const calls: HistoryImportCall[] = [];
    let polls = 0;
    const status = (state: string, stepsDone: number) => ({
      state,
      reason: "on-demand",
      stepsDone,
      stepsTotal: 4,
      events: stepsDone * 100,
      hours: 0,
      fromMs: null,
      toMs: null,
      lastError: null,
    });
    api.deps.supervisor.call = async (_actor, body) => {
      calls.push(body as HistoryImportCall);
      if ((body as HistoryImportCall).type === "start") return { ok: true, status: status("running", 0) };
      polls++;
      return polls < 2 ? status("running", 2) : status("done", 4);
    };
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (r) => api.app.handle(r) });
    try {
      const url = `http://127.0.0.1:${server.port}`;
      const r = await homeiq([
        "import-history",
        "--days",
        "3",
        "--wait",
        "--url",
        url,
        "--token",
        TEST_TOKEN,
      ]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("2/4 steps, 200 events");
      expect(r.stdout).toContain("4/4 steps, 400 events");
      expect(calls[0]).toEqual({ type: "start", days: 3 });
      const bad = await homeiq(["import-history", "--days", "ten", "--url", url, "--token", TEST_TOKEN]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("--days ten");
    } finally {
      server.stop(true);
      api.close();
    }
  });

  test("status says clearly when nothing is running", async () => {
    const r = await homeiq(["status", "--url", "http://127.0.0.1:9", "--token", "x".repeat(20)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("nothing answers at http://127.0.0.1:9");
  });
});
