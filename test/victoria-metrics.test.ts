import { afterAll, describe, expect, test } from "bun:test";
import { startVictoriaMetrics, type VictoriaMetrics } from "./support/victoria-metrics.ts";

let vm: VictoriaMetrics | undefined;
afterAll(async () => vm?.destroy());

describe("victoria-metrics test server", () => {
  test("accepts InfluxDB v2 line protocol and gives the points back, across a restart", async () => {
    vm = await startVictoriaMetrics();
    const body = [
      "sensor,entity_id=sensor.a value=1 1700000000000000000",
      "sensor,entity_id=sensor.a value=2 1700000001000000000",
    ].join("\n");
    const r = await fetch(`${vm.url}/api/v2/write?org=o&bucket=b&precision=ns`, { method: "POST", body });
    expect(r.status).toBe(204);
    expect(await vm.countSamples('{__name__="sensor_value"}', { atLeast: 2 })).toBe(2);
    await vm.stop();
    await vm.start();
    expect(await vm.countSamples('{__name__="sensor_value"}')).toBe(2);
  });
});
