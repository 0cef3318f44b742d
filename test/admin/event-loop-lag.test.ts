/**
 * The event-loop-lag metrics without a 10 ms timer at rest (src/event-loop-lag.ts): when the 10 ms monitor runs,
 * what a scrape reports when it had no sample, and that the eight nodejs_eventloop_lag_* series are still exported
 * under prom-client's names, once each, with plausible values. No timing is asserted.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BUSY_SHARE, FINE_RESOLUTION_MS, fineMonitorWanted, lagStats } from '../../src/event-loop-lag.js';
import { ProxyMetrics } from '../../src/metrics.js';
import { parsePrometheusText } from './prom.js';

const NAMES = ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_min_seconds', 'nodejs_eventloop_lag_max_seconds', 'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds', 'nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p90_seconds', 'nodejs_eventloop_lag_p99_seconds'];

const histogram = (values: number[]) => {
  const ns = values.map((ms) => ms * 1e6).sort((a, b) => a - b);
  return {
    count: ns.length,
    min: ns.length ? ns[0] : 9223372036854776000,
    max: ns.length ? ns[ns.length - 1] : 0,
    mean: ns.length ? ns.reduce((a, b) => a + b, 0) / ns.length : NaN,
    stddev: 0,
    percentile: (p: number) => ns.length ? ns[Math.min(ns.length - 1, Math.ceil((p / 100) * ns.length) - 1)] : 0,
  };
};

describe('event loop lag', () => {
  test('the 10 ms monitor runs while the loop is busy or a stall made the 1 s timer late, not at rest', () => {
    assert.equal(fineMonitorWanted(0, 0), false);
    assert.equal(fineMonitorWanted(BUSY_SHARE / 2, 1), false);
    assert.equal(fineMonitorWanted(BUSY_SHARE, 0), true);
    assert.equal(fineMonitorWanted(0.5, 0), true);
    assert.equal(fineMonitorWanted(0, FINE_RESOLUTION_MS), true);
  });

  test('statistics come from the 10 ms monitor when it has samples, in seconds', () => {
    const s = lagStats(histogram([10, 10, 11, 250]), 0);
    assert.equal(s.min, 0.010);
    assert.equal(s.max, 0.250);
    assert.equal(s.p50, 0.010);
    assert.equal(s.p99, 0.250);
  });

  test('a scrape with no sample reads an idle loop (the resolution), never the empty histogram\'s int64 minimum', () => {
    const s = lagStats(histogram([]), 0);
    for (const v of Object.values(s)) assert.ok(v >= 0 && v <= FINE_RESOLUTION_MS / 1000, `value ${v}`);
    assert.equal(s.min, FINE_RESOLUTION_MS / 1000);
  });

  test('a stall the 1 s timer saw raises max, with or without 10 ms samples', () => {
    assert.equal(lagStats(histogram([]), 490).max, 0.5);
    assert.equal(lagStats(histogram([10, 12]), 490).max, 0.5);
    assert.equal(lagStats(histogram([10, 700]), 490).max, 0.7);
  });

  test('the eight nodejs_eventloop_lag_* series are exported once each, from two registries in one process', async () => {
    for (const metrics of [new ProxyMetrics(), new ProxyMetrics()]) {
      const m = parsePrometheusText(await metrics.registry.metrics());
      for (const name of NAMES) {
        const series = m.find(name);
        assert.equal(series.length, 1, name);
        assert.ok(Number.isFinite(series[0].value) && series[0].value >= 0 && series[0].value < 1e6, `${name} = ${series[0].value}`);
      }
    }
  });
});
