/**
 * Broker faults behind the proxy: a broker killed (SIGKILL) while a producer and a consumer run through the
 * proxy, then restarted. Clients see errors, reconnect through the proxy (never to a broker directly), and
 * every acknowledged record is consumed exactly as sent. Uses a 3-broker cluster of its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { startKafkaCluster, type KafkaCluster } from '../harness/kafka-cluster.js';
import { startTestProxy, type TestProxy } from '../harness/proxy.js';
import { waitForTopics } from '../harness/metadata.js';

describe('a broker killed and restarted behind the proxy', () => {
  let cluster: KafkaCluster;
  let proxy: TestProxy;

  before(async () => {
    cluster = await startKafkaCluster({ brokers: 3 });
    proxy = await startTestProxy(cluster.plainBootstrap);
  });
  after(async () => {
    await proxy?.stop();
    await cluster?.stop();
  });

  test('no acknowledged record is lost; clients recover through the proxy', async () => {
    const topic = `faults-${Date.now()}`;
    const kafka = new Kafka({
      brokers: [proxy.bootstrap], clientId: 'faults', logLevel: logLevel.NOTHING,
      retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }], waitForLeaders: false });
    await waitForTopics(cluster, [topic]);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const acked: string[] = [];
    const errors: string[] = [];
    let stop = false;
    const produceLoop = (async () => {
      for (let i = 0; !stop; i++) {
        const value = `rec-${i}`;
        try {
          await producer.send({ topic, acks: -1, messages: [{ key: `k${i % 7}`, value }] });
          acked.push(value);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    })();

    const consumed = new Set<string>();
    const consumer = kafka.consumer({ groupId: `g-${topic}`, retry: { retries: 30 } });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    void consumer.run({ eachMessage: async ({ message }) => { consumed.add(message.value!.toString()); } });

    const waitUntil = async (cond: () => boolean, ms: number, what: string) => {
      const deadline = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitUntil(() => acked.length >= 200 && consumed.size >= 100, 60_000, 'traffic before the fault');

    await cluster.stopBroker(2, 'SIGKILL');
    const atKill = acked.length;
    await waitUntil(() => acked.length >= atKill + 200, 90_000, 'producing resumes with a broker down');
    await cluster.startBroker(2);
    const atRestart = acked.length;
    await waitUntil(() => acked.length >= atRestart + 200, 90_000, 'producing continues after the restart');
    stop = true;
    await produceLoop;
    await producer.disconnect();

    await waitUntil(() => acked.every((v) => consumed.has(v)), 90_000,
      `every acknowledged record consumed (missing ${acked.filter((v) => !consumed.has(v)).length} of ${acked.length})`);
    await consumer.disconnect();
    await admin.disconnect();

    // The proxy saw the broken connections, but never closed a client connection for a protocol error.
    const errorsMetric = await proxy.metrics.registry.getSingleMetric('kafka_proxy_connection_errors_total')!.get();
    const protocolErrors = errorsMetric.values.filter((v) => v.value > 0 && ['malformed', 'internal_error', 'oversized'].includes(String(v.labels.reason)));
    assert.deepEqual(protocolErrors, [], JSON.stringify(errorsMetric.values));
    assert.ok(acked.length >= 600);
  });
});
