/**
 * The Home Assistant add-on and the image it runs, checked without Docker (none runs where CI runs):
 * config.yaml against the add-on configuration schema the Supervisor documents; the Supervisor finding the
 * add-on at the repository root so its build context is this source; and the image itself: the Dockerfile's
 * RUN lines run verbatim on the context .dockerignore lets through (lockfile install, dashboard build,
 * production dependencies), then the assembled `app` stage and the add-on's entry start HomeIQ, the latter
 * as root handing over to an unprivileged user, as the Supervisor would start it.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { configReference, loadConfig } from "../runtime/config/load.ts";
import { waitFor } from "../runtime/kernel/clock.ts";
import { startSimulator } from "../sim/server.ts";
import {
  type BuiltStage,
  buildContext,
  buildStage,
  dockerignore,
  parseDockerfile,
} from "./support/dockerfile.ts";
import { type Child, spawnChild } from "./support/proc.ts";
import { registryInstalls } from "./support/registry-installs.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const addon = parse(readFileSync(join(ROOT, "config.yaml"), "utf8")) as Record<string, unknown>;
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, { version: string }>;
};
const dockerfileText = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const stages = parseDockerfile(dockerfileText);
const gitFiles = (() => {
  // What a clone holds (the Supervisor builds from one), plus new files not yet committed.
  const r = Bun.spawnSync(["git", "ls-files", "--cached", "--others", "--exclude-standard"], { cwd: ROOT });
  if (r.exitCode !== 0) throw new Error(`git ls-files failed in ${ROOT}: these tests need a git checkout`);
  return r.stdout.toString().split("\n").filter(Boolean);
})();

const ARCHES = ["armhf", "armv7", "aarch64", "amd64", "i386"];
const STARTUP = ["initialize", "system", "services", "application", "once"];
const BOOT = ["auto", "manual", "manual_only"];
/** Option types from the add-on configuration docs; `?` marks an optional option. */
const OPTION_TYPE =
  /^(str|bool|int|float|email|url|password|port|device)(\((-?\d+(\.\d+)?)?,(-?\d+(\.\d+)?)?\))?\??$|^list\([^|)]+(\|[^|)]+)*\)\??$|^match\(.+\)\??$|^device\(subsystem=\w+\)\??$/;

