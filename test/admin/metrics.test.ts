/**
 * The admin HTTP server as an operator sees it: startApp in front of the shared 3-broker cluster (PLAINTEXT
 * upstream; the audit producer logs in to the same cluster over SASL/SCRAM, so a real secret sits in the
 * configuration), real kafkajs traffic through the proxy, then /metrics, /healthz and /readyz scraped over HTTP.
 * A second app whose upstream is a dead port shows /readyz answering 503 with the reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { pino } from 'pino';
import { useCluster } from '../harness/shared-cluster.js';
import { waitForTopics } from '../harness/metadata.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { proxyPorts } from './ports.js';
import { startApp, type App } from '../../src/app.js';
import { parsePrometheusText, type Scrape } from './prom.js';
import { waitForValue } from '../harness/clients.js';
import { assertNoSecret } from '../harness/secrets.js';

const { Kafka, logLevel } = kafkajs;
const AUDIT_PASSWORD = 'admin-secret';
const PAYLOAD_MARKER = `payload-${randomBytes(6).toString('hex')}`;

async function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

async function scrape(port: number): Promise<{ text: string; m: Scrape }> {
  const r = await get(port, '/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return { text: r.body, m: parsePrometheusText(r.body) };
}

describe('admin server: /metrics, /healthz, /readyz with real traffic', { timeout: 300_000 }, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let app: App;
  let deadApp: App | undefined;
  const logLines: string[] = [];
  const dirs: string[] = [];
  const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'kap-admin-')); dirs.push(d); return d; };
  const auditTopic = `audit-metrics-${randomBytes(4).toString('hex')}`;
  const dataTopic = `metrics-data-${randomBytes(4).toString('hex')}`;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    const { brokerPortBase } = await proxyPorts();
    app = await startApp({
      env: {},
      log: pino({ level: 'trace' }, { write: (s: string) => { logLines.push(s); } }), // every level: a secret logged at debug counts
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase, advertisedHost: '127.0.0.1' },
        upstream: { bootstrapServers: cluster.plainBootstrap.split(',') },
        admin: { enabled: true, host: '127.0.0.1', port: 0 },
        shutdown: { drainTimeoutMs: 5_000 },
        audit: {
          topic: auditTopic, partitions: 1, replicationFactor: 1,
          brokers: cluster.saslBootstrap.split(','),
          sasl: { mechanism: 'scram-sha-256', username: 'admin', password: AUDIT_PASSWORD },
          spool: { dir: tmp(), fsync: 'never', maxBytes: 64 * 1024 * 1024 },
          batch: { maxEvents: 100, lingerMs: 5 },
        },
      },
    });
    assert.ok(app.adminPort && app.adminPort > 0, 'admin.port 0 binds an ephemeral port and reports it');
  });

  after(async () => {
    if (process.env.KAP_TEST_LOG_DIR) writeFileSync(join(process.env.KAP_TEST_LOG_DIR, 'admin-metrics.log'), logLines.join(''));
    try {
      await app?.stop();
      await deadApp?.stop();
      await release?.();
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });

  test('traffic through the proxy is counted with the right labels; no secret or payload leaks', async () => {
    const kafka = new Kafka({
      clientId: 'metrics-test', brokers: [app.proxy.bootstrapAddress], logLevel: logLevel.NOTHING, retry: { retries: 5 },
      connectionTimeout: 10_000, requestTimeout: 30_000, // the test box may be very busy
    });
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const consumer = kafka.consumer({ groupId: `metrics-test-${randomBytes(4).toString('hex')}`, allowAutoTopicCreation: false });
    const sends = 5;
    try {
      await admin.connect();
      // waitForLeaders: false, then wait here: right after a create, KRaft brokers may still answer Metadata with
      // UNKNOWN_TOPIC_OR_PARTITION, which kafkajs's own wait does not retry.
      assert.equal(await admin.createTopics({ topics: [{ topic: dataTopic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false }), true);
      await waitForTopics(cluster, [dataTopic]); // every broker, not just the one kafkajs happens to ask
      // The second create answers TOPIC_ALREADY_EXISTS (error code 36); kafkajs reports it as "false".
      assert.equal(await admin.createTopics({ topics: [{ topic: dataTopic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false }), false);

      await producer.connect();
      for (let i = 0; i < sends; i++) await producer.send({ topic: dataTopic, acks: -1, messages: [{ key: `k${i}`, value: `${PAYLOAD_MARKER}-${i}-${'x'.repeat(1000)}` }] });

      const got: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: dataTopic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => { got.push(message.value!.toString()); } });
      await waitForValue('the consumer to fetch every message', async () => got.length >= sends, 60_000);

      // While the clients are connected.
      const live = (await scrape(app.adminPort!)).m;
      assert.ok(live.sum('kafka_proxy_connections_active') >= 2, 'connections_active counts the open client connections');
      assert.ok(live.sum('kafka_proxy_connections_active', { listener: 'broker' }) >= 1, 'connections_active has a broker listener series');
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }

    // Audit events are counted when handed to the sink; wait for delivery too (pending back to 0).
    const { text, m } = await waitForValue('audit events of both CreateTopics delivered', async () => {
      const s = await scrape(app.adminPort!);
      return s.m.sum('kafka_audit_events_total', { method: 'kafka.CreateTopics' }) >= 2 && s.m.sum('kafka_audit_sink_pending_events') === 0 ? s : undefined;
    });

    // Connections.
    assert.ok(m.sum('kafka_proxy_connections_total', { listener: 'bootstrap' }) >= 1, 'bootstrap connections counted');
    assert.ok(m.sum('kafka_proxy_connections_total', { listener: 'broker' }) >= 1, 'broker connections counted');
    assert.equal(m.types.get('kafka_proxy_connections_total'), 'counter');
    assert.equal(m.types.get('kafka_proxy_connections_active'), 'gauge');
    await waitForValue('connections_active back to 0 after the clients disconnected', async () =>
      (await scrape(app.adminPort!)).m.sum('kafka_proxy_connections_active') === 0, 15_000);

    // Requests by API and version.
    const produce = m.find('kafka_proxy_requests_total', { api: 'Produce' });
    assert.ok(produce.length >= 1, 'a Produce series exists');
    for (const s of produce) assert.match(s.labels.version, /^\d+$/, 'version label is the request version number');
    assert.ok(produce.reduce((a, s) => a + s.value, 0) >= sends, `at least ${sends} Produce requests`);
    assert.ok(m.sum('kafka_proxy_requests_total', { api: 'Fetch' }) >= 1, 'Fetch requests counted');
    assert.ok(m.sum('kafka_proxy_requests_total', { api: 'CreateTopics' }) === 2, 'both CreateTopics requests counted');

    // Responses by Kafka error code: the failed create is error 36, the successful one 0.
    assert.equal(m.sum('kafka_proxy_responses_total', { api: 'CreateTopics', error_code: '36' }), 1, 'TOPIC_ALREADY_EXISTS counted under error_code 36');
    assert.equal(m.sum('kafka_proxy_responses_total', { api: 'CreateTopics', error_code: '0' }), 1, 'the successful CreateTopics under error_code 0');

    // Latency histogram for Produce: cumulative buckets, +Inf == count, a positive sum.
    assert.equal(m.types.get('kafka_proxy_request_duration_seconds'), 'histogram');
    const buckets = m.find('kafka_proxy_request_duration_seconds_bucket', { api: 'Produce' });
    assert.ok(buckets.length >= 10, 'Produce has its buckets');
    const count = m.sum('kafka_proxy_request_duration_seconds_count', { api: 'Produce' });
    assert.ok(count >= sends, 'every Produce observed');
    assert.equal(buckets.find((b) => b.labels.le === '+Inf')?.value, count, '+Inf bucket equals the count');
    const ordered = buckets.map((b) => ({ le: b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), v: b.value })).sort((a, b) => a.le - b.le);
    for (let i = 1; i < ordered.length; i++) assert.ok(ordered[i].v >= ordered[i - 1].v, 'buckets are cumulative');
    assert.ok(m.sum('kafka_proxy_request_duration_seconds_sum', { api: 'Produce' }) > 0);
    assert.ok(m.sum('kafka_proxy_upstream_duration_seconds_count', { api: 'Produce' }) >= sends, 'upstream latency observed too');

    // Bytes in both directions: at least the payloads (5 x ~1 KB produced and fetched back).
    assert.ok(m.sum('kafka_proxy_bytes_total', { direction: 'client_to_broker' }) > sends * 1000, 'client_to_broker bytes include the produced payloads');
    assert.ok(m.sum('kafka_proxy_bytes_total', { direction: 'broker_to_client' }) > sends * 1000, 'broker_to_client bytes include the fetched payloads');

    // Audit.
    assert.equal(m.sum('kafka_audit_events_total', { method: 'kafka.CreateTopics' }), 2, 'one event per CreateTopics, failed or not');
    assert.equal(m.sum('kafka_audit_events_total', { method: 'proxy.Started' }), 1, 'the started lifecycle event');
    for (const s of m.find('kafka_audit_events_total')) assert.ok(s.labels.type, 'audit events carry the CloudEvents type label');
    assert.equal(m.sum('kafka_audit_events_total', { method: 'kafka.Produce' }), 0, 'produce is off by default');
    const dropped = m.find('kafka_audit_events_dropped_total');
    assert.ok(dropped.length > 0, 'the dropped counter is exported (at 0) before anything is dropped, so alerts and dashboards see a series');
    assert.equal(m.sum('kafka_audit_events_dropped_total'), 0, 'nothing dropped');
    // The sink may have started degraded (a brand-new audit topic can briefly be unknown to the broker answering
    // Metadata) and spooled the first events; by now everything spooled must have been replayed.
    const sink = await waitForValue('audit sink up with an empty spool', async () => {
      const s = (await scrape(app.adminPort!)).m;
      return s.sum('kafka_audit_sink_up') === 1 && s.sum('kafka_audit_spool_bytes') === 0 ? s : undefined;
    });
    assert.deepEqual(sink.find('kafka_audit_sink_up').map((s) => s.value), [1], 'audit sink up');
    assert.equal(sink.sum('kafka_audit_events_replayed_total'), sink.sum('kafka_audit_events_spooled_total'), 'everything spooled was replayed');
    assert.equal(sink.sum('kafka_audit_events_dropped_total'), 0, 'still nothing dropped');

    // Process metrics (prom-client defaults).
    assert.ok(m.sum('process_resident_memory_bytes') > 10 * 1024 * 1024, 'resident memory reported');
    assert.ok(m.find('process_cpu_seconds_total').length === 1);
    assert.ok(m.find('nodejs_eventloop_lag_seconds').length === 1);

    // Nothing secret or private: the audit password, the record payloads, in any encoding (test/harness/secrets.ts).
    const privateValues = { 'the audit password': AUDIT_PASSWORD, 'a record payload': PAYLOAD_MARKER };
    assertNoSecret(text, privateValues, '/metrics');
    assert.ok(!text.includes('secret'), '/metrics must not contain "secret"');
    assertNoSecret(logLines.join(''), privateValues, 'the proxy log (trace level)');
    for (const path of ['/healthz', '/readyz', '/nope']) assertNoSecret((await get(app.adminPort!, path)).body, privateValues, `the answer to ${path}`);
  });

  test('/healthz is 200; /readyz is 200 when upstream and audit sink are fine; other paths and methods', async () => {
    const h = await get(app.adminPort!, '/healthz');
    assert.deepEqual([h.status, h.body], [200, 'ok\n']);
    const r = await get(app.adminPort!, '/readyz');
    assert.deepEqual([r.status, r.body], [200, 'ready\n']);
    assert.equal((await get(app.adminPort!, '/nope')).status, 404);
    const post = await fetch(`http://127.0.0.1:${app.adminPort}/metrics`, { method: 'POST' });
    assert.equal(post.status, 405);
    await post.text();
  });

  test('/readyz is 503 with the reason when the upstream is unreachable (liveness stays 200)', async () => {
    const { brokerPortBase, deadPort } = await proxyPorts();
    deadApp = await startApp({
      env: {},
      log: pino({ level: 'silent' }),
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase, advertisedHost: '127.0.0.1' },
        upstream: { bootstrapServers: [`127.0.0.1:${deadPort}`], connectTimeoutMs: 1000 },
        admin: { enabled: true, host: '127.0.0.1', port: 0 },
        audit: {
          topic: `${auditTopic}-dead`, partitions: 1, replicationFactor: 1, brokers: cluster.plainBootstrap.split(','),
          spool: { dir: tmp(), fsync: 'never', maxBytes: 64 * 1024 * 1024 },
        },
      },
    });
    const r = await get(deadApp.adminPort!, '/readyz');
    assert.equal(r.status, 503);
    assert.equal(r.body, `not ready: no upstream bootstrap server reachable (127.0.0.1:${deadPort})\n`);
    assert.equal((await get(deadApp.adminPort!, '/healthz')).status, 200, 'liveness does not depend on the upstream');
    // The audit cluster itself is fine: the sink comes up and the upstream stays the only reason.
    await waitForValue('the second app\'s audit sink up', async () => (await scrape(deadApp!.adminPort!)).m.sum('kafka_audit_sink_up') === 1);
    assert.equal((await get(deadApp.adminPort!, '/readyz')).body, `not ready: no upstream bootstrap server reachable (127.0.0.1:${deadPort})\n`);
    // The same check as metrics, for KafkaProxyUpstreamUnreachable.
    const m = (await scrape(deadApp.adminPort!)).m;
    assert.deepEqual([m.sum('kafka_proxy_upstream_up'), m.sum('kafka_proxy_ready')], [0, 0], 'upstream_up and ready 0');
    const good = (await scrape(app.adminPort!)).m;
    assert.deepEqual([good.sum('kafka_proxy_upstream_up'), good.sum('kafka_proxy_ready')], [1, 1], 'the healthy app: 1 and 1');
  });

  test('audit.enabled: false exports no kafka_audit_sink_up (a 0 would read as an outage), and is ready', async () => {
    const { brokerPortBase } = await proxyPorts();
    const plain = await startApp({
      env: {},
      log: pino({ level: 'silent' }),
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase, advertisedHost: '127.0.0.1' },
        upstream: { bootstrapServers: cluster.plainBootstrap.split(',') },
        admin: { enabled: true, host: '127.0.0.1', port: 0 },
        audit: { enabled: false },
      },
    });
    try {
      const { m } = await scrape(plain.adminPort!);
      assert.deepEqual(m.find('kafka_audit_sink_up'), []);
      assert.deepEqual(m.find('kafka_audit_spool_max_bytes'), []);
      assert.equal(m.sum('kafka_proxy_ready'), 1);
      assert.equal(m.find('kafka_proxy_connections_rejected_total', { reason: 'max_per_address' })[0]?.value, 0, 'refusal reasons exported at 0');
    } finally {
      await plain.stop();
    }
  });
});
