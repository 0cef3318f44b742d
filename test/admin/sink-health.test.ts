/**
 * kafka_audit_sink_up follows the destination without any event flowing (src/audit/sink.ts healthCheck): a
 * transport whose check fails turns an idle sink degraded (0) within one interval, the reconnect loop brings it
 * back to up (1) with an empty spool, a sink that delivers events is not checked, and a sink without a check
 * (the file transport) has no timer. A fake transport, no broker: prometheus-live.test.ts does it with a real one.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AuditSink } from '../../src/audit/sink.js';
import type { AuditTransport } from '../../src/audit/transport.js';
import type { SpoolRecord } from '../../src/audit/spool.js';
import { ProxyMetrics } from '../../src/metrics.js';
import { createLogger, log as originalLog, setLogger } from '../../src/log.js';

let logged = '';
setLogger(createLogger('info', new Writable({ write(chunk, _enc, cb) { logged += String(chunk); cb(); } })));
after(() => setLogger(originalLog));
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const spoolDir = () => { const d = mkdtempSync(join(tmpdir(), 'kap-sink-health-')); dirs.push(d); return d; };

/** A destination that is up or down at the test's word, counting checks and sends. */
class FakeTransport implements AuditTransport {
  up = true;
  checks = 0;
  sent = 0;
  async connect(): Promise<void> { if (!this.up) throw new Error('fake audit cluster down'); }
  async send(records: SpoolRecord[]): Promise<void> { if (!this.up) throw new Error('fake audit cluster down'); this.sent += records.length; }
  async disconnect(): Promise<void> {}
  async check(): Promise<void> { this.checks++; if (!this.up) throw new Error('fake audit cluster did not answer Metadata'); }
  describe(): Record<string, unknown> { return { fake: true }; }
}

const sinkUp = async (m: ProxyMetrics) => (await m.auditSinkUp.get()).values[0]?.value;
async function until(what: string, fn: () => Promise<boolean> | boolean, ms = 5000): Promise<number> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

test('an idle sink turns 0 when its destination stops answering, and 1 again when it is back', async () => {
  const metrics = new ProxyMetrics({ collectDefault: false });
  const transport = new FakeTransport();
  const sink = new AuditSink({ spool: { dir: spoolDir(), fsync: 'never', maxBytes: 1_000_000 }, metrics, healthCheckMs: 100, reconnect: { initialMs: 20, maxMs: 50 } }, transport);
  const events: string[] = [];
  sink.on('degraded', () => events.push('degraded'));
  sink.on('recovered', () => events.push('recovered'));
  await sink.start();
  assert.equal(await sinkUp(metrics), 1);
  assert.equal((await metrics.auditSpoolMaxBytes.get()).values[0]?.value, 1_000_000, 'the spool limit is exported');
  await until('a few checks while up', () => transport.checks >= 2);
  assert.equal(await sinkUp(metrics), 1, 'passing checks keep it up');

  transport.up = false; // no event is submitted from here on
  const downAfter = await until('kafka_audit_sink_up 0', async () => await sinkUp(metrics) === 0);
  assert.ok(downAfter < 1000, `down within an interval or two (${downAfter} ms)`);
  assert.equal(sink.sinkState, 'degraded');
  assert.match(logged, /audit destination health check failed; audit events go to the local spool/);

  transport.up = true;
  await until('kafka_audit_sink_up 1 again, with an empty spool', async () => await sinkUp(metrics) === 1);
  assert.equal(sink.sinkState, 'up');
  assert.deepEqual(events, ['degraded', 'recovered']);
  await sink.close();
});

test('a sink that delivers events is not checked; without transport.check there is no timer', async () => {
  const metrics = new ProxyMetrics({ collectDefault: false });
  const transport = new FakeTransport();
  const sink = new AuditSink({ spool: { dir: spoolDir(), fsync: 'never', maxBytes: 1_000_000 }, metrics, healthCheckMs: 200, lingerMs: 1 }, transport);
  await sink.start();
  const record = { topic: 'audit', key: null, value: '{}', headers: {} };
  const internal = sink as unknown as { enqueue(r: typeof record, strict: boolean): Promise<void> };
  const t0 = Date.now();
  while (Date.now() - t0 < 700) { await internal.enqueue(record, true); await new Promise((r) => setTimeout(r, 50)); }
  assert.ok(transport.sent >= 10);
  assert.equal(transport.checks, 0, 'sends prove the destination; no check needed');
  await sink.close();

  const plain = new FakeTransport() as Partial<FakeTransport>;
  delete (plain as { check?: unknown }).check;
  Object.defineProperty(plain, 'check', { value: undefined });
  const fileLike = new AuditSink({ spool: { dir: spoolDir(), fsync: 'never', maxBytes: 1_000_000 }, healthCheckMs: 100 }, plain as AuditTransport);
  await fileLike.start();
  assert.equal((fileLike as unknown as { healthTimer?: unknown }).healthTimer, undefined, 'no timer without a check');
  await fileLike.close();
});
