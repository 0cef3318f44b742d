/**
 * Fail-closed with the audit cluster unreachable and a small spool: a request naming hundreds of resources is
 * refused whole before it reaches the broker (none of its topics exists afterwards, checked after a barrier), a
 * small one that fits is forwarded and its events are in the spool, and the proxy survives the outage (the
 * sink-degraded lifecycle event in closed mode once ended the process with an unhandled rejection).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Decoded } from '../../protocol/codec.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { RawConnection } from '../harness/raw.js';
import { assertNeverCreated, waitForTopics } from '../harness/metadata.js';
import { startAuditedApp, type AuditedApp } from '../harness/audited-app.js';
import { metricValue } from '../harness/proxy.js';

const POLICY_VIOLATION = 44;

describe('fail-closed: a request is audited whole or refused whole, before the broker', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: AuditedApp;
  const run = Date.now().toString(36);

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    proxy = await startAuditedApp(cluster, {
      sasl: false,
      audit: {
        failMode: 'closed', brokers: ['127.0.0.1:1'], // nothing listens there: the audit cluster is down from the start
        spool: { maxBytes: 200_000 },
      },
    });
  });

  after(async () => {
    await proxy?.stop();
    await release?.();
  });

  const createTopics = (names: string[]): Decoded => ({
    Topics: names.map((Name) => ({ Name, NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] })), timeoutMs: 30_000, validateOnly: false,
  });

  test('400 topics in one CreateTopics: refused whole with POLICY_VIOLATION, none created', async () => {
    const names = Array.from({ length: 400 }, (_, i) => `fc-${run}-many-${i}`);
    const c = await RawConnection.open(proxy.port);
    const res = await c.request(19, 5, createTopics(names));
    c.destroy();
    const topics = res.Topics as Decoded[];
    assert.equal(topics.length, 400);
    assert.ok(topics.every((t) => t.ErrorCode === POLICY_VIOLATION), 'every topic refused');
    assert.equal(await metricValue(proxy.app.metrics, 'kafka_audit_operations_refused_total', { api: 'CreateTopics' }), 1);
    await assertNeverCreated(cluster, names);
  });

  test('2 topics: admitted, created, and their events are durable in the spool', async () => {
    const names = [`fc-${run}-few-0`, `fc-${run}-few-1`];
    const c = await RawConnection.open(proxy.port);
    const res = await c.request(19, 5, createTopics(names));
    c.destroy();
    assert.deepEqual((res.Topics as Decoded[]).map((t) => t.ErrorCode), [0, 0]);
    await waitForTopics(cluster, names);
    const spoolDir = join(proxy.spoolDir, 'spool');
    const deadline = Date.now() + 10_000;
    let spooled = '';
    while (Date.now() < deadline) {
      spooled = readdirSync(spoolDir).filter((f) => f.endsWith('.jsonl')).map((f) => readFileSync(join(spoolDir, f), 'utf8')).join('');
      if (names.every((n) => spooled.includes(`topic=${n}`))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const n of names) assert.ok(spooled.includes(`topic=${n}`), `the event of ${n} is in the spool`);
    assert.equal(await metricValue(proxy.app.metrics, 'kafka_proxy_internal_errors_total'), 0, 'no unhandled rejection on the way');
  });
});
