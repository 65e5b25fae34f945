/**
 * Open-Meteo forecast API, current conditions.
 * Request: `GET {base}/v1/forecast?latitude=..&longitude=..&current=temperature_2m,...&timeformat=unixtime`.
 * Response (documented): `{latitude, longitude, utc_offset_seconds, current_units: {...},
 * current: {time: <unix s>, interval: <s>, temperature_2m: 21.3, ...}}`; a variable may be null when the
 * model has no value, which yields no reading rather than an error.
 */
import { openMeteoCurrentParser, openMeteoCurrentUrl } from "../open-meteo.ts";
import type { EnricherSource } from "../source.ts";

/** API variable -> our metric name (unit in the name: the series carries no unit column). */
export const WEATHER_METRICS = {
  temperature_2m: "temperature_c",
  relative_humidity_2m: "humidity_pct",
  cloud_cover: "cloud_cover_pct",
  precipitation: "precipitation_mm",
  wind_speed_10m: "wind_speed_kmh",
  shortwave_radiation: "solar_radiation_wm2",
} as const;

export const weatherSource: EnricherSource = {
  name: "weather",
  needsLocation: true,
  settings: (c) => ({
    baseUrl: c.enrichers.weatherUrl,
    pollMs: c.enrichers.weatherPollMs,
    ttlMs: c.enrichers.weatherTtlMs,
  }),
  request: (c, loc) =>
    openMeteoCurrentUrl(c.enrichers.weatherUrl, "/v1/forecast", loc!, WEATHER_METRICS, {
      wind_speed_unit: "kmh",
    }),
  parse: openMeteoCurrentParser(WEATHER_METRICS),
};
