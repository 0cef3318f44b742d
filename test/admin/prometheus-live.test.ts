/**
 * A real Prometheus (Debian's, started here in the foreground on a loopback port, scraping every second with the
 * shipped alert rules) in front of a proxy whose upstream is the shared 3-broker cluster and whose audit cluster is
 * a broker of its own:
 * - `promtool check metrics` on the live /metrics after real traffic, `promtool check config` on the config;
 * - every Grafana query (panels and template variables) evaluates, and returns data unless it is about something
 *   the traffic did not do; no alert is pending or firing while all is well;
 * - the audit broker stopped with no client connected: the KafkaAuditSinkDown expression (read from alerts.yaml)
 *   turns true within a scrape or two and the alert goes pending; started again, the sink is back up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { useCluster } from '../harness/shared-cluster.js';
import { startKafkaCluster, type KafkaCluster } from '../harness/kafka-cluster.js';
import { waitForTopics } from '../harness/metadata.js';
import { waitForValue } from '../harness/clients.js';
import { startApp, type App } from '../../src/app.js';
import { proxyPorts } from './ports.js';
import { parsePrometheusText } from './prom.js';
import { ALERTS_FILE, DASHBOARD_FILE, promtool, scrapeConfig, startPrometheus, type RunningPrometheus } from './prometheus.js';

const { Kafka, logLevel } = kafkajs;
const JOB = 'kafka-audit-proxy';
/** Panel queries that may be empty after this traffic: counters with open-ended labels, counted only once seen. */
const MAY_BE_EMPTY = new Map([
  ['Frames forwarded undecoded, requests with trailing bytes/A', 'no frame went undecoded'],
  ['Frames forwarded undecoded, requests with trailing bytes/B', 'no request had trailing bytes'],
]);

