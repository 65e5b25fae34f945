import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { carbonBody, defaultFixtureData, pricesBody, weatherBody } from "../../test/support/enricher-apis.ts";
import { airQualitySource } from "./sources/air-quality.ts";
import { carbonSource } from "./sources/carbon.ts";
import { pricesSource } from "./sources/prices.ts";
import { WEATHER_METRICS, weatherSource } from "./sources/weather.ts";

const SOURCES = [weatherSource, airQualitySource, carbonSource, pricesSource];

describe("source parsers (properties)", () => {
  test("any JSON value is either parsed into finite readings or rejected with a field-naming reason; never a throw", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        for (const source of SOURCES) {
          const result = source.parse(json, 0);
          if (result.ok) {
            for (const r of result.readings)
              expect(Number.isFinite(r.ts) && Number.isFinite(r.value)).toBe(true);
          } else expect(result.detail).toMatch(/^field \//);
        }
      }),
      { numRuns: 500 },
    );
  });

  test("a documented document with any one field replaced by another JSON value never throws", () => {
    const docs = [weatherBody, carbonBody, pricesBody].map((f) => f(defaultFixtureData()) as unknown);
    const paths = (v: unknown, at: (string | number)[] = []): (string | number)[][] =>
      v !== null && typeof v === "object"
        ? Object.entries(v).flatMap(([k, c]) => [
            [...at, Array.isArray(v) ? Number(k) : k],
            ...paths(c, [...at, Array.isArray(v) ? Number(k) : k]),
          ])
        : [];
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.jsonValue(), (d, p, replacement) => {
        const doc = structuredClone(docs[d % docs.length]) as Record<string | number, unknown>;
        const all = paths(doc);
        const path = all[p % all.length];
        let cur = doc;
        for (const key of path.slice(0, -1)) cur = cur[key] as Record<string | number, unknown>;
        cur[path[path.length - 1]] = replacement;
        for (const source of SOURCES) expect(() => source.parse(doc, 0)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  test("weather: every non-null current variable becomes exactly one reading with its value", () => {
    const value = fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.array(value, { minLength: 6, maxLength: 6 }),
        (time, values) => {
          const body = weatherBody({ ...defaultFixtureData(), currentTime: time });
          const vars = Object.keys(WEATHER_METRICS);
          vars.forEach((v, i) => {
            (body.current as Record<string, unknown>)[v] = values[i];
          });
          const result = weatherSource.parse(body, 0);
          expect(result).toEqual({
            ok: true,
            readings: vars.flatMap((v, i) =>
              values[i] === null
                ? []
                : [
                    {
                      metric: WEATHER_METRICS[v as keyof typeof WEATHER_METRICS],
                      ts: time * 1000,
                      value: values[i],
                    },
                  ],
            ),
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
