/**
 * Prometheus metrics updated on the data path in plain numbers and turned into prom-client's form only when
 * collected. prom-client's observe() and a labelled child's inc() convert, validate and hash their labels on every
 * call: about 1 µs per Produce request and response together (bench/connection-micro.ts), per request rather than per
 * byte, so it weighed most on small produce requests. These register in a prom-client Registry like its own metrics
 * (name, help, type, aggregator, get, reset), so /metrics, the workers' aggregation and promtool see the same series.
 */
import type client from 'prom-client';

/** What get() returns: prom-client's shape for a histogram (its typings declare `type` as a numeric enum; it is a string). */
interface HistogramValues {
  name: string; help: string; type: 'histogram'; aggregator: 'sum';
  values: Array<{ value: number; metricName: string; exemplar: null | undefined; labels: Record<string, string | number> }>;
}

/** One label set of a PlainHistogram: counts per bucket (not cumulative; the last is above every bound), sum, count. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) { this.counts = new Float64Array(bounds.length + 1); }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/** A histogram with one label; series are made on first use and kept (the label's values must be bounded). */
export class PlainHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  /** As prom-client's metrics have it (the dashboard and alert checks read the labels from here). */
  readonly labelNames: readonly string[];
  private readonly all = new Map<string, HistogramSeries>();

  constructor(readonly name: string, readonly help: string, private readonly labelName: string,
    private readonly bounds: readonly number[], registry: client.Registry) {
    this.labelNames = [labelName];
    registry.registerMetric(this as unknown as client.Metric);
  }

  /** The series for one label value (keep it: a lookup per observation is what this class avoids). */
  series(labelValue: string): HistogramSeries {
    let s = this.all.get(labelValue);
    if (!s) { s = new HistogramSeries(this.bounds); this.all.set(labelValue, s); }
    return s;
  }

  /** prom-client's signature, for callers off the hot path. */
  observe(labels: Record<string, string>, value: number): void { this.series(labels[this.labelName]).observe(value); }

  /** The values as prom-client's Histogram exports them: cumulative buckets (le), +Inf, _sum, _count per series. */
  async get(): Promise<HistogramValues> {
    const values: HistogramValues['values'] = [];
    for (const [labelValue, s] of this.all) {
      const labels = { [this.labelName]: labelValue };
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i];
        values.push({ value: acc, metricName: `${this.name}_bucket`, exemplar: null, labels: { le, ...labels } });
      });
      values.push({ value: s.count, metricName: `${this.name}_bucket`, exemplar: null, labels: { le: '+Inf', ...labels } });
      values.push({ value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined, labels: { ...labels } });
      values.push({ value: s.count, metricName: `${this.name}_count`, exemplar: undefined, labels: { ...labels } });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void { for (const s of this.all.values()) { s.counts.fill(0); s.sum = 0; s.count = 0; } }
}

/**
 * A counter with labels, counted in plain numbers per key the caller chooses (a small integer) and added to its
 * prom-client Counter when that is collected.
 */
export class PendingCounts {
  private readonly counts = new Map<number, { labels: Record<string, string>; n: number }>();

  constructor(private readonly counter: client.Counter<string>) {}

  /** The cell for `key`; `labels` is asked only the first time a key is seen. */
  cell(key: number, labels: () => Record<string, string>): { n: number } {
    let c = this.counts.get(key);
    if (!c) { c = { labels: labels(), n: 0 }; this.counts.set(key, c); }
    return c;
  }

  /** Hands what was counted since the last flush to the counter (call from its collect). */
  flush(): void {
    for (const c of this.counts.values()) if (c.n > 0) { this.counter.inc(c.labels, c.n); c.n = 0; }
  }
}

/** A count kept as a plain number until a metric collects it. */
export class PendingCount {
  private n = 0;
  inc(by: number): void { this.n += by; }
  /** The count since the last take. */
  take(): number { const n = this.n; this.n = 0; return n; }
}
