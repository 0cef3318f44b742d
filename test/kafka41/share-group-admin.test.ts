/**
 * The share-group administration APIs of Kafka 4.1 (KIP-932) through the proxy (SASL) against a real 4.1.1 cluster with
 * share groups on, driven by Kafka 4.1's own kafka-share-groups tool (ShareGroupCommand: describe, delete-offsets,
 * delete) and, for AlterShareGroupOffsets (4.1.1's tool says "--reset-offsets option is not yet implemented"), by a
 * small Java program calling Admin#alterShareGroupOffsets, compiled here against 4.1.1's kafka-clients. Each audit event
 * on the audit topic is checked field by field against what the broker did, read back from the broker directly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { kafkaLibOf, runKafkaTool, writeClientProps, type KafkaCluster, type KafkaToolResult } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { freePortBase } from '../harness/proxy.js';
import { waitForTopics } from '../harness/metadata.js';
import { startApp, type App } from '../../src/app.js';
import { verifyTopic } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/event.js';

const VERSION = '4.1.1';
const SHARE_GROUPS = 'org.apache.kafka.tools.consumer.group.ShareGroupCommand';

/** `ShareAlter BOOTSTRAP CONFIG GROUP TOPIC PARTITION=OFFSET...`: Admin#alterShareGroupOffsets, prints OK or the error. */
const SHARE_ALTER_JAVA = `
import java.io.FileInputStream;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;

public class ShareAlter {
  public static void main(String[] a) throws Exception {
    Properties p = new Properties();
    try (FileInputStream in = new FileInputStream(a[1])) { p.load(in); }
    p.put("bootstrap.servers", a[0]);
    Map<TopicPartition, Long> offsets = new HashMap<>();
    for (int i = 4; i < a.length; i++) {
      String[] kv = a[i].split("=");
      offsets.put(new TopicPartition(a[3], Integer.parseInt(kv[0])), Long.parseLong(kv[1]));
    }
    try (Admin admin = Admin.create(p)) {
      admin.alterShareGroupOffsets(a[2], offsets).all().get();
      System.out.println("OK");
    } catch (ExecutionException e) {
      System.out.println("ERROR " + e.getCause().getClass().getSimpleName() + ": " + e.getCause().getMessage());
    }
  }
}
`;

