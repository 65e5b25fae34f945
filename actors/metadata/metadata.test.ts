import { describe, expect, test } from "bun:test";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { MetadataWriter, openMetadataDb } from "./db.ts";
import { mapAreas, mapDevices, mapEntities } from "./logic.ts";
import { MetadataQueryError, openMetadataReader, readHaTimeZone } from "./reader.ts";

const tempDir = tempDirs("homeiq-meta-");

function setup() {
  const dir = tempDir();
  const writer = new MetadataWriter(openMetadataDb(dir));
  writer.areas(
    mapAreas([
      { area_id: "kitchen", name: "Kitchen" },
      { area_id: "office", name: "Office" },
    ]).rows,
  );
  writer.devices(
    mapDevices([
      { id: "d1", name: "Plug", area_id: "kitchen", manufacturer: "Shelly", model: "Plug S" },
      { id: "d2", name: "Sensor", name_by_user: "Desk sensor", area_id: "office", manufacturer: "Aqara" },
      { id: "d3", name: "Bulb", area_id: null },
    ]).rows,
  );
  const entities = [
    { entity_id: "switch.plug", device_id: "d1", original_name: "Plug" },
    { entity_id: "sensor.plug_power", device_id: "d1", original_name: "Plug power" },
    { entity_id: "sensor.desk_temperature", device_id: "d2", name: "Desk temperature" },
    { entity_id: "light.bulb", device_id: "d3", area_id: "office", disabled_by: "user" },
    { entity_id: "sensor.outside", device_id: null },
  ];
  writer.entities(mapEntities(entities).rows);
  const reader = openMetadataReader(dir);
  return { dir, writer, reader, entities };
}

describe("metadata reader", () => {
  test("pages entities in id order with a cursor until nextCursor is null; total ignores paging", () => {
    const { reader, writer } = setup();
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = reader.entities({ limit: 2, cursor });
      expect(page.total).toBe(5);
      seen.push(...page.items.map((e) => e.entity_id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual([
      "light.bulb",
      "sensor.desk_temperature",
      "sensor.outside",
      "sensor.plug_power",
      "switch.plug",
    ]);
    reader.close();
    writer.close();
  });

  test("filters entities by domain, area (own or the device's) and text", () => {
    const { reader } = setup();
    expect(reader.entities({ domain: "sensor", limit: 10 }).items.map((e) => e.entity_id)).toEqual([
      "sensor.desk_temperature",
      "sensor.outside",
      "sensor.plug_power",
    ]);
    const office = reader.entities({ area: "office", limit: 10 });
    expect(office.items.map((e) => [e.entity_id, e.area_name])).toEqual([
      ["light.bulb", "Office"],
      ["sensor.desk_temperature", "Office"],
    ]);
    expect(office.items[0].disabled).toBe(true);
    expect(reader.entities({ q: "plug", limit: 10 }).total).toBe(2);
    expect(reader.entities({ q: "100%_", limit: 10 }).total).toBe(0);
    reader.close();
  });

  test("lists devices by name with entity counts, areas with counts", () => {
    const { reader } = setup();
    const devices = reader.devices({ limit: 2 });
    expect(devices.items.map((d) => [d.name, d.entity_count])).toEqual([
      ["Bulb", 1],
      ["Desk sensor", 1],
    ]);
    expect(reader.devices({ limit: 2, cursor: devices.nextCursor! }).items.map((d) => d.name)).toEqual([
      "Plug",
    ]);
    expect(reader.devices({ q: "shelly", limit: 5 }).items.map((d) => d.id)).toEqual(["d1"]);
    expect(reader.devices({ area: "office", limit: 5 }).total).toBe(1);
    expect(reader.areas()).toEqual([
      { area_id: "kitchen", name: "Kitchen", device_count: 1, entity_count: 2 },
      { area_id: "office", name: "Office", device_count: 1, entity_count: 2 },
    ]);
    reader.close();
  });

  test("bad limits and forged cursors are precise errors", () => {
    const { reader } = setup();
    expect(() => reader.entities({ limit: 0 })).toThrow(MetadataQueryError);
    expect(() => reader.entities({ limit: 0 })).toThrow(
      "limit must be a whole number between 1 and 10000, got 0",
    );
    expect(() => reader.devices({ limit: 5, cursor: "bogus" })).toThrow("is not one this API issued");
    reader.close();
  });

  test("renames keep history joined: aliases chain, resolve, survive a re-listed registry and are idempotent", () => {
    const { reader, writer, entities } = setup();
    writer.rename("sensor.outside", "sensor.garden", 1);
    writer.rename("sensor.outside", "sensor.garden", 1); // redelivered
    writer.rename("sensor.garden", "sensor.garden_temperature", 2);
    expect(reader.entity("sensor.outside")?.entity_id).toBe("sensor.garden_temperature");
    expect(reader.entity("sensor.garden_temperature")?.aliases).toEqual(["sensor.outside", "sensor.garden"]);
    // HA's list after the renames no longer has the old ids.
    const relisted = entities.map((e) =>
      e.entity_id === "sensor.outside" ? { ...e, entity_id: "sensor.garden_temperature" } : e,
    );
    writer.entities(mapEntities(relisted).rows);
    expect(reader.aliasesOf("sensor.garden_temperature")).toEqual(["sensor.outside", "sensor.garden"]);
    // Renamed back to its first name: that id is current again, not an alias.
    writer.rename("sensor.garden_temperature", "sensor.outside", 3);
    expect(reader.resolve("sensor.outside")).toBe("sensor.outside");
    expect(reader.aliasesOf("sensor.outside").sort()).toEqual(["sensor.garden", "sensor.garden_temperature"]);
    reader.close();
  });

  test("registry rows without their key are skipped with a reason; HA config round-trips", () => {
    const r = mapEntities([{ entity_id: "nodot" }, { entity_id: "sensor.ok" }]);
    expect(r.rows.map((x) => x.entity_id)).toEqual(["sensor.ok"]);
    expect(r.skipped).toEqual(['entity_registry row 0: entity_id must be "domain.object_id"']);
    const { reader, writer } = setup();
    writer.haConfig({ latitude: 1.5, unit_system: { temperature: "°C" } });
    expect(reader.haConfig()).toEqual({ latitude: 1.5, unit_system: { temperature: "°C" } });
    reader.close();
  });

  test("readHaTimeZone gives HA's time_zone once get_config is recorded, undefined before", () => {
    const { reader, writer, dir } = setup();
    expect(readHaTimeZone(dir)).toBeUndefined();
    writer.haConfig({ time_zone: "Australia/Adelaide", latitude: 1 });
    expect(readHaTimeZone(dir)).toBe("Australia/Adelaide");
    reader.close();
  });
});
