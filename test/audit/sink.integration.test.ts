/**
 * KafkaAuditSink against a real Kafka 3.9 broker (test/harness/kafka-cluster.ts): outage → spool → replay, and a
 * proxy restart while events are still in the spool. Starts its own single-node cluster because it stops and
 * restarts the broker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaCluster, type KafkaCluster } from '../harness/kafka-cluster.js';
import type { AuditOperation } from '../../src/audit/operation.js';
import { buildAuditEvent, type AuditEvent } from '../../src/audit/event.js';
import { AuditChain, verifyChain } from '../../src/audit/chain.js';
import { KafkaAuditSink, type KafkaAuditSinkConfig } from '../../src/audit/sink.js';
import { verifyTopic } from '../../src/audit/verify.js';
import { ProxyMetrics } from '../../src/metrics.js';

const ctx = { clusterId: 'lkc-audit-it' };

function op(i: number): AuditOperation {
  return {
    category: 'management', method: 'CreateTopics', correlationId: i, clientId: 'it',
    connection: { connectionId: 'k1', clientAddress: '127.0.0.1:5000', principal: 'User:alice', securityProtocol: 'SASL_PLAINTEXT', saslMechanism: 'PLAIN' },
    resource: { type: 'Topic', name: `t-${i}` }, operation: 'Create', result: { errorCode: 0, errorName: 'NONE' },
    details: { i }, timeMs: Date.now(),
  };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const gauge = async (g: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await g.get()).values.reduce((a, v) => a + v.value, 0);

describe('KafkaAuditSink with a real broker', { timeout: 600_000 }, () => {
  let cluster: KafkaCluster;
  const dirs: string[] = [];
  const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'audit-sink-it-')); dirs.push(d); return d; };
  const sinkConfig = (dir: string, topic: string, metrics: ProxyMetrics): KafkaAuditSinkConfig => ({
    brokers: cluster.plainBootstrap.split(','),
    clientId: 'audit-sink-it',
    topics: [topic],
    topic: { partitions: 3, replicationFactor: 1, retentionMs: 7 * 24 * 3600 * 1000 },
    spool: { dir, fsync: 'always', maxBytes: 50 * 1024 * 1024 },
    lingerMs: 10,
    batchSize: 20,
    reconnect: { initialMs: 200, maxMs: 1000 },
    sendTimeoutMs: 15_000,
    metrics,
  });

  before(async () => { cluster = await startKafkaCluster({ brokers: 1 }); });
  after(async () => {
    await cluster?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('broker outage: 50 sent, 50 spooled while down, all 100 arrive exactly once and in order after it is back', async (t) => {
    const started = Date.now();
    const topic = 'audit-it-outage';
    const dir = tmp();
    const metrics = new ProxyMetrics({ collectDefault: false });
    const chain = AuditChain.open(dir);
    const sink = new KafkaAuditSink(sinkConfig(dir, topic, metrics));
    const transitions: string[] = [];
    sink.on('degraded', () => transitions.push('degraded'));
    sink.on('recovered', () => transitions.push('recovered'));
    await sink.start();
    assert.equal(sink.sinkState, 'up');

    const submitted: AuditEvent[] = [];
    const submit = (i: number) => {
      const ev = chain.seal(buildAuditEvent(op(i), ctx), topic);
      submitted.push(JSON.parse(JSON.stringify(ev)) as AuditEvent);
      return sink.submit(ev, topic);
    };

    await Promise.all(Array.from({ length: 50 }, (_, i) => submit(i + 1)));
    assert.equal(sink.pending, 0);
    assert.equal(await gauge(metrics.auditSinkUp), 1);

    await cluster.stopBroker(1);
    const tDown = Date.now();
    await Promise.all(Array.from({ length: 50 }, (_, i) => submit(i + 51))); // resolve once spooled
    t.diagnostic(`50 events durable in the spool ${Date.now() - tDown} ms after the broker stopped`);
    assert.equal(sink.sinkState, 'degraded');
    assert.equal(await gauge(metrics.auditSpooled), 50);
    assert.equal(await gauge(metrics.auditSinkUp), 0);
    assert.ok(await gauge(metrics.auditSpoolBytes) > 0);
    assert.deepEqual(transitions, ['degraded']);

    await cluster.startBroker(1);
    const tUp = Date.now();
    await waitFor('the spool to be replayed', () => sink.sinkState === 'up' && sink.pending === 0, 120_000);
    t.diagnostic(`spool replayed ${Date.now() - tUp} ms after the broker was back`);
    assert.deepEqual(transitions, ['degraded', 'recovered']);
    assert.equal(await gauge(metrics.auditReplayed), 50);
    assert.equal(await gauge(metrics.auditSpoolBytes), 0);
    assert.equal(await gauge(metrics.auditDropped), 0);
    await sink.close();

    const report = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic, fromBeginning: true, timeoutMs: 60_000 });
    assert.equal(report.ok, true, JSON.stringify({ problems: report.chain.problems, unparseable: report.unparseable, timedOut: report.timedOut }));
    assert.equal(report.records, 100);
    assert.equal(report.complete, true);
    assert.deepEqual(report.chain.problems, []);
    assert.deepEqual(report.eventsRead.map((e) => e.auditseq), Array.from({ length: 100 }, (_, i) => i + 1));
    assert.deepEqual(report.eventsRead.map((e) => e.id), submitted.map((e) => e.id));
    assert.deepEqual(report.eventsRead, submitted); // byte-for-byte the events that were submitted
    assert.equal(report.partitions.filter((p) => p.read > 0).length, 1, 'one instance = one key = one partition');

    // Tampering is checked on the events as read back: alter one, remove one.
    const altered = report.eventsRead.map((e) => JSON.parse(JSON.stringify(e)) as AuditEvent);
    altered[41].data.authenticationInfo!.principal = 'User:mallory';
    assert.deepEqual(verifyChain(altered, { complete: true }).problems.map((p) => [p.kind, p.seq]), [['altered', 42], ['broken-link', 43]]);
    const removed = report.eventsRead.filter((e) => e.auditseq !== 60);
    assert.deepEqual(verifyChain(removed, { complete: true }).problems.map((p) => [p.kind, p.seq]), [['gap', 60]]);
    t.diagnostic(`outage test took ${Date.now() - started} ms`);
  });

  test('proxy restart while events are in the spool: a new sink on the same spool dir replays them once, in order', async (t) => {
    const started = Date.now();
    const topic = 'audit-it-restart';
    const dir = tmp();

    await cluster.stopBroker(1);
    const m1 = new ProxyMetrics({ collectDefault: false });
    const chain1 = AuditChain.open(dir);
    const sink1 = new KafkaAuditSink(sinkConfig(dir, topic, m1));
    await sink1.start(); // cluster unreachable: starts degraded
    assert.equal(sink1.sinkState, 'degraded');
    const submitted: AuditEvent[] = [];
    const submitTo = (sink: KafkaAuditSink, chain: AuditChain, i: number) => {
      const ev = chain.seal(buildAuditEvent(op(i), ctx), topic);
      submitted.push(JSON.parse(JSON.stringify(ev)) as AuditEvent);
      return sink.submit(ev, topic);
    };
    await Promise.all(Array.from({ length: 30 }, (_, i) => submitTo(sink1, chain1, i + 1)));
    assert.equal(await gauge(m1.auditSpooled), 30);
    await sink1.close(); // "proxy stops": the 30 events stay in the spool

    await cluster.startBroker(1);
    const m2 = new ProxyMetrics({ collectDefault: false });
    const chain2 = AuditChain.open(dir); // same instance id, sequence continues
    assert.equal(chain2.instanceId, chain1.instanceId);
    const sink2 = new KafkaAuditSink(sinkConfig(dir, topic, m2));
    await sink2.start();
    // New events right away: they must land after the 30 spooled ones.
    await Promise.all(Array.from({ length: 10 }, (_, i) => submitTo(sink2, chain2, i + 31)));
    await waitFor('the spool to be replayed', () => sink2.sinkState === 'up' && sink2.pending === 0, 120_000);
    // The 10 new events were spooled behind the old 30 (or sent directly if the replay had already finished).
    assert.equal(await gauge(m2.auditReplayed), 30 + (await gauge(m2.auditSpooled)));
    await sink2.close();

    const report = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic, fromBeginning: true, timeoutMs: 60_000 });
    assert.equal(report.ok, true, JSON.stringify(report.chain.problems));
    assert.equal(report.records, 40);
    assert.deepEqual(report.eventsRead.map((e) => e.auditseq), Array.from({ length: 40 }, (_, i) => i + 1));
    assert.deepEqual(report.eventsRead, submitted);
    t.diagnostic(`restart test took ${Date.now() - started} ms`);
  });
});
