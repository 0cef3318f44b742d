/**
 * kafka_proxy_bytes_total is added up in plain numbers on the hot path and handed to prom-client on collection
 * (src/metrics.ts): every byte counted once, whatever the number of scrapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyMetrics } from '../../src/metrics.js';

const value = async (m: ProxyMetrics, direction: string) =>
  (await m.bytes.get()).values.find((v) => v.labels.direction === direction)?.value;

test('bytes counted between scrapes appear once, in their direction, and series exist from the start at 0', async () => {
  const m = new ProxyMetrics({ collectDefault: false });
  assert.equal(await value(m, 'client_to_broker'), 0);
  assert.equal(await value(m, 'broker_to_client'), 0);
  m.bytesToBroker.inc(1000);
  m.bytesToBroker.inc(24);
  m.bytesToClient.inc(7);
  assert.equal(await value(m, 'client_to_broker'), 1024);
  assert.equal(await value(m, 'broker_to_client'), 7);
  assert.equal(await value(m, 'client_to_broker'), 1024, 'a second scrape adds nothing');
  m.bytesToBroker.inc(1);
  const text = await m.registry.metrics();
  assert.match(text, /kafka_proxy_bytes_total\{direction="client_to_broker"\} 1025\n/);
  assert.match(text, /kafka_proxy_bytes_total\{direction="broker_to_client"\} 7\n/);
});