describe('a real Prometheus scraping the proxy: dashboard queries, alert expressions, promtool', { timeout: 300_000 }, () => {
  let upstream: KafkaCluster;
  let release: () => Promise<void>;
  let audit: KafkaCluster;
  let app: App;
  let prom: RunningPrometheus | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'kap-prom-live-'));
  const logLines: string[] = [];
  const dataTopic = `prom-live-${randomBytes(4).toString('hex')}`;
  const metricsText = async () => (await fetch(`http://127.0.0.1:${app.adminPort}/metrics`)).text();

  before(async () => {
    ({ cluster: upstream, release } = await useCluster(3));
    audit = await startKafkaCluster({ brokers: 1 });
    const { brokerPortBase } = await proxyPorts();
    app = await startApp({
      env: {},
      log: pino({ level: 'info' }, { write: (s: string) => { logLines.push(s); } }),
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase, advertisedHost: '127.0.0.1' },
        upstream: { bootstrapServers: upstream.plainBootstrap.split(',') },
        admin: { enabled: true, host: '127.0.0.1', port: 0 },
        shutdown: { drainTimeoutMs: 5_000 },
        audit: {
          topic: 'audit-prom-live', partitions: 1, replicationFactor: 1, brokers: audit.plainBootstrap.split(','),
          spool: { dir: join(dir, 'spool'), fsync: 'never', maxBytes: 64 * 1024 * 1024 },
          batch: { maxEvents: 100, lingerMs: 5 },
          healthCheckIntervalMs: 1000, // the default is 15 s, as coarse as a default scrape interval
        },
      },
    });
  });

  after(async () => {
    if (process.env.KAP_TEST_LOG_DIR) writeFileSync(join(process.env.KAP_TEST_LOG_DIR, 'admin-prometheus-live.log'), logLines.join('') + (prom?.log() ?? ''));
    try {
      await prom?.stop();
      await app?.stop();
      await audit?.stop();
      await release?.();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('traffic through the proxy; promtool check metrics on the live /metrics', async () => {
    const kafka = new Kafka({ clientId: 'prom-live', brokers: [app.proxy.bootstrapAddress], logLevel: logLevel.NOTHING, retry: { retries: 5 }, connectionTimeout: 10_000, requestTimeout: 30_000 });
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const consumer = kafka.consumer({ groupId: `prom-live-${randomBytes(4).toString('hex')}`, allowAutoTopicCreation: false });
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: dataTopic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
      await waitForTopics(upstream, [dataTopic]);
      // A second create: TOPIC_ALREADY_EXISTS feeds the error-responses panel.
      await admin.createTopics({ topics: [{ topic: dataTopic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false });
      await producer.connect();
      for (let i = 0; i < 3; i++) await producer.send({ topic: dataTopic, acks: -1, messages: [{ value: `m${i}` }] });
      let got = 0;
      await consumer.connect();
      await consumer.subscribe({ topic: dataTopic, fromBeginning: true });
      await consumer.run({ eachMessage: async () => { got++; } });
      await waitForValue('the consumer to fetch the messages', async () => got >= 3, 60_000);
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
    await waitForValue('audit events delivered', async () => {
      const m = parsePrometheusText(await metricsText());
      return m.sum('kafka_audit_events_total', { method: 'kafka.CreateTopics' }) >= 2 && m.sum('kafka_audit_sink_pending_events') === 0
        && m.sum('kafka_audit_sink_up') === 1;
    });
    const text = await metricsText();
    const r = await promtool(['check', 'metrics'], text);
    assert.equal(r.code, 0, `promtool check metrics on the live /metrics:\n${r.output}`);
    const m = parsePrometheusText(text);
    assert.equal(m.sum('kafka_proxy_upstream_up'), 1);
    assert.equal(m.sum('kafka_proxy_ready'), 1);
  });

  test('Prometheus scrapes it; every Grafana query evaluates and has data; nothing fires while all is well', async () => {
    const { adminPort: promPort } = await proxyPorts();
    const config = scrapeConfig(`127.0.0.1:${app.adminPort}`, 1);
    writeFileSync(join(dir, 'check.yml'), config);
    const checked = await promtool(['check', 'config', join(dir, 'check.yml')]);
    assert.equal(checked.code, 0, checked.output);
    prom = await startPrometheus(dir, config, promPort);
    // Rates need two samples in their window; a few scrapes and rule evaluations.
    await waitForValue('five scrapes of the proxy', async () => {
      const r = await prom!.query(`count_over_time(up{job="${JOB}"}[1m])`);
      return r.length === 1 && Number(r[0].value[1]) >= 5;
    }, 30_000);
    assert.equal((await prom.query(`up{job="${JOB}"}`))[0]?.value[1], '1', 'the target is up');

    const dash = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
      panels: Array<{ type: string; title: string; targets?: Array<{ expr: string; refId: string }> }>;
      templating: { list: Array<{ name: string; type: string; query: string | { query: string } }> };
    };
    const substitute = (e: string) => e.replace(/\$job\b/g, JOB).replace(/\$instance\b/g, '.*').replace(/\$__rate_interval\b/g, '1m').replace(/\$__range\b/g, '5m');
    const empty: string[] = [];
    let evaluated = 0;
    for (const p of dash.panels) for (const t of p.targets ?? []) {
      const key = `${p.title}/${t.refId}`;
      const result = await prom.query(substitute(t.expr)); // rejects on a PromQL error
      evaluated++;
      if (result.length === 0 && !MAY_BE_EMPTY.has(key)) empty.push(`${key}: ${t.expr}`);
    }
    assert.deepEqual(empty, [], 'panel queries without data although the traffic fed them');
    for (const v of dash.templating.list.filter((x) => x.type === 'query')) {
      const q = typeof v.query === 'string' ? v.query : v.query.query;
      const [, selector, label] = /^label_values\((.*),\s*(\w+)\)$/.exec(q)!;
      const result = await prom.query(substitute(selector));
      assert.ok(result.some((s) => s.metric[label]), `variable ${v.name}: ${q} finds a ${label}`);
    }
    assert.ok(evaluated >= 30, `${evaluated} panel queries evaluated`);

    const alerts = await prom.query('ALERTS');
    assert.deepEqual(alerts.map((a) => `${a.metric.alertname} ${a.metric.alertstate}`), [], 'no alert pending or firing on a healthy proxy');
  });

  test('audit broker stopped, no client traffic: the sink-down expression is true within a scrape or two', async () => {
    assert.ok(prom, 'Prometheus runs (previous test)');
    const rules = (parseYaml(readFileSync(ALERTS_FILE, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
    const sinkDown = rules.find((r) => r.alert === 'KafkaAuditSinkDown')!.expr;
    assert.deepEqual(await prom.query(sinkDown), [], 'false while the audit cluster runs');
    const before = parsePrometheusText(await metricsText());
    assert.equal(before.sum('kafka_proxy_connections_active'), 0, 'no client connected');
    const eventsBefore = before.sum('kafka_audit_events_total');

    const tStop = Date.now();
    await audit.stopBroker(audit.brokers[0].nodeId); // resolves once the JVM has exited (a controlled shutdown)
    const t0 = Date.now();
    await waitForValue(`${sinkDown} in Prometheus`, async () => (await prom!.query(sinkDown)).length > 0, 30_000);
    const elapsedMs = Date.now() - t0;
    process.stderr.write(`KafkaAuditSinkDown expression true ${elapsedMs} ms after the audit broker's JVM exited, ${Date.now() - tStop} ms after the stop began (check every 1 s, scrape every 1 s)\n`);
    // Check interval (1 s) + check timeout (1 s) + one scrape (1 s), with room for a busy box.
    assert.ok(elapsedMs < 8_000, `within a scrape or two of the check: ${elapsedMs} ms`);
    await waitForValue('KafkaAuditSinkDown pending', async () =>
      (await prom!.query('ALERTS{alertname="KafkaAuditSinkDown", alertstate="pending"}')).length === 1, 10_000);
    const during = parsePrometheusText(await metricsText());
    assert.equal(during.sum('kafka_proxy_connections_active'), 0, 'still no client: the state came from the sink\'s own check');
    // Only the proxy's own lifecycle event (AuditSinkDegraded) may have been submitted meanwhile.
    assert.ok(during.sum('kafka_audit_events_total') - eventsBefore <= 1, 'no client event drove it');

    await audit.startBroker(audit.brokers[0].nodeId);
    await waitForValue('the sink up again in Prometheus', async () => (await prom!.query(sinkDown)).length === 0, 60_000);
    const back = parsePrometheusText(await metricsText());
    assert.equal(back.sum('kafka_audit_sink_up'), 1);
    assert.equal(back.sum('kafka_audit_spool_bytes'), 0, 'what was spooled meanwhile was replayed');
  });
});
