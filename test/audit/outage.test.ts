/**
 * The audit cluster goes away while clients keep working through the proxy: events go to the local spool and
 * arrive exactly once, in per-instance sequence, when it comes back, also across a proxy restart mid-spool.
 * The proxied cluster is the run's shared cluster; the audit cluster is a 1-node cluster of this test's own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { startKafkaCluster, type KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { freePortBase } from '../harness/proxy.js';
import { startApp, type App } from '../../src/app.js';
import { verifyTopic } from '../../src/audit/verify.js';

describe('audit cluster outage and proxy restart mid-spool', () => {
  let proxied: KafkaCluster;
  let releaseProxied: () => Promise<void>;
  let audit: KafkaCluster;
  let work: string;
  const auditTopic = 'audit-outage';
  const n = Date.now();

  before(async () => {
    ({ cluster: proxied, release: releaseProxied } = await useCluster(3));
    audit = await startKafkaCluster({ brokers: 1 });
    work = mkdtempSync(join(tmpdir(), 'kap-outage-'));
  });
  after(async () => {
    await audit?.stop();
    await releaseProxied?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function startProxy(base: number): Promise<App> {
    return startApp({
      env: {},
      log: pino({ level: 'silent' }),
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase: base, advertisedHost: '127.0.0.1' },
        upstream: { bootstrapServers: proxied.plainBootstrap.split(',') },
        admin: { enabled: false, host: '127.0.0.1', port: 0 },
        audit: {
          brokers: audit.plainBootstrap.split(','), clusterId: proxied.clusterId, topic: auditTopic, partitions: 1, replicationFactor: 1,
          spool: { dir: join(work, 'state'), fsync: 'always', maxBytes: 64 * 1024 * 1024 }, batch: { maxEvents: 50, lingerMs: 5 },
        },
      },
    });
  }

  /** Creates and deletes `count` topics through the proxy; each yields one CreateTopics and one DeleteTopics event. */
  async function churn(app: App, prefix: string, count: number): Promise<string[]> {
    const admin = new Kafka({ brokers: [app.proxy.bootstrapAddress], logLevel: logLevel.NOTHING, clientId: 'outage-test' }).admin();
    await admin.connect();
    const names = Array.from({ length: count }, (_, i) => `${prefix}-${n}-${i}`);
    for (const topic of names) {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
    }
    await admin.deleteTopics({ topics: names });
    await admin.disconnect();
    return names;
  }

  test('events survive an audit broker outage and a proxy restart while spooled', async () => {
    const base = await freePortBase(3);
    let app = await startProxy(base);
    const before = await churn(app, 'up', 5);

    await audit.stopBroker(1);
    const during = await churn(app, 'down', 5); // clients are unaffected: the proxied cluster is up
    // Everything of that phase must be in the spool now (nothing can have been acknowledged).
    await app.stop(); // proxy restart while the audit cluster is still down: the spool stays on disk
    app = await startProxy(base);
    const afterRestart = await churn(app, 'restarted', 3);

    await audit.startBroker(1);
    // The sink reconnects with backoff and replays the spool before anything newer.
    const deadline = Date.now() + 90_000;
    let report = await verifyTopic({ brokers: audit.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 30_000 });
    const wanted = (before.length + during.length + afterRestart.length) * 2;
    const countOps = () => report.eventsRead.filter((e) => /kafka\.(Create|Delete)Topics/.test(e.data.methodName)).length;
    while (countOps() < wanted && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      report = await verifyTopic({ brokers: audit.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 30_000 });
    }
    await app.stop();
    report = await verifyTopic({ brokers: audit.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 30_000 });

    const events = report.eventsRead;
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'every event id arrives exactly once');
    for (const name of [...before, ...during, ...afterRestart]) {
      for (const method of ['kafka.CreateTopics', 'kafka.DeleteTopics']) {
        const found = events.filter((e) => e.data.methodName === method && e.data.resourceName.endsWith(`/topic=${name}`));
        assert.equal(found.length, 1, `${method} ${name}: ${found.length} events`);
      }
    }
    // One proxy instance (its id persists with the spool), one unbroken chain in sequence order.
    const instances = new Set(events.map((e) => e.auditinstance));
    assert.equal(instances.size, 1);
    const seqs = events.map((e) => e.auditseq!);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'events are in per-instance sequence order on the topic');
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'no sequence number is missing');
    assert.equal(report.ok, true, JSON.stringify(report.chain.problems));
    assert.ok(events.some((e) => e.data.methodName === 'proxy.AuditSinkDegraded'), 'the outage itself is an event');
    assert.ok(events.some((e) => e.data.methodName === 'proxy.AuditSinkRecovered'), 'so is the recovery');
  });
});
