/**
 * History points as uPlot columns. The API answers raw points (one per state change) or rollup points
 * (hourly / daily: mean, min, max); both become x in seconds plus value columns. Two-state entities
 * (on/off, open/closed, home/not_home) plot as 1/0 so switches and sensors both draw.
 */

export type Resolution = "auto" | "raw" | "hourly" | "daily";

export interface HistoryColumns {
  tier: string;
  /** Seconds since the epoch, ascending (uPlot's x scale unit). */
  xs: number[];
  ys: (number | null)[];
  mins: (number | null)[] | null;
  maxs: (number | null)[] | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

const BINARY: Record<string, number> = {
  on: 1,
  off: 0,
  open: 1,
  closed: 0,
  home: 1,
  not_home: 0,
  true: 1,
  false: 0,
  detected: 1,
  clear: 0,
  locked: 0,
  unlocked: 1,
  playing: 1,
  idle: 0,
};

function value(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string") {
    if (v in BINARY) return BINARY[v];
    const n = Number(v);
    return v.trim() !== "" && Number.isFinite(n) ? n : null;
  }
  return null;
}

function timeMs(p: Obj): number | null {
  for (const key of ["ts", "t", "time", "bucket", "start", "last_changed", "last_updated"]) {
    const v = p[key];
    if (typeof v === "number" && Number.isFinite(v)) return v > 1e14 ? v / 1000 : v;
    if (typeof v === "string") {
      const t = Date.parse(v);
      if (Number.isFinite(t)) return t;
    }
  }
  return null;
}

export function toHistoryColumns(raw: unknown): HistoryColumns {
  const tier = isObj(raw) && typeof raw.tier === "string" ? raw.tier : "raw";
  const points = Array.isArray(raw) ? raw : isObj(raw) && Array.isArray(raw.points) ? raw.points : [];
  const rows: [number, number | null, number | null, number | null][] = [];
  let hasRange = false;
  for (const p of points) {
    if (Array.isArray(p)) {
      const t = typeof p[0] === "number" ? (p[0] > 1e14 ? p[0] / 1000 : p[0]) : null;
      if (t !== null) rows.push([t, value(p[1]), null, null]);
      continue;
    }
    if (!isObj(p)) continue;
    const t = timeMs(p);
    if (t === null) continue;
    // A bucket of an on/off entity plots its share of time on (0..1), like its raw points' 1/0.
    const y = value(p.value ?? p.onShare ?? p.mean ?? p.avg ?? p.state ?? p.last);
    const lo = value(p.min);
    const hi = value(p.max);
    if (lo !== null || hi !== null) hasRange = true;
    rows.push([t, y, lo, hi]);
  }
  rows.sort((a, b) => a[0] - b[0]);
  return {
    tier,
    xs: rows.map((r) => r[0] / 1000),
    ys: rows.map((r) => r[1]),
    mins: hasRange ? rows.map((r) => r[2]) : null,
    maxs: hasRange ? rows.map((r) => r[3]) : null,
  };
}
