/**
 * Open-Meteo air-quality API, current conditions.
 * Request: `GET {base}/v1/air-quality?latitude=..&longitude=..&current=european_aqi,...&timeformat=unixtime`.
 * Response (documented): `{latitude, longitude, current_units: {...}, current: {time: <unix s>,
 * interval: <s>, european_aqi: 23, pm2_5: 7.1, ...}}`; null values yield no reading.
 */
import { openMeteoCurrentParser, openMeteoCurrentUrl } from "../open-meteo.ts";
import type { EnricherSource } from "../source.ts";

export const AIR_QUALITY_METRICS = {
  european_aqi: "european_aqi",
  us_aqi: "us_aqi",
  pm10: "pm10_ugm3",
  pm2_5: "pm2_5_ugm3",
  carbon_monoxide: "carbon_monoxide_ugm3",
  nitrogen_dioxide: "nitrogen_dioxide_ugm3",
  ozone: "ozone_ugm3",
} as const;

export const airQualitySource: EnricherSource = {
  name: "air-quality",
  needsLocation: true,
  settings: (c) => ({
    baseUrl: c.enrichers.airQualityUrl,
    pollMs: c.enrichers.airQualityPollMs,
    ttlMs: c.enrichers.airQualityTtlMs,
  }),
  request: (c, loc) =>
    openMeteoCurrentUrl(c.enrichers.airQualityUrl, "/v1/air-quality", loc!, AIR_QUALITY_METRICS),
  parse: openMeteoCurrentParser(AIR_QUALITY_METRICS),
};
