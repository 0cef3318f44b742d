/**
 * What an alert needs from the exposition, without a cluster: labelled counters with a known set of values exported
 * at 0 from the start (increase() over a series' first sample is 0, so a counter first seen at 2 never fired), the
 * label lists in src/metrics.ts complete against the sources that count, no kafka_audit_sink_up without an audit
 * sink, and the primary's aggregation of workers: gauges per worker, counters summed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AUDIT_FILTER_REASONS, CONNECTION_ERROR_REASONS, CONNECTION_REJECT_REASONS, INTERNAL_ERROR_KINDS, ProxyMetrics,
} from '../../src/metrics.js';
import { aggregateWorkerMetrics } from '../../src/workers.js';
import { parsePrometheusText } from './prom.js';
import { ROOT } from './prometheus.js';

const src = (path: string) => readFileSync(join(ROOT, path), 'utf8');
/** The string literals of a union type `export type Name = 'a' | 'b' ...;` (or a constructor parameter's). */
const unionOf = (text: string, anchor: RegExp): string[] => {
  const m = anchor.exec(text);
  assert.ok(m, `found ${anchor}`);
  return [...m[1].matchAll(/'([a-z_]+)'/g)].map((x) => x[1]);
};

describe('metric label sets', () => {
  test('every known label set is exported at 0 before anything is counted', async () => {
    const m = parsePrometheusText(await new ProxyMetrics({ collectDefault: false }).registry.metrics());
    const expectZero = (name: string, label: string, values: readonly string[]) => {
      for (const v of values) {
        const s = m.find(name, { [label]: v });
        assert.equal(s.length, 1, `${name}{${label}="${v}"} exported`);
        assert.equal(s[0].value, 0, `${name}{${label}="${v}"} at 0`);
      }
    };
    expectZero('kafka_proxy_connections_rejected_total', 'reason', CONNECTION_REJECT_REASONS);
    expectZero('kafka_proxy_connection_errors_total', 'reason', CONNECTION_ERROR_REASONS);
    expectZero('kafka_audit_events_filtered_total', 'reason', AUDIT_FILTER_REASONS);
    expectZero('kafka_proxy_internal_errors_total', 'kind', INTERNAL_ERROR_KINDS);
    expectZero('kafka_proxy_unknown_principal_total', 'mechanism', ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER', 'other']);
    expectZero('kafka_audit_operations_refused_total', 'api', ['CreateTopics', 'DeleteTopics', 'CreateAcls', 'IncrementalAlterConfigs']);
    expectZero('kafka_proxy_connections_total', 'listener', ['bootstrap', 'broker']);
    assert.deepEqual(m.find('kafka_proxy_leader_hints_total').map((s) => `${s.labels.api} ${s.labels.outcome} ${s.value}`).sort(),
      ['Fetch dropped 0', 'Fetch rewritten 0', 'Produce dropped 0', 'Produce rewritten 0', 'ShareFetch dropped 0', 'ShareFetch rewritten 0']);
    assert.ok(m.find('kafka_audit_operations_refused_total').length >= 20, 'every refusable API');
  });

  test('the label lists cover every reason the sources count', () => {
    const frameReasons = unionOf(src('src/proxy/frame-reader.ts'), /export type FrameErrorReason =([^;]+);/);
    // close(message, errorReason?, ...): the second argument, after a template or string literal message.
    const closeReasons = [...src('src/proxy/connection.ts').matchAll(/this\.close\((?:`[^`]*`|'[^']*'), '([a-z_]+)'/g)].map((x) => x[1]);
    const closeTernary = [...src('src/proxy/connection.ts').matchAll(/'(partial_frame_timeout)'/g)].map((x) => x[1]);
    const serverErrors = [...src('src/proxy/server.ts').matchAll(/connectionErrors\.inc\(\{ reason: '([a-z_]+)' \}/g)].map((x) => x[1]);
    for (const r of [...frameReasons, ...closeReasons, ...closeTernary, ...serverErrors]) {
      assert.ok((CONNECTION_ERROR_REASONS as readonly string[]).includes(r), `connection error reason ${r} is in CONNECTION_ERROR_REASONS (src/metrics.ts)`);
    }
    assert.ok(closeReasons.length >= 3 && serverErrors.length >= 1, 'the patterns still find the sources');
    const rejects = [...src('src/proxy/server.ts').matchAll(/(?:reject\([^;]*?, |connectionsRejected\.inc\(\{ reason: )'([a-z_]+)'/g)].map((x) => x[1]);
    const header = src('src/proxy/proxy-header-reader.ts');
    const headerReasons = header ? unionOf(header, /readonly reason: ([^)]+)\)/) : [];
    for (const r of [...rejects, ...headerReasons]) {
      assert.ok((CONNECTION_REJECT_REASONS as readonly string[]).includes(r), `connection refusal reason ${r} is in CONNECTION_REJECT_REASONS (src/metrics.ts)`);
    }
    assert.ok(rejects.length >= 3, 'the patterns still find the refusals');
    for (const r of unionOf(src('src/audit/rules.ts'), /export type FilterReason =([^;]+);/)) {
      assert.ok((AUDIT_FILTER_REASONS as readonly string[]).includes(r), `filter reason ${r} is in AUDIT_FILTER_REASONS`);
    }
    for (const k of [...src('src/process-guard.ts').matchAll(/kind: '([a-z_]+)'/g)].map((x) => x[1])) {
      assert.ok((INTERNAL_ERROR_KINDS as readonly string[]).includes(k), `internal error kind ${k} is in INTERNAL_ERROR_KINDS`);
    }
  });

  test('no kafka_audit_sink_up without an audit sink; once set, it is exported', async () => {
    const m = new ProxyMetrics({ collectDefault: false });
    assert.doesNotMatch(await m.registry.metrics(), /kafka_audit_sink_up/, 'audit.enabled: false exports no sink state (a 0 would fire KafkaAuditSinkDown)');
    assert.deepEqual((await m.auditSinkUp.get()).values, []);
    m.auditSinkUp.set(0);
    m.auditSinkUp.set(1);
    assert.match(await m.registry.metrics(), /\nkafka_audit_sink_up 1\n/);
  });

  test('prom-client\'s nodejs_active_*_total gauges are not exported (promtool rejects them); their labelled forms are', async () => {
    const text = await new ProxyMetrics().registry.metrics();
    assert.doesNotMatch(text, /nodejs_active_\w+_total/);
    assert.match(text, /\nnodejs_active_handles\{/);
  });

  test('workers: gauges per worker (one degraded of two reads 0, limits are not summed), counters summed', async () => {
    const w1 = new ProxyMetrics();
    const w2 = new ProxyMetrics();
    w1.auditSinkUp.set(1);
    w2.auditSinkUp.set(0);
    w1.auditSpoolMaxBytes.set(1000);
    w2.auditSpoolMaxBytes.set(1000);
    w1.connectionsRejected.inc({ reason: 'max_per_address' }, 2);
    w2.connectionsRejected.inc({ reason: 'max_per_address' }, 3);
    w1.requestLatency.observe({ api: 'Produce' }, 0.002);
    w2.requestLatency.observe({ api: 'Produce' }, 0.002);
    const m = parsePrometheusText(await aggregateWorkerMetrics([[1, await w1.registry.getMetricsAsJSON()], [2, await w2.registry.getMetricsAsJSON()]]).metrics());
    assert.deepEqual(m.find('kafka_audit_sink_up').map((s) => [s.labels.worker, s.value]).sort(), [['1', 1], ['2', 0]]);
    assert.deepEqual(m.find('kafka_audit_spool_max_bytes').map((s) => s.value), [1000, 1000], 'a limit per worker, not 2000');
    const fds = m.find('process_max_fds');
    assert.equal(fds.length, 2, 'process_max_fds per worker');
    for (const s of fds) assert.ok(s.labels.worker, 'with a worker label');
    assert.equal(m.find('process_start_time_seconds').length, 2, 'start times kept per worker (prom-client would omit them)');
    assert.deepEqual(m.find('kafka_proxy_connections_rejected_total', { reason: 'max_per_address' }).map((s) => [s.labels.worker, s.value]), [[undefined, 5]], 'counters summed, no worker label');
    assert.equal(m.sum('kafka_proxy_request_duration_seconds_count', { api: 'Produce' }), 2, 'histograms summed');
    assert.equal(m.find('kafka_proxy_connections_active', { listener: 'broker' }).length, 2, 'connections_active per worker; sum() still adds them up');
  });
});
