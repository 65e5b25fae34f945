/** Display formatting shared by the views. Pure functions; the locale is the browser's. */

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function formatCount(n: number | null | undefined): string {
  return n == null || !Number.isFinite(n) ? "—" : integer.format(n);
}

export function formatRate(perSecond: number | null | undefined): string {
  return perSecond == null || !Number.isFinite(perSecond) ? "—" : `${decimal.format(perSecond)}/s`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null || !Number.isFinite(bytes)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? integer.format(value) : decimal.format(value)} ${units[unit]}`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${integer.format(ms)} ms`;
  const s = ms / 1000;
  if (s < 90) return `${decimal.format(s)} s`;
  if (s < 5400) return `${decimal.format(s / 60)} min`;
  if (s < 172800) return `${decimal.format(s / 3600)} h`;
  return `${decimal.format(s / 86400)} d`;
}

const timeOfDay = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function formatClock(ms: number): string {
  return timeOfDay.format(ms);
}

export function formatDateTime(ms: number | null | undefined): string {
  return ms == null || !Number.isFinite(ms) ? "—" : dateTime.format(ms);
}

/**
 * A state as Home Assistant's frontend shows it: a number with its unit (`22.3 °C`, `45 %`), anything
 * else (`on`, `unavailable`) as it is. A missing state is "—".
 *
 * @example formatState("22.3", "°C") // "22.3 °C"
 */
export function formatState(state: string | null | undefined, unit: string | null | undefined): string {
  const p = stateParts(state, unit);
  return p.unit ? `${p.value} ${p.unit}` : p.value;
}

/** formatState's parts, for views that style the unit apart: the unit is null where it is not shown. */
export function stateParts(
  state: string | null | undefined,
  unit: string | null | undefined,
): { value: string; unit: string | null } {
  if (state == null || state === "") return { value: "—", unit: null };
  const numeric = state.trim() !== "" && Number.isFinite(Number(state));
  return { value: state, unit: unit && numeric ? unit : null };
}

/** The part of an entity id before the dot: `light.kitchen` -> `light`. */
export function domainOf(entityId: string): string {
  const dot = entityId.indexOf(".");
  return dot < 0 ? entityId : entityId.slice(0, dot);
}
