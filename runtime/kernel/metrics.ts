/**
 * A small metrics registry: counters, gauges and histograms keyed by name + labels.
 *
 * Each actor owns a registry inside its worker and ships a `snapshot()` to the supervisor on a timer; the
 * supervisor keeps the latest snapshot per actor (`MetricsHub`) and the API renders them as JSON or as
 * Prometheus text. Snapshots are plain data so they cross the worker boundary by structured clone.
 */

export type Labels = Readonly<Record<string, string>>;

export interface Counter {
  inc(by?: number): void;
  readonly value: number;
}
export interface Gauge {
  set(value: number): void;
  inc(by?: number): void;
  readonly value: number;
}
export interface Histogram {
  observe(value: number): void;
}

export interface MetricSample {
  name: string;
  labels: Labels;
  value: number;
}
export interface HistogramSample {
  name: string;
  labels: Labels;
  /** Upper bounds, ascending; the last bucket (+Inf) is implicit and equals `count`. */
  bounds: number[];
  /** Cumulative counts per bound. */
  counts: number[];
  sum: number;
  count: number;
}
export interface MetricsSnapshot {
  counters: MetricSample[];
  gauges: MetricSample[];
  histograms: HistogramSample[];
  help: Record<string, string>;
}

/** Default latency buckets in milliseconds. */
export const MS_BUCKETS = [0.1, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

function keyOf(name: string, labels: Labels): string {
  let key = name;
  for (const k of Object.keys(labels).sort()) key += `|${k}=${labels[k]}`;
  return key;
}

class CounterImpl implements Counter {
  value = 0;
  constructor(
    readonly name: string,
    readonly labels: Labels,
  ) {}
  inc(by = 1): void {
    this.value += by;
  }
}

class GaugeImpl implements Gauge {
  value = 0;
  constructor(
    readonly name: string,
    readonly labels: Labels,
  ) {}
  set(value: number): void {
    this.value = value;
  }
  inc(by = 1): void {
    this.value += by;
  }
}

class HistogramImpl implements Histogram {
  readonly buckets: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly name: string,
    readonly labels: Labels,
    readonly bounds: number[],
  ) {
    this.buckets = new Array(bounds.length).fill(0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= this.bounds[i]) {
        this.buckets[i]++;
        return;
      }
    }
  }
  cumulative(): number[] {
    let running = 0;
    return this.buckets.map((n) => {
      running += n;
      return running;
    });
  }
}

/** The metrics of one actor (or of the main thread). Metric handles are cached: get them once, use often. */
export class Registry {
  private readonly counters = new Map<string, CounterImpl>();
  private readonly gauges = new Map<string, GaugeImpl>();
  private readonly histograms = new Map<string, HistogramImpl>();
  private readonly help: Record<string, string> = {};
  private readonly base: Labels;

  /** `base` labels (e.g. `{ actor: "batcher" }`) are added to every metric of this registry. */
  constructor(base: Labels = {}) {
    this.base = base;
  }

  counter(name: string, help: string, labels: Labels = {}): Counter {
    const all = { ...this.base, ...labels };
    const key = keyOf(name, all);
    let metric = this.counters.get(key);
    if (!metric) {
      metric = new CounterImpl(name, all);
      this.counters.set(key, metric);
      this.help[name] = help;
    }
    return metric;
  }

  gauge(name: string, help: string, labels: Labels = {}): Gauge {
    const all = { ...this.base, ...labels };
    const key = keyOf(name, all);
    let metric = this.gauges.get(key);
    if (!metric) {
      metric = new GaugeImpl(name, all);
      this.gauges.set(key, metric);
      this.help[name] = help;
    }
    return metric;
  }

  histogram(name: string, help: string, labels: Labels = {}, bounds: number[] = MS_BUCKETS): Histogram {
    const all = { ...this.base, ...labels };
    const key = keyOf(name, all);
    let metric = this.histograms.get(key);
    if (!metric) {
      metric = new HistogramImpl(name, all, bounds);
      this.histograms.set(key, metric);
      this.help[name] = help;
    }
    return metric;
  }

  snapshot(): MetricsSnapshot {
    return {
      counters: [...this.counters.values()].map((c) => ({ name: c.name, labels: c.labels, value: c.value })),
      gauges: [...this.gauges.values()].map((g) => ({ name: g.name, labels: g.labels, value: g.value })),
      histograms: [...this.histograms.values()].map((h) => ({
        name: h.name,
        labels: h.labels,
        bounds: h.bounds,
        counts: h.cumulative(),
        sum: h.sum,
        count: h.count,
      })),
      help: { ...this.help },
    };
  }
}

