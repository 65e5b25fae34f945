/**
 * UK National Grid ESO Carbon Intensity API, one region (regional figures are forecasts).
 * Request: `GET {base}/regional/regionid/{regionid}`.
 * Response (documented): `{data: [{regionid, dnoregion, shortname, data: [{from: "2023-09-02T16:00Z",
 * to, intensity: {forecast: 312, index: "very high"}, generationmix: [{fuel: "gas", perc: 76.4}, ...]}]}]}`.
 * Readings: `intensity_gco2_kwh`, `intensity_index` (0 very low .. 4 very high) and `mix_<fuel>_pct`,
 * stamped with the start (`from`) of each half-hour period.
 */
import { Type as T } from "@sinclair/typebox";
import { type EnricherSource, type Reading, responseValidator } from "../source.ts";

export const INTENSITY_INDEX = ["very low", "low", "moderate", "high", "very high"] as const;

const Period = T.Object({
  from: T.String(),
  to: T.String(),
  intensity: T.Object({
    forecast: T.Number(),
    index: T.Union(INTENSITY_INDEX.map((i) => T.Literal(i))),
  }),
  generationmix: T.Array(T.Object({ fuel: T.String({ pattern: "^[a-z_]+$" }), perc: T.Number() })),
});
const CarbonResponse = responseValidator(
  T.Object({
    data: T.Array(
      T.Object({
        regionid: T.Integer(),
        shortname: T.String(),
        data: T.Array(Period),
      }),
      { minItems: 1 },
    ),
  }),
);

export const carbonSource: EnricherSource = {
  name: "carbon",
  needsLocation: false,
  settings: (c) => ({
    baseUrl: c.enrichers.carbonUrl,
    pollMs: c.enrichers.carbonPollMs,
    ttlMs: c.enrichers.carbonTtlMs,
  }),
  request: (c) =>
    `${c.enrichers.carbonUrl.replace(/\/+$/, "")}/regional/regionid/${c.enrichers.carbonRegionId}`,
  parse: (json) => {
    const checked = CarbonResponse(json);
    if (!checked.ok) return checked;
    const readings: Reading[] = [];
    for (const [i, period] of checked.value.data[0].data.entries()) {
      const ts = Date.parse(period.from);
      if (!Number.isFinite(ts))
        return { ok: false, detail: `field /data/0/data/${i}/from: not an ISO time, got "${period.from}"` };
      readings.push({ metric: "intensity_gco2_kwh", ts, value: period.intensity.forecast });
      readings.push({
        metric: "intensity_index",
        ts,
        value: INTENSITY_INDEX.indexOf(period.intensity.index),
      });
      for (const mix of period.generationmix)
        readings.push({ metric: `mix_${mix.fuel}_pct`, ts, value: mix.perc });
    }
    return { ok: true, readings };
  },
};
