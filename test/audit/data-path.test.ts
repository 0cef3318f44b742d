/**
 * Produce/consume auditing (off by default): with `first-per-connection`, the first write and the first read
 * of each connection on each topic become events (who wrote or read where, from which address), never the
 * payloads; with the default rules no Produce/Fetch event is written at all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { freePortBase } from '../harness/proxy.js';
import { waitForTopics } from '../harness/metadata.js';
import { startApp } from '../../src/app.js';
import { verifyTopic } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { assertNoSecret } from '../harness/secrets.js';

/** The record values sent: never in an event or a log line, in any encoding (test/harness/secrets.ts). */
const PAYLOADS = Array.from({ length: 5 }, (_, i) => `payload-secret-${i}`);

describe('produce/consume auditing', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let work: string;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    work = mkdtempSync(join(tmpdir(), 'kap-datapath-'));
  });
  after(async () => {
    await release?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function run(rules: Record<string, unknown>, tag: string): Promise<{ events: AuditEvent[]; topic: string; logLines: string[] }> {
    const auditTopic = `audit-datapath-${tag}-${Date.now()}`;
    const logLines: string[] = [];
    const app = await startApp({
      env: {}, log: pino({ level: 'trace' }, { write: (line: string) => { logLines.push(line); } }), // every level
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase: await freePortBase(3), advertisedHost: '127.0.0.1' },
        upstream: { bootstrapServers: cluster.plainBootstrap.split(',') },
        admin: { enabled: false, host: '127.0.0.1', port: 0 },
        audit: {
          brokers: cluster.plainBootstrap.split(','), clusterId: cluster.clusterId, topic: auditTopic, partitions: 1, replicationFactor: 3,
          spool: { dir: join(work, tag), fsync: 'never', maxBytes: 64 * 1024 * 1024 }, rules,
        },
      },
    });
    const topic = `datapath-${tag}-${Date.now()}`;
    try {
      const kafka = new Kafka({ brokers: [app.proxy.bootstrapAddress], logLevel: logLevel.NOTHING, clientId: `dp-${tag}` });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: false });
      await waitForTopics(cluster, [topic]);
      const producer = kafka.producer();
      await producer.connect();
      for (const value of PAYLOADS) await producer.send({ topic, messages: [{ value }] });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: `g-${topic}` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let got = 0;
      await new Promise<void>((resolve) => { void consumer.run({ eachMessage: async () => { if (++got === 5) resolve(); } }); });
      await consumer.disconnect();
      await admin.disconnect();
    } finally {
      await app.stop();
    }
    const report = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 30_000 });
    assert.equal(report.ok, true);
    return { events: report.eventsRead, topic, logLines };
  }

  test('off by default: no Produce or Fetch events, management events still there', async () => {
    const { events, topic, logLines } = await run({}, 'off');
    assertNoSecret(logLines.join(''), PAYLOADS, 'the proxy log');
    assert.equal(events.filter((e) => /kafka\.(Produce|Fetch)$/.test(e.data.methodName)).length, 0);
    assert.equal(events.filter((e) => e.data.methodName === 'kafka.CreateTopics' && e.data.resourceName.endsWith(`/topic=${topic}`)).length, 1);
  });

  test('first-per-connection: one Produce and one Fetch event per connection and topic, no payloads', async () => {
    const { events, topic, logLines } = await run({ categories: { produce: 'first-per-connection', consume: 'first-per-connection' } }, 'first');
    const produce = events.filter((e) => e.data.methodName === 'kafka.Produce' && e.data.resourceName.endsWith(`/topic=${topic}`));
    const fetch = events.filter((e) => e.data.methodName === 'kafka.Fetch' && e.data.resourceName.endsWith(`/topic=${topic}`));
    assert.equal(produce.length, 1, `five sends on one producer connection give one event, got ${produce.length}`);
    assert.deepEqual((produce[0].data as any).authorizationInfo, { granted: true, operation: 'Write', resourceType: 'Topic', resourceName: topic, patternType: 'LITERAL' });
    assert.equal(produce[0].data.result?.status, 'SUCCESS');
    assert.ok(fetch.length >= 1, 'the consumer\'s first fetch is audited');
    assert.equal((fetch[0].data as any).authorizationInfo.operation, 'Read');
    assert.equal(new Set(fetch.map((e) => (e.data as any).requestMetadata.client_address)).size, fetch.length, 'at most one Fetch event per connection');
    assert.ok(!JSON.stringify(events).includes('payload-secret'), 'record payloads are never audited');
    assertNoSecret(events, PAYLOADS, 'audit events');
    assertNoSecret(logLines.join(''), PAYLOADS, 'the proxy log');
  });
});
