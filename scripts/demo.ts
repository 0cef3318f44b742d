/**
 * The demo: a real single-node Kafka (KRaft, SASL users admin/alice/bob), kafka-audit-proxy in front of it,
 * a small workload through the proxy (logins, topic and group administration, ACLs, configs, a denied
 * operation and a failed login), and the audit events printed as they arrive on the audit topic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { pino } from 'pino';
import { startKafkaCluster } from '../test/harness/kafka-cluster.js';
import { freePortBase } from '../test/harness/proxy.js';
import { startApp } from '../src/app.js';
import { tail } from '../src/tail.js';

const say = (s: string) => process.stdout.write(s + '\n');
const t0 = Date.now();
say('Starting a real Apache Kafka 3.9.1 broker (KRaft) from the Maven jars ...');
const cluster = await startKafkaCluster({ brokers: 1 });
say(`  broker ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; SASL listener ${cluster.saslBootstrap}`);

const work = mkdtempSync(join(tmpdir(), 'kap-demo-'));
const brokerPortBase = await freePortBase(1);
const app = await startApp({
  env: {},
  log: pino({ level: 'error' }, pino.destination(2)), // the demo's stdout is for the audit events
  overrides: {
    listen: { host: '127.0.0.1', bootstrapPort: brokerPortBase, brokerPortBase, advertisedHost: '127.0.0.1', securityProtocol: 'SASL_PLAINTEXT' },
    upstream: { bootstrapServers: cluster.saslBootstrap.split(',') },
    admin: { enabled: true, host: '127.0.0.1', port: 0 },
    audit: {
      // The audit producer writes over the broker's PLAINTEXT listener; the audited cluster is the same one.
      brokers: cluster.plainBootstrap.split(','), clusterId: cluster.clusterId, replicationFactor: 1, partitions: 1,
      spool: { dir: join(work, 'audit'), fsync: 'always', maxBytes: 64 * 1024 * 1024 },
      rules: { categories: { describe: 'off' } },
    },
  },
});
const proxy = app.proxy.bootstrapAddress;
say(`kafka-audit-proxy listening on ${proxy} (metrics: http://127.0.0.1:${app.adminPort}/metrics)`);
say(`Audit events on topic "${app.config.audit.topic}":\n`);

const ac = new AbortController();
const tailing = tail({
  brokers: cluster.plainBootstrap.split(','), topic: app.config.audit.topic, fromBeginning: true, follow: true, json: false,
  filter: {}, write: (line) => say('  ' + line), signal: ac.signal, kafkaLogLevel: 'nothing',
});

const client = (user: string, password: string, mechanism: 'plain' | 'scram-sha-256' = 'scram-sha-256') => new Kafka({
  clientId: `demo-${user}`, brokers: [proxy], logLevel: logLevel.NOTHING, retry: { retries: 1 },
  sasl: { mechanism, username: user, password } as SASLOptions,
});

const steps: [string, () => Promise<unknown>][] = [];
const admin = client('admin', 'admin-secret').admin();
const topic = 'orders';
steps.push(['admin logs in (SCRAM-SHA-256)', () => admin.connect()]);
steps.push([`admin creates topic ${topic}`, () => admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: false })]);
steps.push([`admin creates ${topic} again (TOPIC_ALREADY_EXISTS)`, () => admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: false })]);
steps.push(['admin grants alice Write on orders', () => admin.createAcls({ acl: [{ resourceType: 2, resourceName: topic, resourcePatternType: 3, principal: 'User:alice', host: '*', operation: 4, permissionType: 3 }] as never })]);
steps.push(['admin sets retention.ms on orders', () => admin.alterConfigs({ resources: [{ type: 2, name: topic, configEntries: [{ name: 'retention.ms', value: '86400000' }] }] as never, validateOnly: false })]);
steps.push(['alice produces to orders (PLAIN)', async () => {
  const p = client('alice', 'alice-secret', 'plain').producer();
  await p.connect();
  await p.send({ topic, messages: [{ key: 'order-1', value: 'secret order payload (never audited)' }] });
  await p.disconnect();
}]);
steps.push(['alice tries to create a topic (denied: no ACL)', () => { const a = client('alice', 'alice-secret').admin(); return a.connect().then(() => a.createTopics({ topics: [{ topic: 'alice-topic' }], waitForLeaders: false })).finally(() => a.disconnect()); }]);
steps.push(['bob logs in with a wrong password', () => { const a = client('bob', 'not-bobs-password').admin(); return a.connect().finally(() => a.disconnect()); }]);
steps.push(['admin deletes group that does not exist', () => admin.deleteGroups(['no-such-group'])]);
steps.push([`admin deletes topic ${topic}`, () => admin.deleteTopics({ topics: [topic] })]);

for (const [what, fn] of steps) {
  try { await fn(); say(`> ${what}: ok`); } catch (e) { say(`> ${what}: ${(e as Error).message}`); }
  await new Promise((r) => setTimeout(r, 400));
}
await admin.disconnect();
await new Promise((r) => setTimeout(r, 2000));
ac.abort();
await tailing.catch(() => 0);
const produced = (await app.metrics.registry.getSingleMetric('kafka_audit_events_total')!.get()).values.reduce((n, v) => n + v.value, 0);
say(`\n${produced} audit events written; no record payloads and no passwords in them. Stopping ...`);
await app.stop();
await cluster.stop();
rmSync(work, { recursive: true, force: true });
process.exit(0);
