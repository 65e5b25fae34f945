/**
 * What the Open-Meteo APIs (forecast, air quality) share: a `current=` request by location, and a
 * response `{latitude, longitude, current: {time: <unix s>, interval?, <variable>: number | null}}` whose
 * variables become readings (a null value yields no reading rather than an error).
 */
import { Type as T, type TSchema } from "@sinclair/typebox";
import { type Location, type ParseResult, responseValidator } from "./source.ts";

/** The request URL for the current values of `metrics`' API variables at a location. */
export function openMeteoCurrentUrl(
  baseUrl: string,
  path: string,
  location: Location,
  metrics: Readonly<Record<string, string>>,
  extra: Record<string, string> = {},
): string {
  const q = new URLSearchParams({
    latitude: String(location.latitude),
    longitude: String(location.longitude),
    current: Object.keys(metrics).join(","),
    timeformat: "unixtime",
    timezone: "GMT",
    ...extra,
  });
  return `${baseUrl.replace(/\/+$/, "")}${path}?${q}`;
}

/** A parser for the `current` block: API variable -> metric name, per `metrics`. */
export function openMeteoCurrentParser(
  metrics: Readonly<Record<string, string>>,
): (json: unknown) => ParseResult {
  const value = T.Union([T.Number(), T.Null()]);
  const variables: Record<string, TSchema> = {};
  for (const variable of Object.keys(metrics)) variables[variable] = value;
  const validate = responseValidator(
    T.Object({
      latitude: T.Number(),
      longitude: T.Number(),
      current: T.Object({ time: T.Integer(), interval: T.Optional(T.Integer()), ...variables }),
    }),
  );
  return (json) => {
    const checked = validate(json);
    if (!checked.ok) return checked;
    const current = checked.value.current as Record<string, number | null> & { time: number };
    const ts = current.time * 1000;
    const readings = [];
    for (const [variable, metric] of Object.entries(metrics)) {
      const v = current[variable];
      if (v !== null) readings.push({ metric, ts, value: v });
    }
    return { ok: true, readings };
  };
}