describe("Home Assistant add-on", () => {
  test("has the required keys with the documented types", () => {
    for (const key of ["name", "version", "slug", "description"]) expect(typeof addon[key]).toBe("string");
    expect(addon.slug).toMatch(/^[a-z0-9_]+$/);
    expect(Array.isArray(addon.arch)).toBe(true);
    for (const arch of addon.arch as string[]) expect(ARCHES).toContain(arch);
    expect(STARTUP).toContain(addon.startup as string);
    expect(BOOT).toContain(addon.boot as string);
    expect(addon.ingress).toBe(true);
    expect(Number.isInteger(addon.ingress_port)).toBe(true);
    expect(addon.homeassistant_api).toBe(true);
  });

  test("uses only keys the Supervisor knows, in the forms it accepts", () => {
    // The Supervisor drops unknown keys silently (supervisor/addons/validate.py, extra=REMOVE_EXTRA), so a
    // misspelt key would just not apply. Keys and patterns as that schema has them.
    const known = `name version slug description arch machine url startup boot init advanced stage ports
      ports_description watchdog webui ingress ingress_port ingress_entry ingress_stream panel_icon panel_title
      panel_admin homeassistant host_network host_pid host_ipc host_uts host_dbus devices udev tmpfs map
      environment privileged apparmor full_access audio video gpio usb uart devicetree kernel_modules realtime
      hassio_api hassio_role homeassistant_api stdin legacy docker_api auth_api services discovery
      backup_exclude backup_pre backup_post restore_pre restore_post backup options schema image ulimits
      timeout journald breaking_versions`.split(/\s+/);
    for (const key of Object.keys(addon))
      expect({ key, known: known.includes(key) }).toEqual({ key, known: true });
    expect(addon.watchdog).toMatch(/^(?:https?|\[PROTO:\w+\]|tcp):\/\/\[HOST\]:(\[PORT:\d+\]|\d+).*$/);
    for (const m of addon.map as string[])
      expect(m).toMatch(
        /^(data|config|ssl|addons|backup|share|media|homeassistant_config|all_addon_configs|addon_config)(?::(rw|ro))?$/,
      );
    expect(Number(addon.timeout)).toBeGreaterThanOrEqual(10);
    expect(Number(addon.timeout)).toBeLessThanOrEqual(300);
    for (const port of Object.keys(addon.ports as object)) expect(port).toMatch(/^\d+\/(tcp|udp)$/);
    // The ingress listener answers only the Supervisor, inside the hassio network: never published.
    expect(Object.keys(addon.ports as object)).not.toContain(`${addon.ingress_port}/tcp`);
    expect(Object.keys(addon.ports as object)).toContain(`${loadConfig({ env: {} }).port}/tcp`);
  });

  test("ingress: HomeIQ's ingress listener is on ingress_port and trusts only the Supervisor's address", () => {
    // HA's add-on guide: accept only 172.30.32.2 on the ingress port, and treat it as authenticated.
    const run = readFileSync(join(ROOT, "addon/run.sh"), "utf8");
    expect(run).toContain(`export HOMEIQ_API_INGRESS_FROM="\${HOMEIQ_API_INGRESS_FROM:-172.30.32.2}"`);
    expect(run).toContain(
      `export HOMEIQ_API_INGRESS_PORT="\${HOMEIQ_API_INGRESS_PORT:-${addon.ingress_port}}"`,
    );
    expect(addon.ingress_port).not.toBe(loadConfig({ env: {} }).port);
    // Without the add-on's settings there is no ingress trust at all.
    expect(loadConfig({ env: {} }).api.ingressFrom).toBeUndefined();
  });

  test("backups are cold, and leave out only HomeIQ's own scheduled backups", () => {
    // The Supervisor stops a `backup: cold` add-on (HomeIQ's graceful stop closes the databases), copies
    // /data minus backup_exclude, and starts it again; backup_pre/post would be ignored.
    expect(addon.backup).toBe("cold");
    expect(addon.backup_pre).toBeUndefined();
    const excludes = addon.backup_exclude as string[];
    const dataDir = "/mnt/data/supervisor/addons/data/local_homeiq";
    const kept = ["events.db", "metadata.db", "webhooks.db", "api-token", "options.json", "spool/000001.seg"];
    const left = [
      "backups/homeiq-2026-11-25T14-05-00-123Z.tar",
      "backups/homeiq-x.tar.partial",
      "backups/.backup-ab12",
    ];
    const excluded = (f: string) => excludes.some((p) => pathMatch(`${dataDir}/${f}`, p));
    expect(kept.filter(excluded)).toEqual([]);
    expect(left.filter((f) => !excluded(f))).toEqual([]);
  });

  test("is versioned with the package", () => {
    expect(addon.version).toBe(pkg.version);
  });

  test("every option has a schema entry of a valid type, and defaults match their types", () => {
    const options = addon.options as Record<string, unknown>;
    const schema = addon.schema as Record<string, string>;
    for (const key of Object.keys(options)) expect(Object.keys(schema)).toContain(key);
    for (const [key, type] of Object.entries(schema)) {
      expect({ key, valid: OPTION_TYPE.test(type) }).toEqual({ key, valid: true });
      // Required options need a default; optional ones are left out.
      if (!type.endsWith("?")) expect(Object.keys(options)).toContain(key);
      if (!(key in options)) continue;
      const value = options[key];
      if (type.startsWith("bool")) expect(typeof value).toBe("boolean");
      else if (type.startsWith("int") || type.startsWith("port")) expect(Number.isInteger(value)).toBe(true);
      else if (type.startsWith("list("))
        expect(type.slice(5, type.indexOf(")")).split("|")).toContain(value as string);
      else expect(typeof value).toBe("string");
    }
  });

  test("the Supervisor finds exactly one add-on, at the root, so its build context is this source", () => {
    // The Supervisor globs **/config.{json,yaml,yml} (skipping dot and rootfs folders); the add-on's
    // folder, the found file's parent, is the Docker build context of its Dockerfile.
    const found = gitFiles.filter(
      (f) =>
        /(^|\/)config\.(json|ya?ml)$/.test(f) &&
        !f.split("/").some((p) => p.startsWith(".") || p === "rootfs"),
    );
    expect(found).toEqual(["config.yaml"]);
    expect(existsSync(join(ROOT, "Dockerfile"))).toBe(true);
    // No image: the Supervisor builds on the device. No build.yaml: its BUILD_FROM can't replace our base.
    expect(addon.image).toBeUndefined();
    expect(gitFiles.filter((f) => /^build\.(json|ya?ml)$/.test(f))).toEqual([]);
    // Bun's images exist for amd64 and arm64 only.
    expect([...(addon.arch as string[])].sort()).toEqual(["aarch64", "amd64"]);
  });

  test("waits longer for a stop than HomeIQ's graceful shutdown may take", () => {
    // The Supervisor kills an add-on `timeout` seconds (default 10) after SIGTERM; HomeIQ exits by
    // shutdownDeadlineMs + 1 s.
    const deadlineMs = loadConfig({ env: {} }).shutdownDeadlineMs;
    expect((Number(addon.timeout ?? 10) * 1000) / (deadlineMs + 1000)).toBeGreaterThanOrEqual(1.5);
  });

  test("the run script sets only variables HomeIQ knows, and uses the Supervisor's token and WebSocket", () => {
    const run = readFileSync(join(ROOT, "addon/run.sh"), "utf8");
    const known = new Set(configReference().map((r) => r.env));
    const set = [...run.matchAll(/\b(HOMEIQ_[A-Z_]+)=/g)].map((m) => m[1]);
    expect(set.length).toBeGreaterThan(5);
    for (const name of set) expect({ name, known: known.has(name) }).toEqual({ name, known: true });
    expect(run).toMatch(/^export HOMEIQ_HA_URL="\$\{HOMEIQ_HA_URL:-ws:\/\/supervisor\/core\/websocket\}"$/m);
    expect(run).toMatch(/HOMEIQ_HA_TOKEN="\$\{SUPERVISOR_TOKEN\}"/);
    expect(run).toMatch(/^DATA="\$\{ADDON_DATA_DIR:-\/data\}"$/m);
    expect(run).toContain('HOMEIQ_DATA_DIR="$DATA"');
  });

  test("the Raspberry Pi low-memory profile is a valid configuration", () => {
    const config = loadConfig({ env: {}, file: join(ROOT, "deploy/pi/homeiq.low-memory.json") });
    expect(config.mailbox.eventsCapacity).toBe(8);
  });
});

