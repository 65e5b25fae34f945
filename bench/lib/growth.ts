/**
 * How fast a memory curve climbs: the least-squares slope of per-minute RSS medians, in MB an hour. Read
 * beside the soak's growth percentage, which compares two windows and so moves with whatever the process
 * happened to hold at each end; the slope uses every minute after warm-up.
 *
 * @example
 * slopeMbPerHour([150, 151, 152, 153], 0) // 60
 */
export function slopeMbPerHour(mbByMinute: readonly number[], fromMinute: number): number {
  const points: [number, number][] = [];
  mbByMinute.forEach((mb, minute) => {
    if (minute >= fromMinute && Number.isFinite(mb)) points.push([minute, mb]);
  });
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanX = points.reduce((a, [x]) => a + x, 0) / n;
  const meanY = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  }
  return Math.round((num / den) * 60 * 10) / 10;
}
