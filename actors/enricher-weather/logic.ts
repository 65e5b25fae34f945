/**
 * Open-Meteo forecast API, current conditions.
 * Request: `GET {base}/v1/forecast?latitude=..&longitude=..&current=temperature_2m,...&timeformat=unixtime`.
 * Response (documented): `{latitude, longitude, utc_offset_seconds, current_units: {...},
 * current: {time: <unix s>, interval: <s>, temperature_2m: 21.3, ...}}`; a variable may be null when the
 * model has no value, which yields no reading rather than an error.
 */
import { Type as T } from "@sinclair/typebox";
import { type EnricherSource, responseValidator } from "../enrichers/source.ts";

/** API variable -> our metric name (unit in the name: the series carries no unit column). */
export const WEATHER_METRICS = {
  temperature_2m: "temperature_c",
  relative_humidity_2m: "humidity_pct",
  cloud_cover: "cloud_cover_pct",
  precipitation: "precipitation_mm",
  wind_speed_10m: "wind_speed_kmh",
  shortwave_radiation: "solar_radiation_wm2",
} as const;

const value = T.Union([T.Number(), T.Null()]);
const WeatherResponse = responseValidator(
  T.Object({
    latitude: T.Number(),
    longitude: T.Number(),
    current: T.Object({
      time: T.Integer(),
      interval: T.Optional(T.Integer()),
      temperature_2m: value,
      relative_humidity_2m: value,
      cloud_cover: value,
      precipitation: value,
      wind_speed_10m: value,
      shortwave_radiation: value,
    }),
  }),
);

export const weatherSource: EnricherSource = {
  name: "weather",
  needsLocation: true,
  settings: (c) => ({
    baseUrl: c.enrichers.weatherUrl,
    pollMs: c.enrichers.weatherPollMs,
    ttlMs: c.enrichers.weatherTtlMs,
  }),
  request: (c, loc) => {
    const q = new URLSearchParams({
      latitude: String(loc!.latitude),
      longitude: String(loc!.longitude),
      current: Object.keys(WEATHER_METRICS).join(","),
      timeformat: "unixtime",
      timezone: "GMT",
      wind_speed_unit: "kmh",
    });
    return `${c.enrichers.weatherUrl.replace(/\/+$/, "")}/v1/forecast?${q}`;
  },
  parse: (json) => {
    const checked = WeatherResponse(json);
    if (!checked.ok) return checked;
    const cur = checked.value.current;
    const ts = cur.time * 1000;
    const readings = [];
    for (const [variable, metric] of Object.entries(WEATHER_METRICS)) {
      const v = cur[variable as keyof typeof WEATHER_METRICS];
      if (v !== null) readings.push({ metric, ts, value: v });
    }
    return { ok: true, readings };
  },
};
