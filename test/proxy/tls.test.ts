/**
 * TLS on either side of the proxy, against a 1-node cluster of its own with an SSL listener (certificates from
 * makeTestCerts: a test CA that signed the server certificate, and an unrelated CA):
 *   (a) termination: clients speak TLS to the proxy (listen.tls), the proxy speaks PLAINTEXT to the broker;
 *   (b) origination: clients speak PLAINTEXT to the proxy, the proxy speaks TLS to the broker's SSL listener
 *       (upstream.tls) and verifies it.
 * Both directions are checked for the failure case too: the wrong CA must fail the handshake, visibly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { startKafkaCluster, type KafkaCluster } from '../harness/kafka-cluster.js';
import type { TestCerts } from '../harness/tls.js';
import { metricValue, parsedLogs, startTestProxy, type TestProxy } from '../harness/proxy.js';
import { waitFor } from '../harness/clients.js';

/** No retries by default, so a refused connection fails at once; round trips pass `retry` (see roundTrip). */
function kafka(bootstrap: string, extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'tls-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 5000, ...extra,
  });
}
/** Round trips keep kafkajs's retries: a new group's first FindCoordinator is answered COORDINATOR_NOT_AVAILABLE
 * while __consumer_offsets is created, with or without the proxy. */
const RETRY = { retry: { retries: 5 } };

/** Creates a topic, produces `count` messages, consumes them back in a group; all through `client`. */
async function roundTrip(client: Kafka, topic: string, count = 50): Promise<void> {
  const admin = client.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: false });
    await waitFor(async () => (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.every((p) => p.leader >= 0));
    const producer = client.producer();
    await producer.connect();
    const sent = Array.from({ length: count }, (_, i) => `${topic}-${i}`);
    await producer.send({ topic, messages: sent.map((value, i) => ({ key: `k${i % 5}`, value })) });
    await producer.disconnect();

    const consumer = client.consumer({ groupId: `g-${topic}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} messages arrived`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          received.push(message.value!.toString());
          if (received.length === count) { clearTimeout(timer); resolve(); }
        },
      });
    });
    await consumer.disconnect();
    assert.deepEqual(received.sort(), [...sent].sort());
  } finally {
    await admin.disconnect();
  }
}