describe("Dockerfiles", () => {
  const dockerfiles = gitFiles.filter((f) => /(^|\/)Dockerfile(\.[\w.-]+)?$/.test(f));

  test("install nothing by a registry name outside the lockfile", () => {
    expect(dockerfiles).toEqual(["Dockerfile"]);
    for (const file of dockerfiles) {
      const found = registryInstalls(readFileSync(join(ROOT, file), "utf8"));
      expect({ file, found }).toEqual({ file, found: [] });
    }
    // The line this replaces: the add-on fetched an unclaimed public name and ran it as root.
    expect(registryInstalls('RUN bun add --no-save "homeiq@0.1.0"')).toHaveLength(1);
    expect(registryInstalls("RUN bun install --ignore-scripts")).toHaveLength(1);
    expect(registryInstalls("RUN npx vite build")).toHaveLength(1);
    expect(registryInstalls("RUN bun install --frozen-lockfile left-pad")).toHaveLength(1);
  });

  test("build on Bun's image at the version package-lock.json installs, which these tests run on", () => {
    const bun = lock.packages["node_modules/bun"].version;
    const names = new Set(stages.map((s) => s.name));
    for (const s of stages)
      if (!names.has(s.from))
        expect({ stage: s.name, from: s.from }).toEqual({ stage: s.name, from: `oven/bun:${bun}-slim` });
    expect(Bun.version).toBe(bun);
  });

  test(".dockerignore lets in the source and keeps secrets, data, tests and build output out", () => {
    const keep = dockerignore(readFileSync(join(ROOT, ".dockerignore"), "utf8"));
    const seen = Object.fromEntries(
      [
        "package.json",
        "package-lock.json",
        "runtime/app/main.ts",
        "runtime/api/server.ts",
        "addon/run.sh",
        "web/index.html",
        ".env",
        "data/events.db",
        "node_modules/vite/package.json",
        "web/dist/index.html",
        "runtime/api/app.test.ts",
        "test/support/ops/busy-writer.ts",
        "test/support/api.ts",
        "test/addon.test.ts",
        "bench/e2e.ts",
        ".git/config",
      ].map((p) => [p, keep(p)]),
    );
    expect(seen).toEqual({
      "package.json": true,
      "package-lock.json": true,
      "runtime/app/main.ts": true,
      "runtime/api/server.ts": true,
      "addon/run.sh": true,
      "web/index.html": true,
      ".env": false,
      "data/events.db": false,
      "node_modules/vite/package.json": false,
      "web/dist/index.html": false,
      "runtime/api/app.test.ts": false,
      "test/support/ops/busy-writer.ts": false,
      "test/support/api.ts": false,
      "test/addon.test.ts": false,
      "bench/e2e.ts": false,
      ".git/config": false,
    });
  });
});