describe(`share-group administration audited (Kafka ${VERSION}, SASL, 3 brokers)`, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let app: App;
  let work: string;
  let events: AuditEvent[] = [];
  const n = Date.now();
  const topic = `share-admin-${n}`;
  const group = `sg-admin-${n}`;
  const auditTopic = `audit-share-admin-${n}`;
  const missing = `no-such-share-group-${n}`;
  const missingTopic = `no-such-topic-${n}`;
  const out: Record<string, KafkaToolResult> = {};
  /** The broker's start offsets of the group (partition -> START-OFFSET), read directly after each step. */
  const offsetsAfter: Record<string, Map<number, string>> = {};
  let classes: string;

  /** A Kafka 4.1 tool as `user` through the proxy (SCRAM-SHA-256), or as the super user straight to the broker. */
  let props: Record<string, string>;
  const CONFIG_FLAG: Record<string, string> = {
    'org.apache.kafka.tools.ConsoleProducer': '--producer.config',
    'org.apache.kafka.tools.consumer.ConsoleShareConsumer': '--consumer-config',
  };
  const viaProxy = (user: string, cls: string, args: string[], stdin?: string) =>
    runKafkaTool(cls, ['--bootstrap-server', app.proxy.bootstrapAddress, CONFIG_FLAG[cls] ?? '--command-config', props[user], ...args],
      { stdin, timeoutMs: 90_000, version: VERSION });
  const direct = (cls: string, args: string[]) =>
    runKafkaTool(cls, ['--bootstrap-server', cluster.plainBootstrap, ...args], { timeoutMs: 90_000, version: VERSION });
  const ok = (r: KafkaToolResult, what: string) => { assert.equal(r.code, 0, `${what}:\n${r.stderr}\n${r.stdout}`); return r.stdout; };
  /** The broker's view of the group's start offsets: partition -> START-OFFSET ("-" when none). */
  const parseStartOffsets = (text: string): Map<number, string> =>
    new Map(text.split('\n').map((l) => l.trim().split(/\s+/)).filter((c) => c[0] === group && c[1] === topic).map((c) => [Number(c[2]), c[3]]));
  const startOffsets = async (): Promise<Map<number, string>> =>
    parseStartOffsets(ok(await direct(SHARE_GROUPS, ['--describe', '--group', group, '--offsets']), 'describe offsets directly'));

  before(async () => {
    ({ cluster, release } = await useCluster(3, VERSION));
    work = mkdtempSync(join(tmpdir(), 'kap-share-admin-'));
    classes = join(work, 'classes');
    writeFileSync(join(work, 'ShareAlter.java'), SHARE_ALTER_JAVA);
    execFileSync('javac', ['-d', classes, '-cp', `${kafkaLibOf(VERSION)}/*`, join(work, 'ShareAlter.java')], { stdio: 'pipe' });
    props = Object.fromEntries(['admin', 'alice'].map((u) => [u, writeClientProps(work, `${u}.properties`, {
      'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'SCRAM-SHA-256',
      'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="${u}" password="${u}-secret";`,
    })]));
    app = await startApp({
      env: {},
      log: pino({ level: 'warn' }, { write: () => undefined }),
      overrides: {
        listen: { host: '127.0.0.1', bootstrapPort: 0, brokerPortBase: await freePortBase(3), advertisedHost: '127.0.0.1', securityProtocol: 'SASL_PLAINTEXT' },
        upstream: { bootstrapServers: cluster.saslBootstrap.split(',') },
        admin: { enabled: false, host: '127.0.0.1', port: 0 },
        audit: {
          brokers: cluster.plainBootstrap.split(','), clusterId: cluster.clusterId, topic: auditTopic, partitions: 1, replicationFactor: 3,
          spool: { dir: join(work, 'audit'), fsync: 'never', maxBytes: 64 * 1024 * 1024 }, batch: { maxEvents: 100, lingerMs: 5 },
          rules: { categories: { describe: true } },
        },
      },
    });

    ok(await viaProxy('admin', 'org.apache.kafka.tools.TopicCommand', ['--create', '--topic', topic, '--partitions', '2', '--replication-factor', '3']), 'create topic');
    await waitForTopics(cluster, [topic]);
    ok(await viaProxy('admin', 'org.apache.kafka.tools.ConsoleProducer', ['--topic', topic], Array.from({ length: 10 }, (_, i) => `r${i}`).join('\n') + '\n'), 'produce');
    ok(await viaProxy('admin', 'kafka.admin.ConfigCommand', ['--alter', '--entity-type', 'groups', '--entity-name', group, '--add-config', 'share.auto.offset.reset=earliest']), 'group config');
    const consumed = ok(await viaProxy('admin', 'org.apache.kafka.tools.consumer.ConsoleShareConsumer', ['--topic', topic, '--group', group, '--max-messages', '10', '--timeout-ms', '60000']), 'share consumer');
    assert.equal(consumed.trim().split('\n').length, 10);

    out.describe = await viaProxy('admin', SHARE_GROUPS, ['--describe', '--group', group]);
    offsetsAfter.consume = await startOffsets();
    out.describeMissing = await viaProxy('admin', SHARE_GROUPS, ['--describe', '--group', missing]);

    // AlterShareGroupOffsets (the group is empty now): partition 0 to offset 4, then a topic that does not exist.
    const alter = (onTopic: string, ...offsets: string[]) => runKafkaTool('ShareAlter', [app.proxy.bootstrapAddress, props.admin, group, onTopic, ...offsets],
      { timeoutMs: 90_000, version: VERSION, extraClasspath: [classes] });
    out.alter = await alter(topic, '0=4');
    out.alterMissing = await alter(missingTopic, '0=0');

    // alice may find the group's coordinator (DESCRIBE on the group) but not delete its offsets.
    ok(await direct('org.apache.kafka.tools.AclCommand', ['--add', '--allow-principal', 'User:alice', '--operation', 'Describe', '--group', group]), 'acl');
    out.aliceDeleteOffsets = await viaProxy('alice', SHARE_GROUPS, ['--delete-offsets', '--group', group, '--topic', topic]);
    offsetsAfter.aliceDeleteOffsets = await startOffsets();
    out.deleteOffsets = await viaProxy('admin', SHARE_GROUPS, ['--delete-offsets', '--group', group, '--topic', topic]);
    offsetsAfter.deleteOffsets = await startOffsets();
    out.delete = await viaProxy('admin', SHARE_GROUPS, ['--delete', '--group', group]);
    out.listAfter = await direct(SHARE_GROUPS, ['--list']);
    out.config = await direct('kafka.admin.ConfigCommand', ['--describe', '--entity-type', 'groups', '--entity-name', group]);

    await app.stop();
    const report = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic: auditTopic, timeoutMs: 30_000 });
    assert.equal(report.ok, true, JSON.stringify(report.chain.problems));
    events = report.eventsRead;
  });

  after(async () => {
    await app?.stop();
    await release?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const crn = (suffix = '') => `crn:///kafka=${cluster.clusterId}${suffix}`;
  const find = (method: string, resource: string, principal = 'User:admin') => events.filter((e) =>
    e.data.methodName === `kafka.${method}` && e.data.resourceName === crn(resource) && e.data.authenticationInfo?.principal === principal);
  const OK = { status: 'SUCCESS', message: '', errorCode: 0, errorName: 'NONE' };

  /** Every field of an event's data: the expected values, the connection's (correlation id, address) by shape. */
  function expectEvent(e: AuditEvent | undefined, want: {
    method: string; resource: string; principal?: string; operation: string; resourceType: 'Group' | 'Cluster'; resourceName: string;
    granted?: boolean; result: Record<string, unknown>; details?: Record<string, unknown>;
  }): void {
    assert.ok(e, `an event ${want.method} on ${want.resource}`);
    const unauthorized = want.result.status === 'UNAUTHORIZED';
    assert.equal(e.type, unauthorized ? 'io.confluent.kafka.server/authorization' : 'io.confluent.kafka.server/request');
    assert.equal(e.source, crn());
    assert.equal(e.subject, crn(want.resource));
    const d = e.data as unknown as Record<string, any>;
    assert.match(d.request.correlation_id, /^\d+$/);
    assert.match(d.requestMetadata.client_address, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(d, {
      serviceName: crn(),
      methodName: `kafka.${want.method}`,
      resourceName: crn(want.resource),
      authenticationInfo: { principal: want.principal ?? 'User:admin', metadata: { mechanism: 'SASL_PLAINTEXT/SCRAM-SHA-256' } },
      authorizationInfo: { granted: want.granted ?? !unauthorized, operation: want.operation, resourceType: want.resourceType, resourceName: want.resourceName, patternType: 'LITERAL' },
      request: { correlation_id: d.request.correlation_id, client_id: 'adminclient-1' },
      requestMetadata: { client_address: d.requestMetadata.client_address },
      result: want.result,
      clientInfo: { softwareName: 'apache-kafka-java', softwareVersion: VERSION },
      ...(want.details ? { details: want.details } : {}),
    });
  }

  test('the audit topic is a valid chain and names Kafka 4.1.1\'s Java admin client', () => {
    assert.ok(events.length >= 10, `only ${events.length} events`);
    const admin = events.filter((e) => e.data.authenticationInfo?.principal === 'User:admin' && e.data.methodName !== 'kafka.Authentication');
    assert.ok(admin.every((e) => e.data.clientInfo?.softwareVersion === VERSION));
  });

  test('IncrementalAlterConfigs on the group (share.auto.offset.reset), as the broker applied it', () => {
    assert.match(out.config.stdout, /share\.auto\.offset\.reset=earliest/, 'the broker has the group config');
    const [e, ...more] = find('IncrementalAlterConfigs', `/group=${group}`);
    assert.equal(more.length, 0);
    expectEvent(e, {
      method: 'IncrementalAlterConfigs', resource: `/group=${group}`, operation: 'AlterConfigs', resourceType: 'Group', resourceName: group, result: OK,
      details: { configResourceType: 'GROUP', configs: { 'share.auto.offset.reset': { op: 'SET', value: 'earliest' } } },
    });
  });

  test('ShareGroupDescribe: the group described, and GROUP_ID_NOT_FOUND with the broker\'s message', () => {
    assert.equal(out.describe.code, 0, out.describe.stderr);
    // What the tool printed through the proxy is the broker's view, read directly right after.
    assert.deepEqual(parseStartOffsets(out.describe.stdout), offsetsAfter.consume);
    assert.equal(offsetsAfter.consume.size, 2, 'both partitions of the topic are in the group');
    const described = find('ShareGroupDescribe', `/group=${group}`);
    assert.ok(described.length >= 1);
    expectEvent(described[0], { method: 'ShareGroupDescribe', resource: `/group=${group}`, operation: 'Describe', resourceType: 'Group', resourceName: group, result: OK });

    const m = /GroupIdNotFoundException: (Group \S+ not found\.)/.exec(out.describeMissing.stdout + out.describeMissing.stderr);
    assert.ok(m, `the tool reported the missing group: ${out.describeMissing.stdout}`);
    const [e, ...more] = find('ShareGroupDescribe', `/group=${missing}`);
    assert.equal(more.length, 0);
    expectEvent(e, {
      method: 'ShareGroupDescribe', resource: `/group=${missing}`, operation: 'Describe', resourceType: 'Group', resourceName: missing,
      result: { status: 'FAILURE', message: m[1], errorCode: 69, errorName: 'GROUP_ID_NOT_FOUND' },
    });
  });

  test('DescribeShareGroupOffsets: the group\'s offsets read (every topic)', () => {
    const [e] = find('DescribeShareGroupOffsets', `/group=${group}`);
    expectEvent(e, { method: 'DescribeShareGroupOffsets', resource: `/group=${group}`, operation: 'Describe', resourceType: 'Group', resourceName: group, result: OK });
  });

  // Checked against the broker's answer (what Admin#alterShareGroupOffsets returned): Kafka 4.1.1 accepts the new start
  // offset, but its DescribeShareGroupOffsets keeps showing the old one (seen without the proxy too), so the broker's
  // state cannot be read back here.
  test('AlterShareGroupOffsets: the start offsets set, and UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist', () => {
    assert.equal(out.alter.stdout.trim(), 'OK', out.alter.stderr);
    const alters = find('AlterShareGroupOffsets', `/group=${group}`);
    assert.equal(alters.length, 2, JSON.stringify(alters.map((e) => e.data.details)));
    const [ok, failed] = alters;
    expectEvent(ok, {
      method: 'AlterShareGroupOffsets', resource: `/group=${group}`, operation: 'Alter', resourceType: 'Group', resourceName: group, result: OK,
      details: { topics: [{ topic, partitions: [{ partition: 0, startOffset: 4 }] }] },
    });
    assert.match(out.alterMissing.stdout, /^ERROR UnknownTopicOrPartitionException: /, 'the broker refused the unknown topic');
    expectEvent(failed, {
      method: 'AlterShareGroupOffsets', resource: `/group=${group}`, operation: 'Alter', resourceType: 'Group', resourceName: group,
      result: { status: 'FAILURE', message: 'This server does not host this topic-partition.', errorCode: 3, errorName: 'UNKNOWN_TOPIC_OR_PARTITION' },
      details: { topics: [{ topic: missingTopic, partitions: [{ partition: 0, startOffset: 0 }] }] },
    });
  });

  test('DeleteShareGroupOffsets: denied to alice (offsets kept), done for admin (offsets gone)', () => {
    assert.match(out.aliceDeleteOffsets.stdout, /Group authorization failed/);
    assert.deepEqual([...offsetsAfter.aliceDeleteOffsets], [...offsetsAfter.consume], 'alice\'s attempt changed nothing on the broker');
    const [denied, ...more] = find('DeleteShareGroupOffsets', `/group=${group}`, 'User:alice');
    assert.equal(more.length, 0);
    expectEvent(denied, {
      method: 'DeleteShareGroupOffsets', resource: `/group=${group}`, principal: 'User:alice', operation: 'Delete', resourceType: 'Group', resourceName: group,
      result: { status: 'UNAUTHORIZED', message: 'Group authorization failed.', errorCode: 30, errorName: 'GROUP_AUTHORIZATION_FAILED' },
      details: { topics: [topic] },
    });

    assert.match(out.deleteOffsets.stdout, new RegExp(`${topic}\\s+Successful`));
    assert.ok(offsetsAfter.consume.size > 0 && offsetsAfter.deleteOffsets.size === 0, 'the broker no longer has offsets of the topic for the group');
    const [deleted] = find('DeleteShareGroupOffsets', `/group=${group}`);
    expectEvent(deleted, {
      method: 'DeleteShareGroupOffsets', resource: `/group=${group}`, operation: 'Delete', resourceType: 'Group', resourceName: group, result: OK,
      details: { topics: [topic] },
    });
  });

  test('a share group deleted (DeleteGroups), and gone from the broker', () => {
    assert.match(out.delete.stdout, /was successful/);
    assert.ok(!out.listAfter.stdout.split('\n').includes(group), 'the broker no longer lists the group');
    const [e, ...more] = find('DeleteGroups', `/group=${group}`);
    assert.equal(more.length, 0);
    expectEvent(e, { method: 'DeleteGroups', resource: `/group=${group}`, operation: 'Delete', resourceType: 'Group', resourceName: group, result: OK });
  });

  test('ListGroups with the share type filter (kafka-share-groups --list, --delete)', () => {
    const lists = events.filter((e) => e.data.methodName === 'kafka.ListGroups' && e.data.authenticationInfo?.principal === 'User:admin');
    assert.ok(lists.length >= 1);
    for (const e of lists) assert.deepEqual((e.data.details as Record<string, unknown>).typesFilter, ['Share']);
  });
});
