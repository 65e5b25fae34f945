import { describe, expect, test } from "bun:test";
import { defaultFixtureData, weatherBody } from "../../../test/support/enricher-apis.ts";
import { fixtureConfig } from "../../../test/support/enricher-config.ts";
import { weatherSource } from "./weather.ts";

describe("weather source (Open-Meteo forecast)", () => {
  test("asks for the current variables at the home's location in unix time", () => {
    const url = new URL(
      weatherSource.request(fixtureConfig("http://x/"), { latitude: 52.52, longitude: 13.41 }, 0),
    );
    expect(url.pathname).toBe("/v1/forecast");
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      latitude: "52.52",
      longitude: "13.41",
      current:
        "temperature_2m,relative_humidity_2m,cloud_cover,precipitation,wind_speed_10m,shortwave_radiation",
      timeformat: "unixtime",
    });
  });

  test("turns the documented response into readings at current.time; a null variable yields none", () => {
    const result = weatherSource.parse(weatherBody(defaultFixtureData()), 0);
    const ts = 1_764_000_000_000;
    expect(result).toEqual({
      ok: true,
      readings: [
        { metric: "temperature_c", ts, value: 7.4 },
        { metric: "humidity_pct", ts, value: 71 },
        { metric: "cloud_cover_pct", ts, value: 100 },
        { metric: "precipitation_mm", ts, value: 0.1 },
        { metric: "wind_speed_kmh", ts, value: 12.6 },
      ],
    });
  });

  test("a changed schema names the field that differs", () => {
    const body = weatherBody(defaultFixtureData());
    (body.current as Record<string, unknown>).temperature_2m = "7.4";
    expect(weatherSource.parse(body, 0)).toEqual({
      ok: false,
      detail: 'field /current/temperature_2m: Expected union value, got "7.4"',
    });
    expect(weatherSource.parse({ hourly: {} }, 0)).toMatchObject({
      ok: false,
      detail: expect.stringContaining("/latitude"),
    });
  });
});
