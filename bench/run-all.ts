/**
 * `npm run bench`: runs every `bench/*.bench.ts` in its own process, one after another, printing their
 * figures. Exits non-zero if any benchmark errors; never judges timings (CI must not fail on a slow box).
 * HOMEIQ_BENCH_QUICK=1 asks each benchmark for a short run.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
const failed: string[] = [];
for (const file of files) {
  console.log(`\n=== ${file}`);
  const started = performance.now();
  const proc = Bun.spawn(["bun", "run", join(dir, file)], {
    stdout: "inherit",
    stderr: "inherit",
    env: process.env,
  });
  const code = await proc.exited;
  console.log(
    `=== ${file}: ${code === 0 ? "ok" : `FAILED (exit ${code})`} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  if (code !== 0) failed.push(file);
}
if (failed.length) {
  console.error(`benchmarks failed: ${failed.join(", ")}`);
  process.exit(1);
}
