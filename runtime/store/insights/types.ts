/**
 * The event shape every insight works on: a subset of the store's `StoredEvent` (runtime/store), so the pure
 * analyses run on plain arrays in tests and on rows the SQL layer reads, without depending on the store.
 * Times are milliseconds since the Unix epoch.
 */
export interface InsightEvent {
  entity_id: string;
  state: string;
  /** The state as a number when it parses as one (sensors), else null. */
  value: number | null;
  ts: number;
  context_id: string | null;
  context_parent_id: string | null;
  context_user_id: string | null;
  /** Only the attributes an analysis reads (unit_of_measurement, device_class, battery_level). */
  attributes?: Record<string, unknown>;
}

/** `light.kitchen` -> `light` */
export function domainOf(entityId: string): string {
  const dot = entityId.indexOf(".");
  return dot < 0 ? entityId : entityId.slice(0, dot);
}

/** The value at quantile q (0..1) of an ascending-sorted array, linearly interpolated; NaN when empty. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Median of an unsorted array (copies; never mutates the input). */
export function median(values: ArrayLike<number>): number {
  return quantileSorted(Float64Array.from(values).sort(), 0.5);
}

/**
 * Median absolute deviation scaled to estimate a standard deviation for normal noise (×1.4826); a robust
 * spread that a few outliers (an overlapping event, a spike) cannot inflate.
 */
export function robustSpread(values: ArrayLike<number>): number {
  if (values.length < 2) return 0;
  const m = median(values);
  return 1.4826 * median(Float64Array.from(values, (v) => Math.abs(v - m)));
}
