/**
 * KafkaAuditSink without a broker (nothing listens on the port): degraded start, spooling, spool-full handling
 * in fail-open and fail-closed mode, and no SASL password in any log line. The real-broker paths are in
 * sink.integration.test.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, log as originalLog, setLogger } from '../../src/log.js';
import { freePort } from '../harness/ports.js';
import { buildLifecycleEvent } from '../../src/audit/event.js';
import { AuditChain } from '../../src/audit/chain.js';
import { AuditNotDurableError, KafkaAuditSink, eventToRecord, type KafkaAuditSinkConfig } from '../../src/audit/sink.js';
import { Spool } from '../../src/audit/spool.js';
import { AuditPipeline } from '../../src/audit/pipeline.js';
import { AuditRules, parseRulesConfig } from '../../src/audit/rules.js';
import { ProxyMetrics } from '../../src/metrics.js';
import { assertNoSecret } from '../harness/secrets.js';

const PASSWORD = 'audit-Pa55word-never-logged';
let logged = '';
// Every level (trace): a secret logged at debug or trace counts.
setLogger(createLogger('trace', new Writable({ write(chunk, _enc, cb) { logged += String(chunk); cb(); } })));
after(() => setLogger(originalLog));

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'audit-sink-')); dirs.push(d); return d; };

const chain = AuditChain.inMemory('inst-unit');
const event = () => chain.seal(buildLifecycleEvent('started', { clusterId: 'c' }), 'audit');
const counter = async (c: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> }, reason?: string) =>
  (await c.get()).values.filter((v) => reason === undefined || v.labels.reason === reason).reduce((a, v) => a + v.value, 0);

async function deadSink(over: Partial<KafkaAuditSinkConfig>, metrics: ProxyMetrics): Promise<KafkaAuditSink> {
  const port = await freePort(); // nothing listens there
  return new KafkaAuditSink({
    brokers: [`127.0.0.1:${port}`], sasl: { mechanism: 'plain', username: 'audit', password: PASSWORD },
    spool: { dir: tmp(), fsync: 'never', maxBytes: 1_000_000 }, lingerMs: 5, reconnect: { initialMs: 50, maxMs: 200 },
    connectionTimeoutMs: 500, metrics, ...over,
  });
}

test('record shape: key = instance id, CloudEvents structured-mode headers', () => {
  const ev = event();
  const r = eventToRecord(ev, 'audit');
  assert.equal(r.key, 'inst-unit');
  assert.equal(r.headers?.['content-type'], 'application/cloudevents+json; charset=UTF-8');
  assert.equal(r.headers?.ce_id, ev.id);
  assert.equal(r.headers?.ce_type, 'io.kafkaauditproxy/lifecycle');
  assert.deepEqual(JSON.parse(r.value), JSON.parse(JSON.stringify(ev)));
});

test('unreachable at start: degraded, events durable in the spool, reconnect keeps trying', async () => {
  const metrics = new ProxyMetrics({ collectDefault: false });
  const sink = await deadSink({}, metrics);
  const states: string[] = [];
  sink.on('degraded', () => states.push('degraded'));
  await sink.start();
  assert.equal(sink.sinkState, 'degraded');
  assert.deepEqual(states, ['degraded']);
  await Promise.all([sink.submit(event(), 'audit'), sink.submit(event(), 'audit')]);
  await sink.submit(event(), 'audit', true);
  assert.equal(await counter(metrics.auditSpooled), 3);
  assert.equal(await counter(metrics.auditSinkUp), 0);
  assert.equal(sink.pending, 3);
  await new Promise((r) => setTimeout(r, 400)); // a few reconnect attempts
  assert.equal(states.length, 1, 'degraded is announced once per outage');
  await sink.close();
});

test('fail-open + spool full: submit resolves, the drop is counted and logged at error level', async () => {
  const metrics = new ProxyMetrics({ collectDefault: false });
  const sink = await deadSink({ spool: { dir: tmp(), fsync: 'never', maxBytes: 1500 } }, metrics);
  await sink.start();
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => sink.submit(event(), 'audit')));
  assert.ok(results.every((r) => r.status === 'fulfilled'));
  assert.ok(await counter(metrics.auditDropped, 'spool_full') > 0);
  assert.match(logged, /"level":50[^\n]*audit spool full: \d+ audit event\(s\) could not be recorded and are dropped \(fail-open\)/);
  // A strict submit (write-ahead completion) rejects even in fail-open mode
  await assert.rejects(sink.submit(event(), 'audit', true), AuditNotDurableError);
  await sink.close();
});

test('fail-closed + spool full: submit rejects so the proxy can fail the request', async () => {
  const metrics = new ProxyMetrics({ collectDefault: false });
  const sink = await deadSink({ failMode: 'closed', spool: { dir: tmp(), fsync: 'never', maxBytes: 900 } }, metrics);
  await sink.start();
  await sink.submit(event(), 'audit'); // fits
  await assert.rejects(Promise.all(Array.from({ length: 5 }, () => sink.submit(event(), 'audit'))), (e: Error) => {
    assert.ok(e instanceof AuditNotDurableError);
    assert.match(e.message, /audit cluster unavailable and spool full/);
    assertNoSecret(`${e.stack}\n${JSON.stringify(e)}\n${String((e as { cause?: unknown }).cause)}`, { 'the audit password': PASSWORD }, 'the error');
    return true;
  });
  assert.ok(await counter(metrics.auditDropped, 'spool_full_fail_closed') > 0);
  await sink.close();
  await assert.rejects(sink.submit(event(), 'audit'), /closing|closed/);
});

test('a closed sink keeps its spooled events for the next one; an externally owned Spool stays open', async () => {
  const metrics = new ProxyMetrics({ collectDefault: false });
  const dir = tmp();
  const spool = await Spool.open({ dir, fsync: 'never', maxBytes: 1_000_000 });
  const sink = await deadSink({ spool }, metrics);
  await sink.start();
  await sink.submit(event(), 'audit');
  await sink.close();
  assert.equal(spool.pendingRecords, 1);
  await spool.append([{ topic: 'audit', value: '{}' }]); // still open: owned by the caller
  await spool.close();
});

test('the pipeline accepts the Kafka sink (type check) and the SASL password never reaches a log line or an event', async () => {
  const metrics = new ProxyMetrics({ collectDefault: false });
  const spoolDir = tmp();
  const sink = await deadSink({ spool: { dir: spoolDir, fsync: 'never', maxBytes: 1_000_000 } }, metrics);
  const p = new AuditPipeline({ rules: new AuditRules(parseRulesConfig({})), sink, clusterId: 'c', chain: AuditChain.inMemory(), metrics });
  await sink.start();
  p.lifecycle('started', { sasl: { username: 'audit', password: PASSWORD } });
  await p.close();
  assert.ok(logged.length > 0);
  assert.ok(logged.includes('"username":"audit"'), 'connection description is logged');
  assertNoSecret(logged, { 'the audit password': PASSWORD }, 'the log'); // in any encoding: base64, hex, a Buffer's JSON, ...
  // The lifecycle event went to the spool (the audit cluster is unreachable): not there either.
  const spooled = readdirSync(spoolDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile())
    .map((d) => readFileSync(join(d.parentPath ?? d.path, d.name)).toString('latin1')).join('\n');
  assert.ok(spooled.includes('proxy.Started'), 'the lifecycle event is in the spool');
  assertNoSecret(spooled, { 'the audit password': PASSWORD }, 'the spooled events');
  assertNoSecret(await metrics.registry.metrics(), { 'the audit password': PASSWORD }, 'the metrics');
});
