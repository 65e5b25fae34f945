import { describe, expect, test } from "bun:test";
import { defaultFixtureData, pricesBody } from "../../../test/support/enricher-apis.ts";
import { fixtureConfig } from "../../../test/support/enricher-config.ts";
import { pricesSource } from "./prices.ts";

describe("prices source (aWATTar day-ahead)", () => {
  test("asks for market data from the start of the current hour through 48 hours", () => {
    const now = Date.parse("2025-11-24T16:42:10Z");
    const start = Date.parse("2025-11-24T16:00:00Z");
    expect(pricesSource.request(fixtureConfig("http://x/"), undefined, now)).toBe(
      `http://x/v1/marketdata?start=${start}&end=${start + 48 * 3600_000}`,
    );
  });

  test("turns the documented response into hourly price readings, negative prices included", () => {
    const t = 1_764_000_000_000;
    expect(pricesSource.parse(pricesBody(defaultFixtureData()), 0)).toEqual({
      ok: true,
      readings: [
        { metric: "price_eur_mwh", ts: t, value: 92.5 },
        { metric: "price_eur_mwh", ts: t + 3600_000, value: 88.1 },
        { metric: "price_eur_mwh", ts: t + 7200_000, value: -3.2 },
      ],
    });
  });

  test("a different unit is a changed schema, not a silently wrong number", () => {
    const body = pricesBody(defaultFixtureData());
    (body.data[1] as { unit: string }).unit = "Eur/kWh";
    expect(pricesSource.parse(body, 0)).toEqual({
      ok: false,
      detail: `field /data/1/unit: Expected 'Eur/MWh', got "Eur/kWh"`,
    });
  });
});
