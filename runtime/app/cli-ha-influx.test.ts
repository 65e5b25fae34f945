/**
 * `homeiq import --from ha-influxdb` end to end: each fixture into a fresh data dir through the real CLI,
 * the stored events read back (entity ids, states, times exact to the µs, attributes), and a second run
 * that stores nothing and counts every change as already stored.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { TEST_TOKEN, testApi } from "../../test/support/api.ts";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import type { OpsHooks } from "../api/deps.ts";
import { writerTarget } from "../ops/import-stream.ts";
import { openStoreReader, type StoredEvent } from "../store/reader.ts";
import { openStoreWriter, type StoreWriter } from "../store/writer.ts";

const CLI = new URL("./cli.ts", import.meta.url).pathname;
const FIXTURES = new URL("../../test/support/ops/", import.meta.url).pathname;
const tempDir = tempDirs("homeiq-cli-ha-influx-");

async function homeiq(args: string[]) {
  const proc = Bun.spawn(["bun", CLI, ...args], {
    env: { PATH: process.env.PATH ?? "" },
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

function stored(dataDir: string): StoredEvent[] {
  const reader = openStoreReader(dataDir);
  try {
    return reader.events({ limit: 5000 }).items;
  } finally {
    reader.close();
  }
}

const at = (events: StoredEvent[], entity: string, us: number) => {
  const e = events.find((x) => x.entity_id === entity && Math.round(x.ts * 1000) === us);
  return (
    e && { state: e.state, attributes: e.attributes, last_changed_us: Math.round(e.last_changed * 1000) }
  );
};

describe("homeiq import --from ha-influxdb", () => {
  test.each([
    ["ha-influxdb.lp", 318, 312, 0],
    ["ha-influxdb-export.lp", 1125, 312, 7],
  ])(
    "%s: HA's history stored to the µs, skips listed with line numbers, a re-import all duplicates",
    async (file, lines, changes, ignored) => {
      const data = join(tempDir(), "data");
      const first = await homeiq([
        "import",
        "--from",
        "ha-influxdb",
        join(FIXTURES, file),
        "--data-dir",
        data,
      ]);
      expect(first.code).toBe(0);
      expect(first.stdout).toContain(
        `${lines} lines: ${lines - 6 - ignored} mapped, 6 skipped, ${ignored} ignored`,
      );
      expect(first.stdout).toContain(
        `${changes} state changes of 13 entities (13 new): ${changes} stored, 0 already stored`,
      );
      expect(first.stdout).toContain(
        "skipped by reason: syntax 1, no-entity 1, bad-entity-id 1, no-timestamp 1, future 1, no-state 1",
      );
      expect(first.stdout).toContain(
        `line ${lines - 5}: syntax: field friendly_name_str: unterminated string`,
      );
      const events = stored(data);
      expect(events).toHaveLength(changes);
      expect(new Set(events.map((e) => e.entity_id))).toEqual(
        new Set([
          "sensor.living_temperature",
          "sensor.kitchen_power",
          "sensor.energy_total",
          "binary_sensor.front_door",
          "light.hall",
          "person.anna",
          "sensor.weather_condition",
          "input_text.note",
          "sensor.wifi_ssid",
          "sensor.bath_humidity",
          "switch.heater",
          "sensor.pm25",
        ]),
      );
      expect(at(events, "sensor.living_temperature", 1_793_512_800_123_456)).toEqual({
        state: "21.8",
        attributes: {
          device_class: "temperature",
          friendly_name: "Living room temperature",
          state_class: "measurement",
          unit_of_measurement: "°C",
        },
        last_changed_us: 1_793_512_800_123_456,
      });
      expect(at(events, "sensor.energy_total", 1_793_512_862_125_690)).toMatchObject({ state: "1234017.25" });
      expect(at(events, "input_text.note", 1_793_512_807_131_275)).toEqual({
        state: "hello world, again #0",
        attributes: { friendly_name: "Note", max: 100, min: 0, mode: "text", pattern: "None" },
        last_changed_us: 1_793_512_807_131_275,
      });
      // Attribute-only updates keep last_changed where the state last changed.
      expect(at(events, "sensor.wifi_ssid", 1_793_515_688_132_392)).toEqual({
        state: "Room 22",
        attributes: { band: "5 GHz", channel: "Ch 36", friendly_name: "Wifi SSID" },
        last_changed_us: 1_793_512_808_132_392,
      });
      expect(readdirSync(data).filter((f) => f.includes("staging"))).toEqual([]);

      const again = await homeiq([
        "import",
        "--from",
        "ha-influxdb",
        join(FIXTURES, file),
        "--data-dir",
        data,
      ]);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain(
        `${changes} state changes of 13 entities (1 new): 0 stored, ${changes} already stored`,
      );
      expect(stored(data)).toHaveLength(changes);
    },
  );

  test("node-red.lp: both flows' shapes are stored; an unknown --from is bad usage", async () => {
    const data = join(tempDir(), "data");
    const r = await homeiq([
      "import",
      "--from",
      "ha-influxdb",
      join(FIXTURES, "node-red.lp"),
      "--data-dir",
      data,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("402 state changes of 6 entities (6 new): 402 stored, 0 already stored");
    expect(r.stdout).toContain("homeassistant (name, 150), ha_states (name, 50)");
    const events = stored(data);
    expect(at(events, "sensor.garage_temperature", 1_793_512_830_123_456)).toMatchObject({ state: "8.1" });
    expect(at(events, "light.kitchen", 1_793_512_980_123_456)).toEqual({
      state: "on",
      attributes: { brightness: 106, friendly_name: 'Kitchen\\Island "main"' },
      last_changed_us: 1_793_512_980_123_456,
    });
    const bad = await homeiq([
      "import",
      "--from",
      "grafana",
      join(FIXTURES, "node-red.lp"),
      "--data-dir",
      data,
    ]);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining("--from grafana is unknown") });
  });

  test("--url: the import goes through a running HomeIQ's API and the CLI prints its report", async () => {
    // The hooks are read when the app is made; the store writer opens on first use, over its data dir.
    let writer: StoreWriter | undefined;
    const target = () => {
      writer ??= openStoreWriter(dataDir, { dictionaryCache: 100 });
      return writerTarget(writer, 60_000);
    };
    const api = testApi({
      store: "sqlite",
      ops: {
        backups: {} as OpsHooks["backups"],
        backupDir: "",
        importCheck: (ids) => target().check(ids),
        importEvents: (events) => target().write(events),
        crash: () => false,
      },
    });
    const dataDir = api.dataDir!;
    (api.deps.config as { dataDir: string }).dataDir = dataDir;
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => api.app.handle(req) });
    try {
      const url = `http://127.0.0.1:${server.port}`;
      const args = ["import", "--from", "ha-influxdb", join(FIXTURES, "ha-influxdb.lp"), "--url", url];
      const r = await homeiq([...args, "--token", TEST_TOKEN, "--data-dir", tempDir()]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toContain(`imported through ${url}: 318 lines: 312 mapped, 6 skipped`);
      expect(r.stdout).toContain("312 state changes of 13 entities (13 new): 312 stored, 0 already stored");
      expect(stored(dataDir)).toHaveLength(312);
      const refused = await homeiq([...args, "--token", "wrong", "--data-dir", tempDir()]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("answered 401");
    } finally {
      server.stop(true);
      writer?.close();
      api.close();
    }
  });
});
