/**
 * End to end: real clients → kafka-audit-proxy (SASL upstream) → real 3-broker cluster, and the exact audit
 * events that land on the audit topic for logins and each audited management API, successes and failures.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { pino } from 'pino';
import { runKafkaTool, writeClientProps, type KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { freePortBase } from '../harness/proxy.js';
import { waitForTopics } from '../harness/metadata.js';
import { assertNoSecret } from '../harness/secrets.js';
import { startApp, type App } from '../../src/app.js';
import { verifyTopic } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/event.js';

/** Bounds a setup step so a hang names the step instead of timing out the whole file. */
async function step<T>(what: string, p: Promise<T>, ms = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`step "${what}" took over ${ms} ms`)), ms); });
  try { return await Promise.race([p, timeout]); } finally { clearTimeout(timer); }
}

/** Searched in every encoding (test/harness/secrets.ts) in the events, the proxy's logs (trace level) and its metrics. */
const SECRETS = ['admin-secret', 'alice-secret', 'bob-secret', 'wrong-password-123'];

describe('audit events end to end (SASL, 3 brokers)', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let app: App;
  let work: string;
  let events: AuditEvent[] = [];
  let metricsText = '';
  const clientErrors: string[] = [];
  const auditTopic = `audit-e2e-${Date.now()}`;
  const logLines: string[] = [];
  const n = Date.now();
  const t = { a: `e2e-a-${n}`, b: `e2e-b-${n}`, c: `e2e-c-${n}` };
  const group = `e2e-group-${n}`;

  // No retries by default: the failed logins and denied operations below must fail at once. The consumer retries:
  // the group coordinator answers COORDINATOR_NOT_AVAILABLE until __consumer_offsets exists.
  const client = (user: string, password: string, mechanism: SASLOptions['mechanism'], clientId = `e2e-${user}`, retries = 0) => new Kafka({
    clientId, brokers: [app.proxy.bootstrapAddress], logLevel: logLevel.NOTHING, retry: { retries },
    sasl: { mechanism, username: user, password } as SASLOptions,
  });

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    work = mkdtempSync(join(tmpdir(), 'kap-e2e-'));
    const base = await freePortBase(3);
    app = await startApp({
      env: {},
      log: pino({ level: 'trace' }, { write: (s: string) => { logLines.push(s); } }), // every level: a secret logged at debug counts
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase: base, advertisedHost: '127.0.0.1', securityProtocol: 'SASL_PLAINTEXT' },
        upstream: { bootstrapServers: cluster.saslBootstrap.split(',') },
        admin: { enabled: false, host: '127.0.0.1', port: 0 },
        audit: {
          brokers: cluster.plainBootstrap.split(','), clusterId: cluster.clusterId, topic: auditTopic, partitions: 1, replicationFactor: 3,
          spool: { dir: join(work, 'audit'), fsync: 'always', maxBytes: 64 * 1024 * 1024 }, batch: { maxEvents: 100, lingerMs: 5 },
        },
      },
    });

    // Logins: good and bad, PLAIN and SCRAM.
    const admin = client('admin', 'admin-secret', 'scram-sha-512').admin();
    await admin.connect();
    const alice = client('alice', 'alice-secret', 'plain').admin();
    await alice.connect();
    const rejected = (e: Error) => { clientErrors.push(e.message); return true; };
    await assert.rejects(client('alice', 'wrong-password-123', 'plain').admin().connect(), (e: Error) => /SASL PLAIN authentication failed/.test(e.message) && rejected(e));
    await assert.rejects(client('bob', 'wrong-password-123', 'scram-sha-256').admin().connect(), (e: Error) => /SASL SCRAM SHA256 authentication failed/.test(e.message) && rejected(e));

    // CreateTopics: three topics in one request, then one that exists, then one alice may not create.
    await admin.createTopics({ topics: [t.a, t.b, t.c].map((topic) => ({ topic, numPartitions: 1, replicationFactor: 3 })), waitForLeaders: false });
    // kafkajs reports TOPIC_ALREADY_EXISTS as `false` rather than an error.
    assert.equal(await admin.createTopics({ topics: [{ topic: t.a, numPartitions: 1 }], waitForLeaders: false }), false);
    await assert.rejects(alice.createTopics({ topics: [{ topic: `alice-${n}`, numPartitions: 1 }], waitForLeaders: false }));
    await waitForTopics(cluster, [t.a, t.b, t.c]);

    await admin.createPartitions({ topicPartitions: [{ topic: t.a, count: 3 }] });
    await waitForTopics(cluster, [t.a]);

    const producer = client('admin', 'admin-secret', 'scram-sha-512').producer();
    await producer.connect();
    await producer.send({ topic: t.b, messages: Array.from({ length: 5 }, (_, i) => ({ value: `v${i}` })) });
    await producer.disconnect();
    await admin.deleteTopicRecords({ topic: t.b, partitions: [{ partition: 0, offset: '2' }] });

    await admin.createAcls({ acl: [{ resourceType: 2, resourceName: t.a, resourcePatternType: 3, principal: 'User:alice', host: '*', operation: 3, permissionType: 3 }] as never });
    await admin.deleteAcls({ filters: [{ resourceType: 2, resourceName: t.a, resourcePatternType: 3, principal: 'User:alice', host: '*', operation: 3, permissionType: 3 }] as never });

    // IncrementalAlterConfigs comes from Kafka's own ConfigCommand (kafkajs only speaks AlterConfigs).
    const props = writeClientProps(work, 'admin.properties', {
      'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'SCRAM-SHA-256',
      'sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";',
    });
    const cfg = await runKafkaTool('kafka.admin.ConfigCommand', ['--bootstrap-server', app.proxy.bootstrapAddress, '--command-config', props,
      '--alter', '--entity-type', 'topics', '--entity-name', t.a, '--add-config', 'retention.ms=3600000']);
    assert.equal(cfg.code, 0, cfg.stderr);

    // A group that exists (empty after its consumer leaves) and one that does not.
    const consumer = client('admin', 'admin-secret', 'scram-sha-512', 'e2e-admin', 8).consumer({ groupId: group });
    await consumer.connect();
    await consumer.subscribe({ topic: t.b, fromBeginning: true });
    await step('consumer group receives a message', new Promise<void>((resolve) => { void consumer.run({ eachMessage: async () => resolve() }); }));
    await consumer.disconnect();
    await admin.deleteGroups([group]);
    await assert.rejects(admin.deleteGroups([`no-such-group-${n}`]));

    await admin.deleteTopics({ topics: [t.c] });
    await admin.disconnect();
    await alice.disconnect();

    metricsText = await app.metrics.registry.metrics();
    await app.stop(); // flushes the audit sink
    const report = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 30_000 });
    assert.equal(report.ok, true, JSON.stringify(report.chain.problems));
    events = report.eventsRead;
  });

  after(async () => {
    await app?.stop();
    await release?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const find = (method: string, pred: (e: AuditEvent) => boolean = () => true) =>
    events.filter((e) => e.data.methodName === `kafka.${method}` && pred(e));
  const one = (method: string, pred: (e: AuditEvent) => boolean) => {
    const found = find(method, pred);
    assert.equal(found.length, 1, `expected exactly one ${method} event, found ${found.length}: ${JSON.stringify(found.map((e) => e.data.resourceName))}`);
    return found[0];
  };
  const crn = (suffix = '') => `crn:///kafka=${cluster.clusterId}${suffix}`;
  const auth = (user: string, status: string) => (e: AuditEvent) =>
    (e.data as any).authenticationInfo.metadata?.identifier === user && e.data.result?.status === status;

  test('every event is a CloudEvent with the Confluent audit payload, chained, and free of secrets', () => {
    assert.ok(events.length >= 20, `only ${events.length} events`);
    for (const e of events) {
      assert.equal(e.specversion, '1.0');
      assert.match(e.id, /^[0-9a-f-]{36}$/);
      assert.equal(e.source, crn());
      assert.equal(e.datacontenttype, 'application/json');
      assert.ok(!Number.isNaN(Date.parse(e.time)));
      assert.equal(typeof e.auditseq, 'number');
    }
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'event ids are unique');
    assert.ok(logLines.length > 0, 'the proxy logged');
    assertNoSecret(events, SECRETS, 'audit events');
    assertNoSecret(logLines.join(''), SECRETS, 'proxy log lines');
    assertNoSecret(metricsText, SECRETS, 'proxy metrics');
    assertNoSecret(clientErrors.join('\n'), SECRETS, 'error messages clients got');
    const all = JSON.stringify(events) + logLines.join('');
    assert.ok(!all.includes('"v1"') && !all.includes('"v3"'), 'record payloads are never audited');
  });

  test('SASL logins: PLAIN and SCRAM successes and failures', () => {
    const adminOk = find('Authentication', auth('admin', 'SUCCESS'));
    assert.ok(adminOk.length >= 1);
    assert.equal(adminOk[0].type, 'io.confluent.kafka.server/authentication');
    assert.deepEqual((adminOk[0].data as any).authenticationInfo, {
      principal: 'User:admin', metadata: { mechanism: 'SASL_PLAINTEXT/SCRAM-SHA-512', identifier: 'admin' },
    });
    assert.equal(adminOk[0].data.resourceName, crn());
    assert.deepEqual(adminOk[0].data.result, { status: 'SUCCESS', message: '', errorCode: 0, errorName: 'NONE' });

    const aliceOk = find('Authentication', auth('alice', 'SUCCESS'));
    assert.ok(aliceOk.some((e) => (e.data as any).authenticationInfo.metadata.mechanism === 'SASL_PLAINTEXT/PLAIN'));

    const aliceBad = one('Authentication', auth('alice', 'UNAUTHENTICATED'));
    assert.equal(aliceBad.type, 'io.confluent.kafka.server/authentication');
    assert.deepEqual(aliceBad.data.result, {
      status: 'UNAUTHENTICATED', errorCode: 58, errorName: 'SASL_AUTHENTICATION_FAILED',
      message: 'Authentication failed: Invalid username or password',
    });
    const bobBad = one('Authentication', auth('bob', 'UNAUTHENTICATED'));
    assert.equal((bobBad.data as any).authenticationInfo.metadata.mechanism, 'SASL_PLAINTEXT/SCRAM-SHA-256');
    assert.equal(bobBad.data.result?.errorName, 'SASL_AUTHENTICATION_FAILED');
    assert.match(bobBad.data.result!.message, /invalid credentials with SASL mechanism SCRAM-SHA-256/);
  });

  test('CreateTopics: one event per topic, TOPIC_ALREADY_EXISTS and an authorization denial', () => {
    const created = [t.a, t.b, t.c].map((name) => one('CreateTopics', (e) => e.data.resourceName === crn(`/topic=${name}`) && e.data.result?.status === 'SUCCESS'));
    const e = created[0];
    assert.equal(e.type, 'io.confluent.kafka.server/request');
    assert.equal(e.subject, crn(`/topic=${t.a}`));
    assert.equal((e.data as any).authenticationInfo.principal, 'User:admin');
    assert.deepEqual((e.data as any).authorizationInfo, { granted: true, operation: 'Create', resourceType: 'Topic', resourceName: t.a, patternType: 'LITERAL' });
    assert.equal((e.data as any).request.client_id, 'e2e-admin');
    assert.match((e.data as any).request.correlation_id, /^\d+$/);
    assert.match((e.data as any).requestMetadata.client_address, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(e.data.result, { status: 'SUCCESS', message: '', errorCode: 0, errorName: 'NONE' });
    assert.equal((e.data as any).details.numPartitions, 1);
    assert.equal((e.data as any).details.replicationFactor, 3);

    const exists = one('CreateTopics', (x) => x.data.resourceName === crn(`/topic=${t.a}`) && x.data.result?.status === 'FAILURE');
    assert.deepEqual(exists.data.result, { status: 'FAILURE', errorCode: 36, errorName: 'TOPIC_ALREADY_EXISTS', message: `Topic '${t.a}' already exists.` });

    const denied = one('CreateTopics', (x) => x.data.resourceName === crn(`/topic=alice-${n}`));
    assert.equal(denied.type, 'io.confluent.kafka.server/authorization');
    assert.equal((denied.data as any).authenticationInfo.principal, 'User:alice');
    assert.equal((denied.data as any).authorizationInfo.granted, false);
    assert.equal(denied.data.result?.status, 'UNAUTHORIZED');
    assert.equal(denied.data.result?.errorCode, 29);
    assert.equal(denied.data.result?.errorName, 'TOPIC_AUTHORIZATION_FAILED');
  });

  test('CreatePartitions, DeleteRecords, DeleteTopics', () => {
    const cp = one('CreatePartitions', (e) => e.data.resourceName === crn(`/topic=${t.a}`));
    assert.equal((cp.data as any).authorizationInfo.operation, 'Alter');
    assert.equal((cp.data as any).details.count, 3);
    assert.equal(cp.data.result?.status, 'SUCCESS');

    const dr = one('DeleteRecords', (e) => e.data.resourceName === crn(`/topic=${t.b}`));
    assert.equal((dr.data as any).authorizationInfo.operation, 'Delete');
    assert.equal(dr.data.result?.status, 'SUCCESS');
    assert.match(JSON.stringify((dr.data as any).details), /"offset":"?2"?/);

    const dt = one('DeleteTopics', (e) => e.data.resourceName === crn(`/topic=${t.c}`));
    assert.deepEqual((dt.data as any).authorizationInfo, { granted: true, operation: 'Delete', resourceType: 'Topic', resourceName: t.c, patternType: 'LITERAL' });
    assert.equal(dt.data.result?.status, 'SUCCESS');
  });

  test('CreateAcls and DeleteAcls name the binding', () => {
    const ca = one('CreateAcls', (e) => (e.data as any).authorizationInfo.resourceName === t.a);
    assert.equal(ca.data.result?.status, 'SUCCESS');
    assert.equal((ca.data as any).authorizationInfo.operation, 'Alter');
    assert.match(JSON.stringify((ca.data as any).details), /User:alice/);
    assert.match(JSON.stringify((ca.data as any).details), /READ/);
    const da = one('DeleteAcls', (e) => (e.data as any).authorizationInfo.resourceName === t.a);
    assert.equal(da.data.result?.status, 'SUCCESS');
    assert.match(JSON.stringify((da.data as any).details), /User:alice/);
  });

  test('IncrementalAlterConfigs from the Kafka CLI names the config changed', () => {
    const e = one('IncrementalAlterConfigs', (x) => x.data.resourceName === crn(`/topic=${t.a}`));
    assert.equal((e.data as any).authorizationInfo.operation, 'AlterConfigs');
    assert.equal(e.data.result?.status, 'SUCCESS');
    assert.match(JSON.stringify((e.data as any).details), /retention\.ms/);
    assert.match(JSON.stringify((e.data as any).details), /3600000/);
  });

  test('DeleteGroups: success, and GROUP_ID_NOT_FOUND with its message', () => {
    const ok = one('DeleteGroups', (e) => e.data.resourceName === crn(`/group=${group}`));
    assert.equal(ok.data.result?.status, 'SUCCESS');
    assert.equal((ok.data as any).authorizationInfo.resourceType, 'Group');
    const missing = one('DeleteGroups', (e) => e.data.resourceName === crn(`/group=no-such-group-${n}`));
    assert.deepEqual(missing.data.result, { status: 'FAILURE', errorCode: 69, errorName: 'GROUP_ID_NOT_FOUND', message: 'The group id does not exist.' });
  });

  test('lifecycle: started and stopped events bracket the run', () => {
    const methods = events.map((e) => e.data.methodName);
    // The sink may report itself degraded before "started" when the audit cluster is slow to accept the producer.
    const started = methods.indexOf('proxy.Started');
    assert.ok(started >= 0 && started < methods.findIndex((m) => m.startsWith('kafka.')), methods.slice(0, 5).join(', '));
    assert.equal(methods[methods.length - 1], 'proxy.Stopped');
  });
});
