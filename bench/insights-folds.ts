/**
 * What the bounded insights summaries (actors/insights/health-fold.ts, energy-fold.ts) hold after a given
 * span of a simulated home, without a store or a process around them: the simulator's own home model
 * (sim/home.ts: 300 entities, random gaps and power levels, switches toggling at every change) advanced at
 * `--rate` changes/s of the home's time, fed straight into the folds, with their byte estimate and the
 * heap after a full collection printed every simulated hour. `--folds none` runs the generator alone:
 * its own heap grows (~20 MB an hour of 1,000/s), so a fold's share is the difference to that run.
 * First figures (3 hours at 1,000/s, over `none`): health +2 MB (estimate 1.2), energy +6 MB (estimate
 * 5.3), flat after the first hour — the 1-hour soak's climb with them wired in (docs/insights.md) is not
 * their data.
 *
 *   bun run bench/insights-folds.ts -- --hours 6 --rate 1000 --folds health,energy
 */
import { parseArgs } from "node:util";
import { EnergyFold } from "../actors/insights/energy-fold.ts";
import { HealthFold } from "../actors/insights/health-fold.ts";
import { Folds } from "../actors/insights/history.ts";
import { loadConfig } from "../runtime/config/load.ts";
import type { WindowRow } from "../runtime/store/insights-reader.ts";
import { advance, buildHome } from "../sim/home.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    hours: { type: "string", default: "6" },
    rate: { type: "string", default: "1000" },
    entities: { type: "string", default: "300" },
    folds: { type: "string", default: "health,energy" },
  },
});
const hours = Number(values.hours);
const rate = Number(values.rate);
const s = loadConfig({ env: {} }).insights;

let seed = 7;
const random = () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32;
};
const start = Date.UTC(2026, 11, 1);
const home = buildHome(Number(values.entities), random, start * 1000);
const health = new HealthFold({
  historyDays: s.historyDays,
  lowBatteryPct: s.lowBatteryPct,
  changesKept: 1000,
});
const energy = new EnergyFold({ ...s, energyTransitionsKept: 1000 });
const chosen = new Set(values.folds.split(","));
const folds = new Folds([
  ...(chosen.has("health") ? [health] : []),
  ...(chosen.has("energy") ? [energy] : []),
]);
/** State ids as the store's dictionary gives them: one per distinct text. */
const stateIds = new Map<string, number>();
const row: WindowRow & { text: string } = {
  ts: 0,
  value: Number.NaN,
  state: -1,
  attributes: {},
  text: "",
  stateText() {
    return this.text;
  },
};
const MB = 1048576;
const heapMb = () => {
  Bun.gc(true);
  return process.memoryUsage().heapUsed / MB;
};
const before = heapMb();
const perHour = rate * 3600;
for (let h = 1; h <= hours; h++) {
  for (let k = 0; k < perHour; k++) {
    const e = Math.floor(random() * home.entities.length);
    const entity = home.entities[e];
    advance(entity, random);
    row.ts = start + (h - 1) * 3600_000 + (k * 3600_000) / perHour;
    row.text = entity.state;
    const n = Number(entity.state);
    const numeric = entity.state !== "" && Number.isFinite(n);
    row.value = numeric ? n : Number.NaN;
    if (!stateIds.has(entity.state)) stateIds.set(entity.state, stateIds.size);
    row.state = numeric ? -1 : (stateIds.get(entity.state) as number);
    row.attributes = entity.attributes;
    folds.push(e, entity.entity_id, row);
  }
  const now = start + h * 3600_000;
  folds.trim(now - s.historyDays * 86400_000);
  const hb = health.usage();
  const eb = energy.usage();
  console.log(
    `hour ${h}: health ${(hb.bytes / MB).toFixed(1)} MB (${hb.entities} entities), energy ${(eb.bytes / MB).toFixed(1)} MB (${eb.entities}), heap +${(heapMb() - before).toFixed(1)} MB`,
  );
}
