/**
 * audit.sink: file: the same proxy, the same events, delivered as JSON lines to a local file instead of Kafka. A
 * CreateTopics the broker executed is in the file once, as a complete, chained CloudEvent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Decoded } from '../../protocol/codec.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { verifyChain } from '../../src/audit/chain.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { RawConnection } from '../harness/raw.js';
import { topicsKnown, waitForTopics } from '../harness/metadata.js';
import { eventsFor, startAuditedApp, type AuditedApp } from '../harness/audited-app.js';

describe('audit.sink: file', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: AuditedApp;
  let dir: string;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    dir = mkdtempSync(join(tmpdir(), 'kap-file-sink-'));
    proxy = await startAuditedApp(cluster, { sasl: false, audit: { sink: 'file', filePath: join(dir, 'out', 'audit.jsonl') } });
  });

  after(async () => {
    await proxy?.stop();
    await release?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('an executed CreateTopics is in the file once, and the file is a valid chain', async () => {
    const topic = `file-sink-${Date.now()}`;
    const c = await RawConnection.open(proxy.port);
    const res = await c.request(19, 5, { Topics: [{ Name: topic, NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] }], timeoutMs: 30_000, validateOnly: false });
    c.destroy();
    assert.equal((res.Topics as Decoded[])[0].ErrorCode, 0);
    await waitForTopics(cluster, [topic]);
    assert.ok((await topicsKnown(cluster, [topic])).has(topic));
    await proxy.stop(); // flushes the sink
    const events = readFileSync(join(dir, 'out', 'audit.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditEvent);
    const found = eventsFor(events, 'CreateTopics', topic);
    assert.equal(found.length, 1);
    assert.equal(found[0].data.result?.status, 'SUCCESS');
    assert.ok(events.some((e) => e.data.methodName === 'proxy.Started') && events.some((e) => e.data.methodName === 'proxy.Stopped'));
    const chain = verifyChain(events, { complete: true });
    assert.equal(chain.ok, true, JSON.stringify(chain.problems));
  });
});
