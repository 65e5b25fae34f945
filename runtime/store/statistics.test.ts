import { afterEach, describe, expect, test } from "bun:test";
import { tempDirs } from "../../test/support/temp-dirs.ts";
import { type StatisticHour, writeStatisticHours } from "./statistics.ts";
import { openStoreWriter, type StoreWriter } from "./writer.ts";

const tempDir = tempDirs("homeiq-stats-");
let store: StoreWriter | undefined;
afterEach(() => store?.close());

const DAY = 86400;
const D0 = 1_796_000_000 - (1_796_000_000 % DAY); // a UTC midnight, unix seconds
const hour = (t: number, mean: number): StatisticHour => ({
  entity_id: "sensor.t",
  t,
  mean,
  min: mean - 1,
  max: mean + 1,
  state: null,
  growth: 0,
});
const dayHours = (day: number, mean: number) =>
  Array.from({ length: 24 }, (_, h) => hour(day + h * 3600, mean));

function tiers(s: StoreWriter) {
  return {
    hourly: s.db.query("SELECT t, tw, tws, n FROM hourly ORDER BY t").all() as { t: number; tw: number }[],
    daily: s.db.query("SELECT t, tw, tws, n, min, max FROM daily ORDER BY t").all() as {
      t: number;
      tw: number;
      tws: number;
      n: number;
    }[],
  };
}

describe("writeStatisticHours", () => {
  test("an hour becomes a bucket held the whole hour; its day is the sum of its hours", () => {
    store = openStoreWriter(tempDir(), { dictionaryCache: 100 });
    const r = writeStatisticHours(store, dayHours(D0, 20), { hourlyFromS: D0 - DAY });
    expect(r).toEqual({ written: 24, kept: 0, rejected: [] });
    const { hourly, daily } = tiers(store);
    expect(hourly.length).toBe(24);
    expect(hourly[0]).toEqual({ t: D0, tw: 20 * 3600, tws: 3600, n: 1 } as never);
    expect(daily).toEqual([{ t: D0, tw: 20 * 86400, tws: 86400, n: 24, min: 19, max: 21 }] as never);
  });

  test("an existing bucket is kept and its day not counted twice, whether or not hourly retention took it", () => {
    store = openStoreWriter(tempDir(), { dictionaryCache: 100 });
    // Recent day: hours kept, written once.
    writeStatisticHours(store, dayHours(D0, 20), { hourlyFromS: D0 - DAY });
    expect(writeStatisticHours(store, dayHours(D0, 99), { hourlyFromS: D0 - DAY })).toMatchObject({
      written: 0,
      kept: 24,
    });
    // An old day (before the hourly horizon): no hours, the day once; asked again (its hours would look
    // new, since there are none) it is kept as it was.
    const old = D0 - 40 * DAY;
    expect(writeStatisticHours(store, dayHours(old, 10), { hourlyFromS: D0 - 30 * DAY })).toMatchObject({
      written: 24,
    });
    expect(writeStatisticHours(store, dayHours(old, 77), { hourlyFromS: D0 - 30 * DAY })).toMatchObject({
      written: 0,
      kept: 24,
    });
    const { hourly, daily } = tiers(store);
    expect(hourly.every((h) => h.t >= D0)).toBe(true);
    expect(daily.map((d) => [d.t, d.tw / d.tws])).toEqual([
      [old, 10],
      [D0, 20],
    ]);
  });

  test("a row without an hour start or a value is refused with the reason, the rest stored", () => {
    store = openStoreWriter(tempDir(), { dictionaryCache: 100 });
    const r = writeStatisticHours(
      store,
      [hour(D0 + 1, 5), { ...hour(D0, 5), mean: null }, hour(D0 + 3600, 5)],
      {
        hourlyFromS: 0,
      },
    );
    expect(r.written).toBe(1);
    expect(r.rejected.map((x) => x.index)).toEqual([0, 1]);
    expect(r.rejected[0].error).toContain("hour start");
  });
});
