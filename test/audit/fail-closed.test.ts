/**
 * Fail-closed mode: when the audit cluster is down and the local spool is full, audited operations are
 * refused with a Kafka error (POLICY_VIOLATION) and never reach the broker; when the audit cluster is back,
 * they go through again. Fail-open (the default) is covered by the outage test.
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

describe('fail-closed mode', () => {
  let proxied: KafkaCluster;
  let releaseProxied: () => Promise<void>;
  let audit: KafkaCluster;
  let work: string;
  let app: App;

  before(async () => {
    ({ cluster: proxied, release: releaseProxied } = await useCluster(3));
    audit = await startKafkaCluster({ brokers: 1 });
    work = mkdtempSync(join(tmpdir(), 'kap-failclosed-'));
    app = await startApp({
      env: {}, log: pino({ level: 'silent' }),
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase: await freePortBase(3), advertisedHost: '127.0.0.1' },
        upstream: { bootstrapServers: proxied.plainBootstrap.split(',') },
        admin: { enabled: false, host: '127.0.0.1', port: 0 },
        audit: {
          brokers: audit.plainBootstrap.split(','), clusterId: proxied.clusterId, topic: 'audit-failclosed', partitions: 1, replicationFactor: 1,
          failMode: 'closed', spool: { dir: join(work, 'state'), fsync: 'always', maxBytes: 100_000 },
        },
      },
    });
  });
  after(async () => {
    await app?.stop();
    await audit?.stop();
    await releaseProxied?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('refuses audited operations with POLICY_VIOLATION once events cannot be made durable, and recovers', async () => {
    const kafka = new Kafka({ brokers: [app.proxy.bootstrapAddress], logLevel: logLevel.NOTHING, clientId: 'failclosed', retry: { retries: 0 } });
    const admin = kafka.admin();
    await admin.connect();
    const direct = new Kafka({ brokers: proxied.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
    await direct.connect();
    const n = Date.now();

    await audit.stopBroker(1);
    let refusedTopic: string | undefined;
    let refusal: Error | undefined;
    let accepted = 0;
    for (let i = 0; i < 300 && !refusedTopic; i++) {
      const topic = `fc-${n}-${i}`;
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
        accepted++;
      } catch (e) {
        refusedTopic = topic;
        refusal = e as Error;
      }
    }
    assert.ok(accepted > 0, 'operations are accepted while the spool has room');
    assert.ok(refusedTopic, `no refusal after ${accepted} operations`);
    const cause = (refusal as { errors?: { type?: string; message?: string }[] }).errors?.[0] ?? refusal;
    assert.match(JSON.stringify(cause) + String(refusal), /POLICY_VIOLATION|fail-closed/);
    assert.ok(!(await direct.listTopics()).includes(refusedTopic!), 'the refused operation never reached the broker');
    const refused = (await app.metrics.registry.getSingleMetric('kafka_audit_operations_refused_total')!.get()).values;
    assert.ok(refused.some((v) => v.labels.api === 'CreateTopics' && v.value >= 1));

    await audit.startBroker(1);
    const deadline = Date.now() + 90_000;
    let recovered = false;
    while (!recovered && Date.now() < deadline) {
      try {
        await admin.createTopics({ topics: [{ topic: `fc-${n}-after`, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
        recovered = true;
      } catch { await new Promise((r) => setTimeout(r, 1000)); }
    }
    assert.ok(recovered, 'operations are accepted again once the audit cluster is back');
    await admin.disconnect();
    await direct.disconnect();
  });
});
