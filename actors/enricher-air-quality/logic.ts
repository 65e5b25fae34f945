/**
 * Open-Meteo air-quality API, current conditions.
 * Request: `GET {base}/v1/air-quality?latitude=..&longitude=..&current=european_aqi,...&timeformat=unixtime`.
 * Response (documented): `{latitude, longitude, current_units: {...}, current: {time: <unix s>,
 * interval: <s>, european_aqi: 23, pm2_5: 7.1, ...}}`; null values yield no reading.
 */
import { Type as T } from "@sinclair/typebox";
import { type EnricherSource, responseValidator } from "../enrichers/source.ts";

export const AIR_QUALITY_METRICS = {
  european_aqi: "european_aqi",
  us_aqi: "us_aqi",
  pm10: "pm10_ugm3",
  pm2_5: "pm2_5_ugm3",
  carbon_monoxide: "carbon_monoxide_ugm3",
  nitrogen_dioxide: "nitrogen_dioxide_ugm3",
  ozone: "ozone_ugm3",
} as const;

const value = T.Union([T.Number(), T.Null()]);
const AirQualityResponse = responseValidator(
  T.Object({
    latitude: T.Number(),
    longitude: T.Number(),
    current: T.Object({
      time: T.Integer(),
      interval: T.Optional(T.Integer()),
      european_aqi: value,
      us_aqi: value,
      pm10: value,
      pm2_5: value,
      carbon_monoxide: value,
      nitrogen_dioxide: value,
      ozone: value,
    }),
  }),
);

export const airQualitySource: EnricherSource = {
  name: "air-quality",
  needsLocation: true,
  settings: (c) => ({
    baseUrl: c.enrichers.airQualityUrl,
    pollMs: c.enrichers.airQualityPollMs,
    ttlMs: c.enrichers.airQualityTtlMs,
  }),
  request: (c, loc) => {
    const q = new URLSearchParams({
      latitude: String(loc!.latitude),
      longitude: String(loc!.longitude),
      current: Object.keys(AIR_QUALITY_METRICS).join(","),
      timeformat: "unixtime",
      timezone: "GMT",
    });
    return `${c.enrichers.airQualityUrl.replace(/\/+$/, "")}/v1/air-quality?${q}`;
  },
  parse: (json) => {
    const checked = AirQualityResponse(json);
    if (!checked.ok) return checked;
    const cur = checked.value.current;
    const ts = cur.time * 1000;
    const readings = [];
    for (const [variable, metric] of Object.entries(AIR_QUALITY_METRICS)) {
      const v = cur[variable as keyof typeof AIR_QUALITY_METRICS];
      if (v !== null) readings.push({ metric, ts, value: v });
    }
    return { ok: true, readings };
  },
};
