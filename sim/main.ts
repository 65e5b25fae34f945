/**
 * `bun run sim -- --port 8123 --entities 300 --rate 100 --token x`: runs the simulated Home Assistant on its
 * own so anyone can point a client (or HomeIQ via HOMEIQ_HA_URL / HOMEIQ_HA_TOKEN) at it. It behaves as a
 * stock HA: recorder lag (`--recorder-commit-interval-ms`, 0 = none), coalesced frames (`--no-coalesce`),
 * raw time.time() stamps (`--exact-us-timestamps`), history loading late (`--history-available-after-ms`).
 */
import { parseArgs } from "node:util";
import { startSimulator } from "./server.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    port: { type: "string", default: "8123" },
    host: { type: "string", default: "127.0.0.1" },
    entities: { type: "string", default: "300" },
    rate: { type: "string", default: "20" },
    seed: { type: "string", default: "42" },
    token: { type: "string", default: "sim-token" },
    "history-max": { type: "string", default: "2000000" },
    "recorder-commit-interval-ms": { type: "string", default: "5000" },
    "history-available-after-ms": { type: "string", default: "0" },
    // Switch off HA's unkind parts (see SimulatorOptions in sim/server.ts): defaults are HA's.
    "no-coalesce": { type: "boolean", default: false },
    "exact-us-timestamps": { type: "boolean", default: false },
  },
});

const number = (name: string, text: string | undefined, min: number): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`sim: --${name} must be a number >= ${min}, got "${text}"\n`);
    process.exit(2);
  }
  return n;
};

const sim = await startSimulator({
  port: number("port", values.port, 0),
  hostname: values.host,
  entities: number("entities", values.entities, 1),
  rate: number("rate", values.rate, 0),
  seed: number("seed", values.seed, 0),
  token: values.token,
  historyMax: number("history-max", values["history-max"], 1000),
  recorderCommitIntervalMs: number("recorder-commit-interval-ms", values["recorder-commit-interval-ms"], 0),
  historyAvailableAfterMs: number("history-available-after-ms", values["history-available-after-ms"], 0),
  coalesceMessages: !values["no-coalesce"],
  rawTimestamps: !values["exact-us-timestamps"],
});
const http = sim.url.replace(/^ws/, "http").replace(/\/api\/websocket$/, "");
console.log(`simulated Home Assistant at ${sim.url}`);
console.log(`token: ${sim.token}`);
console.log(
  `control: GET ${http}/sim/stats, POST ${http}/sim/rate?value=N, POST ${http}/sim/fault?kind=drop`,
);
const stop = () => void sim.stop().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