/** The environment Docker gives a RUN line or the container: the image's PATH, plus what reaches the npm registry. */
function imageEnv(binDir: string): Record<string, string> {
  const passed = Object.entries(process.env).filter(
    ([k, v]) =>
      v !== undefined &&
      /^(HOME|TMPDIR|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY|npm_config_\w+|BUN_CONFIG_\w+|BUN_INSTALL_CACHE_DIR)$/.test(
        k,
      ),
  ) as [string, string][];
  return {
    ...Object.fromEntries(passed),
    PATH: `${binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    // As oven/bun's image sets it.
    BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0",
  };
}

describe("the image, built from this repository's source", () => {
  let tmp = "";
  let env: Record<string, string> = {};
  let context: ReturnType<typeof buildContext> = new Map();
  const built = new Map<string, BuiltStage>();
  const children: Child[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const stage = (name: string) => {
    const s = stages.find((x) => x.name === name);
    if (!s) throw new Error(`Dockerfile has no stage ${name}`);
    return s;
  };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "homeiq-image-"));
    chmodSync(tmp, 0o755);
    const binDir = join(tmp, "bin");
    mkdirSync(binDir, { mode: 0o755 });
    symlinkSync(process.execPath, join(binDir, "bun"));
    env = imageEnv(binDir);
    context = buildContext(ROOT, gitFiles, readFileSync(join(ROOT, ".dockerignore"), "utf8"));
    const opts = {
      context,
      rootDir: join(tmp, "stages"),
      env,
      unrunnable: ["mkdir -p /data && chown bun:bun /data"],
    };
    for (const name of ["build", "deps", "app"]) await buildStage(stage(name), built, opts);
  }, 120_000);

  afterAll(async () => {
    for (const c of children) await c.stop("SIGTERM", 15_000);
    for (const cleanup of cleanups) await cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }, 30_000);

  test("ran every RUN line of the build stages verbatim: lockfile install, dashboard build, production install", () => {
    const runs = (name: string) =>
      stage(name)
        .instructions.filter((i) => i.op === "RUN")
        .map((i) => i.args);
    expect(built.get("build")?.ran).toEqual(runs("build"));
    expect(built.get("deps")?.ran).toEqual(runs("deps"));
    expect(runs("build").join("\n")).toContain("bun install --frozen-lockfile");
    expect(runs("build").join("\n")).toContain("run build:web");
    // The runtime stage's one RUN line only prepares /data for the user; it is listed, not run.
    expect(built.get("app")?.skipped).toEqual(runs("app"));
  });

  test("ships the dashboard as the full checkout builds it, production dependencies only, and no test files", async () => {
    const app = built.get("app") as BuiltStage;
    const dir = join(app.root, app.workdir);
    // Vite's output is deterministic: a missing build input (tsconfig's decorator settings, say) shows.
    const ref = join(tmp, "reference-dist");
    const vite = Bun.spawn(
      [
        "bun",
        "--bun",
        join(ROOT, "node_modules/.bin/vite"),
        "build",
        "web",
        "--outDir",
        ref,
        "--emptyOutDir",
        "--logLevel",
        "warn",
      ],
      { cwd: ROOT, env, stdout: "ignore", stderr: "pipe" },
    );
    expect(await vite.exited).toBe(0);
    expect(tree(join(dir, "web/dist"))).toEqual(tree(ref));
    for (const dev of ["vite", "@biomejs/biome", "playwright-core", "fast-check", "mitata", "bun"])
      expect({ dev, shipped: existsSync(join(dir, "node_modules", dev)) }).toEqual({ dev, shipped: false });
    expect(existsSync(join(dir, "node_modules/elysia/package.json"))).toBe(true);
    const source = ["runtime", "actors", "sim"].flatMap((d) => files(join(dir, d)).map((f) => `${d}/${f}`));
    expect(source.length).toBeGreaterThan(50);
    expect(source.filter((f) => /\.test\.ts$|fixture|test-support|test-receiver/.test(f))).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual([
      "actors",
      "node_modules",
      "package.json",
      "runtime",
      "sim",
      "tsconfig.json",
      "web",
    ]);
  });

  test("the app stage runs as a non-root user and serves /health and the dashboard", async () => {
    const app = built.get("app") as BuiltStage;
    expect(app.user).toBe("bun");
    expect(app.env).toMatchObject({ HOMEIQ_DATA_DIR: "/data", HOMEIQ_PORT: "8787", HOMEIQ_HOST: "0.0.0.0" });
    const data = mkdtempSync(join(tmp, "data-"));
    const child = start(app, app.cmd, { HOMEIQ_DATA_DIR: data, ...quiet });
    const base = await dashboardUrl(child);
    await expectServing(base, join(app.root, app.workdir));
    expect(await child.stop("SIGTERM", 15_000)).toBe(0);
  }, 60_000);

  test.skipIf(process.getuid?.() !== 0)(
    "the add-on starts as root, hands /data to the user and runs HomeIQ as that user, never as root",
    async () => {
      const app = built.get("app") as BuiltStage;
      const addonStage = await buildStage(stage("addon"), built, {
        context,
        rootDir: join(tmp, "stages"),
        env,
      });
      expect(addonStage.user).toBe("root");
      expect(addonStage.cmd).toEqual(["/run.sh"]);
      const nobody = 65534;
      const data = mkdtempSync(join(tmp, "addon-data-"));
      const apiToken = "an-api-token-from-the-options";
      writeFileSync(
        join(data, "options.json"),
        JSON.stringify({ log_level: "warn", enrichers: false, api_token: apiToken }),
      );
      // Left by an earlier, root-run version; and a symlink that must not redirect the ownership change.
      mkdirSync(join(data, "backups"));
      writeFileSync(join(data, "backups/old.tar"), "x");
      const outside = join(tmp, "outside");
      writeFileSync(outside, "root's");
      symlinkSync(outside, join(data, "link"));
      // Home Assistant, played on loopback by the simulator, takes only the Supervisor's token.
      const ha = await startSimulator({
        hostname: "127.0.0.1",
        port: 0,
        entities: 20,
        rate: 20,
        token: "sv-token",
      });
      cleanups.push(() => ha.stop());
      const child = start(addonStage, addonStage.cmd, {
        ADDON_DATA_DIR: data,
        ADDON_USER: "nobody",
        SUPERVISOR_TOKEN: ha.token,
        HOMEIQ_HA_URL: ha.url,
        // The Supervisor's address, played by 127.0.0.2 (loopback too); direct requests come from 127.0.0.1.
        HOMEIQ_API_INGRESS_FROM: "127.0.0.2",
        HOMEIQ_API_INGRESS_PORT: "0",
      });
      const base = await dashboardUrl(child);
      expect(await child.waitForLine(/^HomeIQ dashboard: /, 1000)).toEndWith("(API token: HOMEIQ_API_TOKEN)");
      // The live session, and while it runs the history import's own short-lived one.
      await waitFor(() => ha.stats().clients >= 1, { timeoutMs: 20_000, what: "HomeIQ to sign in to HA" });
      expect(ha.stats().authFailures).toBe(0);
      const api = await fetch(`${base}/api/v1/entities?limit=1`, {
        headers: { authorization: `Bearer ${apiToken}` },
      });
      expect(api.status).toBe(200);
      // Ingress: the Supervisor's peer needs no token on the ingress port; anyone else is refused there.
      const ingressLine = await child.waitForLine(/^HomeIQ ingress: /, 1000);
      const ingress = /http:\/\/\S+?(?=\/\s)/.exec(ingressLine)?.[0] ?? "";
      expect((await getFrom(`${ingress}/api/v1/entities?limit=1`, "127.0.0.2")).status).toBe(200);
      expect((await getFrom(`${ingress}/api/v1/entities?limit=1`, "127.0.0.1")).status).toBe(403);
      expect((await getFrom(`${base}/api/v1/entities?limit=1`, "127.0.0.2")).status).toBe(401);
      const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(
        readFileSync(`/proc/${child.proc.pid}/status`, "utf8"),
      );
      expect(uids?.slice(1).map(Number)).toEqual([nobody, nobody, nobody, nobody]);
      for (const f of ["backups/old.tar", "events.db", "metadata.db"])
        expect({ f, uid: statSync(join(data, f)).uid }).toEqual({ f, uid: nobody });
      expect(lstatSync(join(data, "link")).uid).toBe(nobody);
      expect(statSync(outside).uid).toBe(0);
      await expectServing(base, join(app.root, app.workdir));
      expect(await child.stop("SIGTERM", 15_000)).toBe(0);
      // A cold backup copies /data file by file after this stop: everything must be in the .db files
      // (WAL checkpointed and gone or empty), and each copy must open whole on its own.
      const copy = mkdtempSync(join(tmp, "cold-copy-"));
      for (const f of readdirSync(data).filter((f) => /\.db(-wal|-shm)?$/.test(f))) {
        if (f.endsWith("-wal")) expect({ f, bytes: statSync(join(data, f)).size }).toEqual({ f, bytes: 0 });
        if (f.endsWith(".db")) writeFileSync(join(copy, f), readFileSync(join(data, f)));
      }
      for (const f of ["events.db", "metadata.db"]) {
        const db = new Database(join(copy, f), { readonly: true });
        expect({
          f,
          check: (db.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check,
        }).toEqual({ f, check: "ok" });
        db.close();
      }
    },
    60_000,
  );

  /** Test-only settings: a free port on loopback, no outside enrichment calls. */
  const quiet = {
    HOMEIQ_ENRICHERS_WEATHER: "false",
    HOMEIQ_ENRICHERS_AIR_QUALITY: "false",
    HOMEIQ_ENRICHERS_CARBON: "false",
    HOMEIQ_ENRICHERS_PRICES: "false",
    HOMEIQ_LOG_LEVEL: "warn",
  };

  /** Starts `cmd` as the container would: in the stage's WORKDIR, with its ENV; absolute paths in its tree. */
  function start(s: BuiltStage, cmd: string[], extra: Record<string, string>): Child {
    const argv = cmd.map((a, i) => (i === 0 && a.startsWith("/") ? join(s.root, a) : a));
    const child = spawnChild(["sh", "-c", 'cd "$0" && exec "$@"', join(s.root, s.workdir), ...argv], {
      ...env,
      ...s.env,
      HOMEIQ_PORT: "0",
      HOMEIQ_HOST: "127.0.0.1",
      ...extra,
    });
    children.push(child);
    return child;
  }
});

/** A GET from a chosen local address (fetch cannot bind its socket), answered with the status. */
function getFrom(url: string, from: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress: from }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function dashboardUrl(child: Child): Promise<string> {
  const line = await child.waitForLine(/^HomeIQ dashboard: /, 45_000);
  return /http:\/\/\S+?(?=\/\s)/.exec(line)?.[0] ?? "";
}

/** /health answers, and / serves the built dashboard with the script it names. */
async function expectServing(base: string, appDir: string): Promise<void> {
  const health = await fetch(`${base}/health`);
  expect(health.status).toBe(200);
  const html = await (await fetch(`${base}/`)).text();
  expect(html).toBe(readFileSync(join(appDir, "web/dist/index.html"), "utf8"));
  const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1] ?? "";
  const js = await fetch(`${base}/${script}`);
  expect({ script, status: js.status }).toEqual({ script, status: 200 });
}

/**
 * Python's `PurePath(path).match(pattern)`, which the Supervisor applies to each file's full path for
 * backup_exclude: a relative pattern matches from the right, component by component, fnmatch-style.
 */
function pathMatch(path: string, pattern: string): boolean {
  const parts = path.split("/").filter(Boolean);
  const pats = pattern.split("/").filter(Boolean);
  if (pats.length > parts.length) return false;
  const glob = (p: string) =>
    new RegExp(
      `^${p
        .replace(/[.+^${}()|\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".")}$`,
    );
  return pats.every((p, i) => glob(p).test(parts[parts.length - pats.length + i] ?? ""));
}

function files(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

function tree(dir: string): Record<string, string> {
  return Object.fromEntries(files(dir).map((f) => [f, Bun.hash(readFileSync(join(dir, f))).toString(16)]));
}
