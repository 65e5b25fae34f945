/**
 * The sources the enricher actor can run, one line each: the tree spawns the enricher module once per
 * source whose switch is on, with the source's name as its argument (actors/enricher/worker.ts).
 */
import type { HomeIQConfig } from "../../../runtime/config/schema.ts";
import type { EnricherSource } from "../source.ts";
import { airQualitySource } from "./air-quality.ts";
import { carbonSource } from "./carbon.ts";
import { pricesSource } from "./prices.ts";
import { weatherSource } from "./weather.ts";

export const SOURCES: readonly { source: EnricherSource; enabled: (c: HomeIQConfig) => boolean }[] = [
  { source: weatherSource, enabled: (c) => c.enrichers.weather },
  { source: airQualitySource, enabled: (c) => c.enrichers.airQuality },
  { source: carbonSource, enabled: (c) => c.enrichers.carbon },
  { source: pricesSource, enabled: (c) => c.enrichers.prices },
];

/** Each source's name and switch, in the order above (the API lists them so). */
export const ENRICHERS: [source: string, enabled: (c: HomeIQConfig) => boolean][] = SOURCES.map((s) => [
  s.source.name,
  s.enabled,
]);

/** The source named `name`, or an error that lists the known ones. */
export function sourceNamed(name: string | undefined): EnricherSource {
  const found = SOURCES.find((s) => s.source.name === name);
  if (found) return found.source;
  throw new Error(
    `enricher started with source ${JSON.stringify(name)}; expected one of ${SOURCES.map((s) => s.source.name).join(", ")}. Fix: give its child spec args: [<source>]`,
  );
}
