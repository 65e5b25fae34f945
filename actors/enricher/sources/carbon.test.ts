import { describe, expect, test } from "bun:test";
import { carbonBody, defaultFixtureData } from "../../../test/support/enricher-apis.ts";
import { fixtureConfig } from "../../../test/support/enricher-config.ts";
import { carbonSource } from "./carbon.ts";

describe("carbon source (UK Carbon Intensity, regional)", () => {
  test("asks for the configured region", () => {
    const config = fixtureConfig("http://x", { HOMEIQ_ENRICHERS_CARBON_REGION_ID: "9" });
    expect(carbonSource.request(config, undefined, 0)).toBe("http://x/regional/regionid/9");
  });

  test("turns the documented response into intensity, index and generation-mix readings", () => {
    const result = carbonSource.parse(carbonBody(defaultFixtureData()), 0);
    const ts = Date.parse("2025-11-24T16:00:00Z");
    expect(result).toEqual({
      ok: true,
      readings: [
        { metric: "intensity_gco2_kwh", ts, value: 182 },
        { metric: "intensity_index", ts, value: 2 },
        { metric: "mix_biomass_pct", ts, value: 5.1 },
        { metric: "mix_coal_pct", ts, value: 0 },
        { metric: "mix_gas_pct", ts, value: 38.2 },
        { metric: "mix_wind_pct", ts, value: 41.5 },
      ],
    });
  });

  test("an unknown index band or an unparseable time is a changed schema naming the field", () => {
    const body = carbonBody(defaultFixtureData());
    (body.data[0].data[0].intensity as { index: string }).index = "extreme";
    expect(carbonSource.parse(body, 0)).toMatchObject({
      ok: false,
      detail: expect.stringContaining("/data/0/data/0/intensity/index"),
    });
    const late = carbonBody(defaultFixtureData());
    late.data[0].data[0].from = "soon";
    expect(carbonSource.parse(late, 0)).toEqual({
      ok: false,
      detail: 'field /data/0/data/0/from: not an ISO time, got "soon"',
    });
  });
});
