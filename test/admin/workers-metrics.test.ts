/**
 * The primary's /metrics with `start --workers 2` (the CLI, as deployed), auditing to the shared cluster: every gauge
 * per worker with a `worker` label (two healthy sinks are two series at 1, not one at 2; process_max_fds is not
 * summed), counters summed without it, the readiness gauges, and `promtool check metrics` passing on the result.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { useCluster } from '../harness/shared-cluster.js';
import { waitFor } from '../harness/clients.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { proxyPorts, type ProxyPorts } from './ports.js';
import { parsePrometheusText } from './prom.js';
import { ROOT, promtool } from './prometheus.js';

describe('metrics of a proxy with 2 workers', { timeout: 180_000 }, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let ports: ProxyPorts;
  let proxy: ChildProcess | undefined;
  let stderr = '';
  const spoolDir = mkdtempSync(join(tmpdir(), 'kap-workers-metrics-'));
  const metricsText = async () => (await fetch(`http://127.0.0.1:${ports.adminPort}/metrics`)).text();

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    ports = await proxyPorts();
    const sets = {
      'listen.host': '127.0.0.1', 'listen.advertisedHost': '127.0.0.1',
      'listen.bootstrapPort': ports.bootstrapPort, 'listen.brokerPortBase': ports.brokerPortBase,
      'upstream.bootstrapServers': cluster.plainBootstrap,
      'admin.host': '127.0.0.1', 'admin.port': ports.adminPort,
      'audit.topic': `audit-workers-${randomBytes(4).toString('hex')}`, 'audit.partitions': 1, 'audit.replicationFactor': 1,
      'audit.spool.dir': spoolDir, 'audit.spool.fsync': 'never', 'audit.healthCheckIntervalMs': 1000, 'log.level': 'warn',
    };
    // The CLI rejects KAP_* variables it does not know (npm test sets KAP_TEST_CLUSTER_3).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KAP_')));
    proxy = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--workers', '2',
      ...Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`])], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    proxy.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    await waitFor(async () => {
      if (proxy!.exitCode !== null) throw new Error(`the proxy exited with ${proxy!.exitCode}: ${stderr}`);
      try { return (await fetch(`http://127.0.0.1:${ports.adminPort}/readyz`)).status === 200; } catch { return false; }
    }, 90_000, 'the proxy with 2 workers to be ready');
  });

  after(async () => {
    if (proxy && proxy.exitCode === null) {
      const exited = new Promise((r) => proxy!.once('exit', r));
      proxy.kill('SIGTERM');
      const t = setTimeout(() => proxy!.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(spoolDir, { recursive: true, force: true });
    await release?.();
  });

  test('gauges per worker, counters summed, promtool check metrics passes', async () => {
    await waitFor(async () => parsePrometheusText(await metricsText()).find('kafka_audit_sink_up', { worker: '2' })[0]?.value === 1, 30_000, 'both sinks up');
    const text = await metricsText();
    const m = parsePrometheusText(text);
    assert.deepEqual(m.find('kafka_audit_sink_up').map((s) => `${s.labels.worker}=${s.value}`).sort(), ['1=1', '2=1'], 'one series per worker, not a sum of 2');
    const fds = m.find('process_max_fds');
    assert.deepEqual(fds.map((s) => s.labels.worker).sort(), ['1', '2'], 'process_max_fds per worker');
    assert.equal(fds[0].value, fds[1].value, 'each the process limit, not their sum');
    assert.deepEqual(m.find('kafka_audit_spool_max_bytes').map((s) => s.labels.worker).sort(), ['1', '2']);
    const refused = m.find('kafka_proxy_connections_rejected_total', { reason: 'max_per_address' });
    assert.deepEqual(refused.map((s) => [s.labels.worker, s.value]), [[undefined, 0]], 'counters summed over the workers, exported at 0');
    assert.equal(m.sum('kafka_audit_events_total', { method: 'proxy.Started' }), 2, 'each worker recorded its start; the counter is summed');
    assert.deepEqual([m.sum('kafka_proxy_ready'), m.sum('kafka_proxy_upstream_up')], [1, 1], 'readiness of the whole proxy');
    const r = await promtool(['check', 'metrics'], text);
    assert.equal(r.code, 0, `promtool check metrics on the primary's /metrics:\n${r.output}`);
  });
});
