/**
 * What one external API contributes: how to build its request and how to turn its documented response into
 * readings. Everything else (schedule, cache, breaker, logging, edges) is shared. Adding a source means a
 * file `actors/enricher/sources/<name>.ts` that exports an `EnricherSource`, and one line in
 * actors/enricher/sources/index.ts (with its switch in the config schema).
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { HomeIQConfig } from "../../runtime/config/schema.ts";

/** One value of one metric at one time (ms since the epoch); a point of the series `enrichment_<source>`. */
export interface Reading {
  metric: string;
  ts: number;
  value: number;
}

export interface Location {
  latitude: number;
  longitude: number;
}

export interface SourceSettings {
  baseUrl: string;
  pollMs: number;
  ttlMs: number;
}

export type ParseResult = { ok: true; readings: Reading[] } | { ok: false; detail: string };

export interface EnricherSource {
  /** Short name: the actor is `enricher-<name>`, the series `enrichment_<name>`. */
  readonly name: string;
  /** Whether requests need the home's location (weather does; UK carbon intensity is by region). */
  readonly needsLocation: boolean;
  settings(config: HomeIQConfig): SourceSettings;
  /** The request URL for a location (undefined when the source needs none) at time `now`. */
  request(config: HomeIQConfig, location: Location | undefined, now: number): string;
  /** Validates the documented response shape and turns it into readings. */
  parse(json: unknown, now: number): ParseResult;
}

/** Responses for one location share a cache entry; sources without a location use one entry. */
export function cacheKey(location: Location | undefined): string {
  return location ? `${location.latitude.toFixed(4)},${location.longitude.toFixed(4)}` : "*";
}

/**
 * A compiled validator for a documented response shape. On a mismatch it names the first field that
 * differs, e.g. `field /current/temperature_2m: Expected number, got "n/a"`.
 */
export function responseValidator<S extends TSchema>(
  schema: S,
): (json: unknown) => { ok: true; value: Static<S> } | { ok: false; detail: string } {
  const compiled = TypeCompiler.Compile(schema);
  return (json) => {
    if (compiled.Check(json)) return { ok: true, value: json as Static<S> };
    const first = compiled.Errors(json).First();
    const field = first?.path || "/";
    const got = first ? show(first.value) : show(json);
    return { ok: false, detail: `field ${field}: ${first?.message ?? "does not match"}, got ${got}` };
  };
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text && text.length > 60 ? `${text.slice(0, 57)}...` : String(text);
}