/**
 * The latest snapshot of every source (actors and the main thread). Counters survive actor restarts:
 * when a restarted actor's fresh counter reports less than before, the earlier total is carried forward.
 */
export class MetricsHub {
  private readonly latest = new Map<string, MetricsSnapshot>();
  private readonly carried = new Map<string, number>();
  private readonly lastSeen = new Map<string, number>();

  update(source: string, snapshot: MetricsSnapshot): void {
    for (const c of snapshot.counters) {
      const key = `${source}#${keyOf(c.name, c.labels)}`;
      const previous = this.lastSeen.get(key) ?? 0;
      if (c.value < previous) this.carried.set(key, (this.carried.get(key) ?? 0) + previous);
      this.lastSeen.set(key, c.value);
    }
    this.latest.set(source, snapshot);
  }

  /** Sum of a counter across sources (and labels), including totals carried over restarts. */
  counter(name: string, filter: Labels = {}): number {
    let total = 0;
    for (const [source, snap] of this.latest) {
      for (const c of snap.counters) {
        if (c.name !== name || !matches(c.labels, filter)) continue;
        total += c.value + (this.carried.get(`${source}#${keyOf(c.name, c.labels)}`) ?? 0);
      }
    }
    return total;
  }

  /** Sum of a gauge across sources matching the filter. */
  gauge(name: string, filter: Labels = {}): number {
    let total = 0;
    for (const snap of this.latest.values()) {
      for (const g of snap.gauges) if (g.name === name && matches(g.labels, filter)) total += g.value;
    }
    return total;
  }

  /** All samples of every source merged, with restart carry-over applied to counters. */
  merged(): MetricsSnapshot {
    const out: MetricsSnapshot = { counters: [], gauges: [], histograms: [], help: {} };
    for (const [source, snap] of this.latest) {
      for (const c of snap.counters) {
        const carried = this.carried.get(`${source}#${keyOf(c.name, c.labels)}`) ?? 0;
        out.counters.push({ ...c, value: c.value + carried });
      }
      out.gauges.push(...snap.gauges);
      out.histograms.push(...snap.histograms);
      Object.assign(out.help, snap.help);
    }
    return out;
  }
}

function matches(labels: Labels, filter: Labels): boolean {
  for (const k in filter) if (labels[k] !== filter[k]) return false;
  return true;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function renderLabels(labels: Labels, extra?: [string, string]): string {
  const parts = Object.keys(labels).map((k) => `${k}="${escapeLabel(labels[k])}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** Prometheus text exposition (version 0.0.4) of a snapshot. Metric names get the `homeiq_` prefix. */
export function toPrometheus(snapshot: MetricsSnapshot): string {
  const lines: string[] = [];
  const byName = <T extends { name: string }>(xs: T[]) => {
    const groups = new Map<string, T[]>();
    for (const x of xs) {
      const group = groups.get(x.name);
      if (group) group.push(x);
      else groups.set(x.name, [x]);
    }
    return groups;
  };
  const header = (name: string, type: string) => {
    const full = `homeiq_${name}`;
    lines.push(`# HELP ${full} ${(snapshot.help[name] ?? name).replace(/\n/g, " ")}`);
    lines.push(`# TYPE ${full} ${type}`);
    return full;
  };
  for (const [name, samples] of byName(snapshot.counters)) {
    const full = header(name, "counter");
    for (const s of samples) lines.push(`${full}${renderLabels(s.labels)} ${s.value}`);
  }
  for (const [name, samples] of byName(snapshot.gauges)) {
    const full = header(name, "gauge");
    for (const s of samples) lines.push(`${full}${renderLabels(s.labels)} ${s.value}`);
  }
  for (const [name, samples] of byName(snapshot.histograms)) {
    const full = header(name, "histogram");
    for (const s of samples) {
      s.bounds.forEach((bound, i) => {
        lines.push(`${full}_bucket${renderLabels(s.labels, ["le", String(bound)])} ${s.counts[i]}`);
      });
      lines.push(`${full}_bucket${renderLabels(s.labels, ["le", "+Inf"])} ${s.count}`);
      lines.push(`${full}_sum${renderLabels(s.labels)} ${s.sum}`);
      lines.push(`${full}_count${renderLabels(s.labels)} ${s.count}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
