/**
 * aWATTar day-ahead market prices (EPEX Spot, DE by default; api.awattar.at for AT).
 * Request: `GET {base}/v1/marketdata?start=<ms>&end=<ms>`.
 * Response (documented): `{object: "list", data: [{start_timestamp: <ms>, end_timestamp: <ms>,
 * marketprice: 42.09, unit: "Eur/MWh"}, ...], url: "/de/v1/marketdata"}`. Prices can be negative.
 * Readings: `price_eur_mwh` at each interval's start, from the current hour through the published day ahead.
 */
import { Type as T } from "@sinclair/typebox";
import { type EnricherSource, responseValidator } from "../source.ts";

const HOUR = 3600_000;
/** How far ahead to ask: day-ahead prices for tomorrow are published around 13:00 CET. */
const HORIZON_MS = 48 * HOUR;

const PricesResponse = responseValidator(
  T.Object({
    object: T.Literal("list"),
    data: T.Array(
      T.Object({
        start_timestamp: T.Integer(),
        end_timestamp: T.Integer(),
        marketprice: T.Number(),
        unit: T.Literal("Eur/MWh"),
      }),
    ),
  }),
);

export const pricesSource: EnricherSource = {
  name: "prices",
  needsLocation: false,
  settings: (c) => ({
    baseUrl: c.enrichers.pricesUrl,
    pollMs: c.enrichers.pricesPollMs,
    ttlMs: c.enrichers.pricesTtlMs,
  }),
  request: (c, _loc, now) => {
    const start = Math.floor(now / HOUR) * HOUR;
    return `${c.enrichers.pricesUrl.replace(/\/+$/, "")}/v1/marketdata?start=${start}&end=${start + HORIZON_MS}`;
  },
  parse: (json) => {
    const checked = PricesResponse(json);
    if (!checked.ok) return checked;
    return {
      ok: true,
      readings: checked.value.data.map((d) => ({
        metric: "price_eur_mwh",
        ts: d.start_timestamp,
        value: d.marketprice,
      })),
    };
  },
};
