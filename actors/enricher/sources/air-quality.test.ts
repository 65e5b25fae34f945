import { describe, expect, test } from "bun:test";
import { airQualityBody, defaultFixtureData } from "../../../test/support/enricher-apis.ts";
import { fixtureConfig } from "../../../test/support/enricher-config.ts";
import { airQualitySource } from "./air-quality.ts";

describe("air-quality source (Open-Meteo air quality)", () => {
  test("asks the air-quality endpoint for the current pollutants at the home's location", () => {
    const url = new URL(
      airQualitySource.request(fixtureConfig("http://x"), { latitude: 48.2, longitude: 16.37 }, 0),
    );
    expect(url.pathname).toBe("/v1/air-quality");
    expect(url.searchParams.get("current")).toBe(
      "european_aqi,us_aqi,pm10,pm2_5,carbon_monoxide,nitrogen_dioxide,ozone",
    );
    expect([url.searchParams.get("latitude"), url.searchParams.get("longitude")]).toEqual(["48.2", "16.37"]);
  });

  test("turns the documented response into one reading per pollutant", () => {
    const result = airQualitySource.parse(airQualityBody(defaultFixtureData()), 0);
    const ts = 1_764_000_000_000;
    expect(result).toEqual({
      ok: true,
      readings: [
        { metric: "european_aqi", ts, value: 23 },
        { metric: "us_aqi", ts, value: 42 },
        { metric: "pm10_ugm3", ts, value: 14.2 },
        { metric: "pm2_5_ugm3", ts, value: 9.8 },
        { metric: "carbon_monoxide_ugm3", ts, value: 187 },
        { metric: "nitrogen_dioxide_ugm3", ts, value: 11.4 },
        { metric: "ozone_ugm3", ts, value: 52 },
      ],
    });
  });

  test("a missing pollutant is a changed schema naming the field", () => {
    const body = airQualityBody(defaultFixtureData());
    delete (body.current as Record<string, unknown>).pm2_5;
    expect(airQualitySource.parse(body, 0)).toMatchObject({
      ok: false,
      detail: expect.stringContaining("/current/pm2_5"),
    });
  });
});
