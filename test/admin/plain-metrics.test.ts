/**
 * The data path's plain-number metrics (src/plain-metrics.ts) against prom-client's own: the same observations must
 * give the same /metrics text, alone and summed over workers, so scrapes, dashboards and alerts cannot tell them apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { PendingCounts, PlainHistogram } from '../../src/plain-metrics.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const NAME = 'kafka_proxy_request_duration_seconds';
const HELP = 'Time from request received from the client to response sent back';

/** Values on and around every bound (a value equal to a bound counts in that bucket), and beyond the last. */
function observations(seed: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  let x = seed;
  const rand = () => { x = (x * 1103515245 + 12345) % 2 ** 31; return x / 2 ** 31; };
  for (const api of ['Produce', 'Fetch', 'CreateTopics']) {
    for (const b of BUCKETS) out.push([api, b], [api, b * (1 + 1e-9)], [api, b * (1 - 1e-9)]);
    for (let i = 0; i < 500; i++) out.push([api, rand() ** 4 * 40]);
    out.push([api, 0]);
  }
  return out;
}

function both(seed: number): { theirs: client.Registry; ours: client.Registry } {
  const theirs = new client.Registry();
  const ours = new client.Registry();
  const h = new client.Histogram({ name: NAME, help: HELP, labelNames: ['api'], buckets: BUCKETS, registers: [theirs] });
  const p = new PlainHistogram(NAME, HELP, 'api', BUCKETS, ours);
  for (const [api, v] of observations(seed)) { h.labels({ api }).observe(v); p.series(api).observe(v); }
  return { theirs, ours };
}

test('a PlainHistogram exports exactly what prom-client\'s Histogram exports for the same observations', async () => {
  const { theirs, ours } = both(7);
  const expected = await theirs.metrics();
  assert.match(expected, /_bucket\{le="0.0005",api="Produce"\} \d+/); // the comparison is over real series
  assert.equal(await ours.metrics(), expected);
  assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
});

test('summed over workers (the primary\'s aggregation), PlainHistograms give what Histograms give', async () => {
  const a = both(1);
  const b = both(2);
  const theirs = client.AggregatorRegistry.aggregate([await a.theirs.getMetricsAsJSON(), await b.theirs.getMetricsAsJSON()]);
  const ours = client.AggregatorRegistry.aggregate([await a.ours.getMetricsAsJSON(), await b.ours.getMetricsAsJSON()]);
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('a PlainHistogram reset() zeroes its series, as resetMetrics() expects', async () => {
  const { theirs, ours } = both(3);
  theirs.resetMetrics();
  ours.resetMetrics();
  assert.doesNotMatch(await ours.metrics(), /_count\{api="Produce"\} [1-9]/);
});

test('PendingCounts reach their counter when it is collected, labels made once per key', async () => {
  const registry = new client.Registry();
  let pending!: PendingCounts;
  const counter: client.Counter<string> = new client.Counter({
    name: 'kafka_proxy_requests_total', help: 'Requests forwarded', labelNames: ['api', 'version'], registers: [registry],
    collect: () => pending.flush(),
  });
  pending = new PendingCounts(counter);
  let made = 0;
  const labels = (api: string, version: string) => () => { made++; return { api, version }; };
  for (let i = 0; i < 1000; i++) pending.cell(9, labels('Produce', '9')).n++;
  for (let i = 0; i < 3; i++) pending.cell(1 * 65536 + 13, labels('Fetch', '13')).n++;
  assert.equal(made, 2);
  const text = await registry.metrics();
  assert.match(text, /kafka_proxy_requests_total\{api="Produce",version="9"\} 1000\n/);
  assert.match(text, /kafka_proxy_requests_total\{api="Fetch",version="13"\} 3\n/);
  pending.cell(9, labels('Produce', '9')).n += 5;
  assert.match(await registry.metrics(), /kafka_proxy_requests_total\{api="Produce",version="9"\} 1005\n/); // not counted twice
});