describe('TLS on both sides of the proxy (1 node with an SSL listener)', () => {
  let cluster: KafkaCluster;
  let certs: TestCerts;
  const proxies: TestProxy[] = [];

  before(async () => {
    cluster = await startKafkaCluster({ brokers: 1, tls: true });
    certs = cluster.certs!;
  });
  after(async () => {
    for (const p of proxies) await p.stop();
    await cluster?.stop();
  });

  async function proxyFor(upstream: string, patch: Parameters<typeof startTestProxy>[1]): Promise<TestProxy> {
    const p = await startTestProxy(upstream, patch);
    proxies.push(p);
    return p;
  }

  describe('(a) termination: TLS clients, PLAINTEXT upstream', () => {
    let proxy: TestProxy;
    before(async () => {
      proxy = await proxyFor(cluster.plainBootstrap, (c) => {
        c.listen.tls = { cert: certs.serverCert, key: certs.serverKey };
        c.listen.securityProtocol = 'SSL';
      });
    });

    test('kafkajs trusting the test CA creates a topic, produces and consumes in a group through the proxy', async () => {
      await roundTrip(kafka(proxy.bootstrap, { ...RETRY, ssl: { ca: [readFileSync(certs.caCert, 'utf8')] } }), `tls-term-${Date.now()}`);
      // Every client connection, bootstrap and per-broker, was TLS: a plaintext hello on the broker port gets nowhere.
      const brokerPort = proxy.brokerPortBase + cluster.brokers[0].nodeId;
      const info = await new Promise<{ protocol: string | null; authorized: boolean }>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: brokerPort, ca: readFileSync(certs.caCert) }, () => {
          const result = { protocol: s.getProtocol(), authorized: s.authorized };
          // end(), not destroy(): let the proxy finish its side of the handshake (else it counts a failed one).
          s.end();
          s.once('close', () => resolve(result));
        });
        s.once('error', reject);
      });
      assert.equal(info.authorized, true, 'the per-broker listener presents the server certificate too');
      assert.match(info.protocol ?? '', /^TLSv1\.[23]$/);
      const ops = proxy.auditor.ops.filter((o) => o.method === 'CreateTopics');
      assert.ok(ops.length >= 1 && ops.every((o) => o.connection?.securityProtocol === 'SSL'));
      assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_connection_errors_total', { reason: 'tls_handshake' }), 0);
    });

    test('a client trusting only another CA is refused; the proxy logs and counts the failed handshake', async () => {
      const before = await metricValue(proxy.metrics, 'kafka_proxy_connection_errors_total', { reason: 'tls_handshake' });
      const linesBefore = proxy.logLines.length;
      const admin = kafka(proxy.bootstrap, { ssl: { ca: [readFileSync(certs.wrongCaCert, 'utf8')] } }).admin();
      let error: Error | undefined;
      try { await admin.connect(); } catch (e) { error = e as Error; } finally { await admin.disconnect(); }
      assert.ok(error, 'kafkajs must not connect');
      // kafkajs wraps the TLS error: "Connection error: unable to verify the first certificate".
      assert.match(error.message, /unable to verify the first certificate|self[- ]signed certificate/);

      await waitFor(async () => (await metricValue(proxy.metrics, 'kafka_proxy_connection_errors_total', { reason: 'tls_handshake' })) > before,
        5000, 'tls_handshake counted');
      const line = parsedLogs(proxy).slice(linesBefore).find((l) => l.msg === 'TLS handshake with client failed');
      assert.ok(line, 'a log line names the failed TLS handshake');
      assert.equal(line.level, 40);
      assert.equal(line.listener, 'bootstrap');
      assert.match(String(line.client), /^127\.0\.0\.1:\d+$/, `the line names the client: ${JSON.stringify(line)}`);
      // A Node client that rejects the certificate just hangs up (no TLS alert), so that is all the proxy can report.
      assert.match(String(line.reason), /socket hang up|alert|unknown ca|certificate/i);
      // A refused handshake never became a proxied connection (nothing was dialed upstream for it).
      assert.ok(!parsedLogs(proxy).some((l) => l.msg === 'connection closed by the proxy' && l.kind === 'upstream_unreachable'));
    });

    test('a plaintext client on the TLS port gets nothing and is counted as a failed handshake', async () => {
      const before = await metricValue(proxy.metrics, 'kafka_proxy_connection_errors_total', { reason: 'tls_handshake' });
      const admin = kafka(proxy.bootstrap, { connectionTimeout: 2000, requestTimeout: 3000 }).admin();
      await assert.rejects(async () => { try { await admin.connect(); } finally { await admin.disconnect(); } });
      await waitFor(async () => (await metricValue(proxy.metrics, 'kafka_proxy_connection_errors_total', { reason: 'tls_handshake' })) > before,
        10_000, 'tls_handshake counted');
    });
  });

  describe('(b) origination: PLAINTEXT clients, TLS upstream', () => {
    test('with upstream.tls.ca = the test CA, kafkajs creates a topic, produces and consumes through the proxy', async () => {
      const proxy = await proxyFor(cluster.sslBootstrap!, (c) => { c.upstream.tls = { ca: certs.caCert }; });
      await roundTrip(kafka(proxy.bootstrap, RETRY), `tls-orig-${Date.now()}`);
      assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_connection_errors_total'), 0);
      // The broker saw SSL connections from the proxy: its SSL listener is the only one the proxy was pointed at, and
      // the per-broker upstream address came from Metadata on that listener.
      assert.ok(proxy.server.brokers.upstreamOf(cluster.brokers[0].nodeId)?.port === cluster.brokers[0].sslPort);
    });

    test('with upstream.tls.ca = an unrelated CA, every connection fails and the log says why', async () => {
      const proxy = await proxyFor(cluster.sslBootstrap!, (c) => { c.upstream.tls = { ca: certs.wrongCaCert }; c.upstream.connectTimeoutMs = 3000; });
      const admin = kafka(proxy.bootstrap, { connectionTimeout: 3000, requestTimeout: 5000 }).admin();
      await assert.rejects(async () => { try { await admin.connect(); } finally { await admin.disconnect(); } });
      const line = parsedLogs(proxy).find((l) => l.msg === 'connection closed by the proxy' && l.kind === 'upstream_unreachable');
      assert.ok(line, 'a warning for the failed upstream connection');
      assert.equal(line.level, 40);
      assert.match(String(line.reason), new RegExp(`cannot reach upstream bootstrap servers: .*127\\.0\\.0\\.1:${cluster.brokers[0].sslPort}: `
        + '(self[- ]signed certificate in certificate chain|unable to verify the first certificate|unable to get local issuer certificate)'));
      assert.ok(await metricValue(proxy.metrics, 'kafka_proxy_connection_errors_total', { reason: 'upstream_unreachable' }) >= 1);
    });
  });
});
