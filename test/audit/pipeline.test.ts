import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { AuditOperation } from '../../src/audit/operation.js';
import type { AuditEvent } from '../../src/audit/event.js';
import { AuditChain, verifyChain } from '../../src/audit/chain.js';
import { AuditRules, parseRulesConfig } from '../../src/audit/rules.js';
import { AuditPipeline, type AuditSinkLike } from '../../src/audit/pipeline.js';
import { ProxyMetrics } from '../../src/metrics.js';

class FakeSink extends EventEmitter implements AuditSinkLike {
  events: Array<{ event: AuditEvent; topic: string }> = [];
  fail = false;
  closed = false;
  submit(event: AuditEvent, topic: string): Promise<void> {
    this.events.push({ event: JSON.parse(JSON.stringify(event)) as AuditEvent, topic });
    return this.fail ? Promise.reject(new Error('not durable')) : Promise.resolve();
  }
  async close(): Promise<void> { this.closed = true; }
}

let n = 0;
const op = (over: Partial<AuditOperation> = {}): AuditOperation => ({
  category: 'management', method: 'CreateTopics', correlationId: ++n, clientId: 'c',
  connection: { connectionId: 'k1', clientAddress: '10.0.0.5:5000', principal: 'User:alice', securityProtocol: 'PLAINTEXT' },
  resource: { type: 'Topic', name: 'orders' }, operation: 'Create', result: { errorCode: 0, errorName: 'NONE' }, timeMs: 1_700_000_000_000 + n,
  ...over,
});

function setup(rules: unknown, failMode: 'open' | 'closed' = 'open') {
  const sink = new FakeSink();
  const metrics = new ProxyMetrics({ collectDefault: false });
  const p = new AuditPipeline({ rules: new AuditRules(parseRulesConfig(rules), { selfPrincipal: 'User:audit' }), sink, clusterId: 'lkc-1', chain: AuditChain.inMemory('inst'), metrics, failMode });
  return { sink, metrics, p };
}

const counter = async (c: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> }, labels: Record<string, string> = {}) =>
  (await c.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);

test('rules -> event -> chain -> sink, with routing and metrics', async () => {
  const { sink, metrics, p } = setup({ routes: [{ match: { method: 'Delete*' }, topic: 'audit-deletes' }], categories: { describe: 'off' } });
  assert.equal(p.record(op()), undefined);
  p.record(op({ method: 'DeleteTopics', operation: 'Delete' }));
  p.record(op({ category: 'describe', method: 'Metadata' }));
  p.record(op({ connection: { connectionId: 'k2', clientAddress: '1.1.1.1:1', principal: 'User:audit', securityProtocol: 'PLAINTEXT' } }));
  assert.deepEqual(sink.events.map((e) => [e.event.data.methodName, e.topic]), [['kafka.CreateTopics', 'confluent-audit-log-events'], ['kafka.DeleteTopics', 'audit-deletes']]);
  assert.deepEqual(sink.events.map((e) => [e.event.auditstream, e.event.auditseq]), [['confluent-audit-log-events', 1], ['audit-deletes', 1]]);
  assert.equal(await counter(metrics.auditEvents), 2);
  assert.equal(await counter(metrics.auditFiltered, { reason: 'category_off' }), 1);
  assert.equal(await counter(metrics.auditFiltered, { reason: 'excluded_principal' }), 1);
  await p.close();
  assert.equal(sink.events.at(-1)!.event.data.methodName, 'proxy.Stopped');
  assert.equal(sink.closed, true);
  assert.equal(verifyChain(sink.events.map((e) => e.event), { complete: true }).ok, true);
});

test('dedupe through the pipeline: summary event carries count/firstTime/lastTime and is chained', async () => {
  const { sink, metrics, p } = setup({ dedupe: { windowMs: 100, maxEntries: 10 } });
  const denied = () => op({ result: { errorCode: 29, errorName: 'TOPIC_AUTHORIZATION_FAILED' } });
  const ops = [denied(), denied(), denied(), denied()];
  for (const o of ops) p.record(o);
  assert.equal(sink.events.length, 1);
  assert.equal(sink.events[0].event.data.count, undefined);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(sink.events.length, 2);
  const s = sink.events[1].event;
  assert.equal(s.data.count, 3);
  assert.equal(s.data.firstTime, new Date(ops[1].timeMs).toISOString());
  assert.equal(s.data.lastTime, new Date(ops[3].timeMs).toISOString());
  assert.equal(s.type, 'io.confluent.kafka.server/authorization');
  assert.equal(await counter(metrics.auditFiltered, { reason: 'dedupe' }), 3);
  await p.close();
  assert.equal(verifyChain(sink.events.map((e) => e.event), { complete: true }).ok, true);
});

test('reloadRules: invalid config keeps the old rules; valid config applies and records config-reloaded', async () => {
  const { sink, p } = setup({});
  assert.throws(() => p.reloadRules({ categories: { produce: 'maybe' } }), /audit\.rules\.categories\.produce/);
  p.reloadRules({ categories: { management: 'off' } });
  assert.equal(sink.events.at(-1)!.event.data.methodName, 'proxy.ConfigReloaded');
  const before = sink.events.length;
  p.record(op());
  assert.equal(sink.events.length, before);
  // the proxy's own principal stays excluded after a reload
  p.reloadRules({ categories: { management: 'on' } });
  p.record(op({ connection: { connectionId: 'k2', clientAddress: '1.1.1.1:1', principal: 'User:audit', securityProtocol: 'PLAINTEXT' } }));
  assert.equal(sink.events.at(-1)!.event.data.methodName, 'proxy.ConfigReloaded');
  await p.close();
});

test('fail-closed returns the durability promise; fail-open never throws', async () => {
  const closed = setup({}, 'closed');
  await closed.p.record(op());
  closed.sink.fail = true;
  await assert.rejects(Promise.resolve(closed.p.record(op())), /not durable/);
  const open = setup({}, 'open');
  open.sink.fail = true;
  assert.equal(open.p.record(op()), undefined);
});

test('sink degraded/recovered become lifecycle events', async () => {
  const { sink, p } = setup({});
  sink.emit('degraded', { reason: 'x' });
  sink.emit('recovered', { degradedForMs: 5 });
  assert.deepEqual(sink.events.map((e) => [e.event.type, e.event.data.methodName]), [
    ['io.kafkaauditproxy/lifecycle', 'proxy.AuditSinkDegraded'], ['io.kafkaauditproxy/lifecycle', 'proxy.AuditSinkRecovered'],
  ]);
  await p.close();
});

test('oversized details are truncated before sealing (event stays verifiable)', async () => {
  const { sink, p } = setup({});
  p.record(op({ details: { assignments: Array.from({ length: 20000 }, (_, i) => ({ partition: i, replicas: [1, 2, 3] })), validateOnly: false } }));
  const ev = sink.events[0].event;
  assert.deepEqual(Object.keys(ev.data.details!), ['truncated', 'originalBytes', 'keys']);
  assert.deepEqual(ev.data.details!.keys, ['assignments', 'validateOnly']);
  assert.ok(Buffer.byteLength(JSON.stringify(ev)) <= 65536);
  await p.close();
  assert.equal(verifyChain(sink.events.map((e) => e.event)).ok, true);
});
