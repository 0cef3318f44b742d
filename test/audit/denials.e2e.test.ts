/**
 * Denied requests of APIs the audit has no descriptor for (issue #15): alice, who has no ACLs, sends through the
 * proxy what transactional producers, consumers and `kafka-configs` send first. The broker denies each (its answer,
 * relayed unchanged, and its authorizer's log say so); the audit topic then holds exactly one authorization event
 * per denied resource, naming alice, the resource and Kafka's error. With authorize-denied off, none of them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ZERO_UUID, type Decoded } from '../../protocol/codec.js';
import type { AuditEvent } from '../../src/audit/event.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { RawConnection, decodeResponse } from '../harness/raw.js';
import { startAuditedApp, type AuditedApp } from '../harness/audited-app.js';
import { authenticateFrame, handshakeFrame, plainToken } from '../harness/sasl-raw.js';

async function login(port: number, user: string): Promise<RawConnection> {
  const c = await RawConnection.open(port);
  c.write(Buffer.concat([handshakeFrame(1, 'PLAIN', 1), authenticateFrame(plainToken(user, `${user}-secret`), 2)]));
  assert.equal(decodeResponse(17, 1, await c.takeFrame()).ErrorCode, 0);
  assert.equal(decodeResponse(36, 1, await c.takeFrame()).ErrorCode, 0);
  return c;
}

/** What alice does, what the broker must answer, and the one event each must give. */
interface Case { method: string; type: string; name: string; error: string; operation: string }

describe('denied requests of APIs without a descriptor: one authorization event per denied resource', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  const run = Date.now().toString(36);
  const topic = `denied-${run}`;
  const cases: Case[] = [];
  let events: AuditEvent[] = [];

  async function aliceDoes(proxy: AuditedApp, record: boolean): Promise<void> {
    const admin = await login(proxy.port, 'admin');
    const created = await admin.request(19, 7, { Topics: [{ Name: topic, NumPartitions: 2, ReplicationFactor: 1, Assignments: [], Configs: [] }], timeoutMs: 30_000, validateOnly: false });
    assert.ok([0, 36].includes((created.Topics as Decoded[])[0].ErrorCode), 'the topic exists (36: an earlier pass created it)');
    admin.destroy();

    const c = await login(proxy.port, 'alice');
    const expect = (res: unknown, code: number, what: string, kase: Case) => {
      assert.equal(res, code, `${what}: the broker's answer`);
      if (record) cases.push(kase);
    };
    const tx = `tx-${run}`;
    const group = `grp-${run}`;

    const ipTx = await c.request(22, 4, { TransactionalId: tx, TransactionTimeoutMs: 60_000, ProducerId: -1n, ProducerEpoch: -1 });
    expect(ipTx.ErrorCode, 53, 'transactional InitProducerId',
      { method: 'InitProducerId', type: 'TransactionalId', name: tx, error: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', operation: 'Write' });
    const ipIdem = await c.request(22, 4, { TransactionalId: null, TransactionTimeoutMs: 60_000, ProducerId: -1n, ProducerEpoch: -1 });
    expect(ipIdem.ErrorCode, 31, 'idempotent InitProducerId',
      { method: 'InitProducerId', type: 'Cluster', name: cluster.clusterId, error: 'CLUSTER_AUTHORIZATION_FAILED', operation: 'Write' });
    const apt = await c.request(24, 3, { V3AndBelowTransactionalId: tx, V3AndBelowProducerId: 1n, V3AndBelowProducerEpoch: 0, V3AndBelowTopics: [{ Name: topic, Partitions: [0, 1] }] });
    const aptCodes = (apt.ResultsByTopicV3AndBelow as Decoded[]).flatMap((t) => (t.ResultsByPartition as Decoded[]).map((p) => p.PartitionErrorCode));
    expect(aptCodes.every((x) => x === 53) ? 53 : aptCodes.join(), 53, 'AddPartitionsToTxn',
      { method: 'AddPartitionsToTxn', type: 'TransactionalId', name: tx, error: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', operation: 'Write' });
    const end = await c.request(26, 3, { TransactionalId: `${tx}-end`, ProducerId: 1n, ProducerEpoch: 0, Committed: true });
    expect(end.ErrorCode, 53, 'EndTxn',
      { method: 'EndTxn', type: 'TransactionalId', name: `${tx}-end`, error: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', operation: 'Write' });
    const quotas = await c.request(48, 1, { Components: [{ EntityType: 'user', MatchType: 1, Match: null }], Strict: false });
    expect(quotas.ErrorCode, 31, 'DescribeClientQuotas',
      { method: 'DescribeClientQuotas', type: 'Cluster', name: cluster.clusterId, error: 'CLUSTER_AUTHORIZATION_FAILED', operation: 'DescribeConfigs' });
    const join = await c.request(11, 5, {
      GroupId: group, SessionTimeoutMs: 10_000, RebalanceTimeoutMs: 10_000, MemberId: '', GroupInstanceId: null, ProtocolType: 'consumer',
      Protocols: [{ Name: 'range', Metadata: Buffer.alloc(0) }],
    });
    expect(join.ErrorCode, 30, 'JoinGroup', { method: 'JoinGroup', type: 'Group', name: group, error: 'GROUP_AUTHORIZATION_FAILED', operation: 'Read' });
    const commit = await c.request(8, 8, {
      GroupId: `${group}-c`, GenerationIdOrMemberEpoch: -1, MemberId: '', GroupInstanceId: null,
      Topics: [{ Name: topic, Partitions: [{ PartitionIndex: 0, CommittedOffset: 0n, CommittedLeaderEpoch: -1, CommittedMetadata: null }, { PartitionIndex: 1, CommittedOffset: 0n, CommittedLeaderEpoch: -1, CommittedMetadata: null }] }],
    });
    const commitCodes = (commit.Topics as Decoded[]).flatMap((t) => (t.Partitions as Decoded[]).map((p) => p.ErrorCode));
    expect(commitCodes.every((x) => x === 30) ? 30 : commitCodes.join(), 30, 'OffsetCommit',
      { method: 'OffsetCommit', type: 'Group', name: `${group}-c`, error: 'GROUP_AUTHORIZATION_FAILED', operation: 'Read' });
    const md = await c.request(3, 12, { Topics: [{ TopicId: ZERO_UUID, Name: topic }], AllowAutoTopicCreation: false, IncludeTopicAuthorizedOperations: false });
    expect((md.Topics as Decoded[])[0].ErrorCode, 29, 'Metadata', { method: 'Metadata', type: 'Topic', name: topic, error: 'TOPIC_AUTHORIZATION_FAILED', operation: 'Describe' });
    const lo = await c.request(2, 7, {
      ReplicaId: -1, IsolationLevel: 0,
      Topics: [{ Name: topic, Partitions: [{ PartitionIndex: 0, CurrentLeaderEpoch: -1, Timestamp: -1n }, { PartitionIndex: 1, CurrentLeaderEpoch: -1, Timestamp: -1n }] }],
    });
    expect((lo.Topics as Decoded[])[0].Partitions[0].ErrorCode, 29, 'ListOffsets', { method: 'ListOffsets', type: 'Topic', name: topic, error: 'TOPIC_AUTHORIZATION_FAILED', operation: 'Describe' });
    const fc = await c.request(10, 4, { KeyType: 0, CoordinatorKeys: [`${group}-fc`] });
    expect((fc.Coordinators as Decoded[])[0].ErrorCode, 30, 'FindCoordinator', { method: 'FindCoordinator', type: 'Group', name: `${group}-fc`, error: 'GROUP_AUTHORIZATION_FAILED', operation: 'Describe' });
    // A topic alice may not see, by DescribeConfigs (it has a descriptor of its own: the describe category is off by default).
    const dc = await c.request(32, 4, { Resources: [{ ResourceType: 2, ResourceName: topic, ConfigurationKeys: null }], IncludeSynonyms: false, IncludeDocumentation: false });
    expect((dc.Results as Decoded[])[0].ErrorCode, 29, 'DescribeConfigs', { method: 'DescribeConfigs', type: 'Topic', name: topic, error: 'TOPIC_AUTHORIZATION_FAILED', operation: 'DescribeConfigs' });
    c.destroy();
  }

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    const off = await startAuditedApp(cluster, { audit: { rules: { categories: { 'authorize-denied': false } } } });
    await aliceDoes(off, false);
    const offEvents = (await off.stopAndRead()).eventsRead;
    const deniedOff = offEvents.filter((e) => e.type === 'io.confluent.kafka.server/authorization');
    assert.deepEqual(deniedOff.map((e) => e.data.methodName), [], 'with authorize-denied off no denial is audited');
    const on = await startAuditedApp(cluster);
    await aliceDoes(on, true);
    const report = await on.stopAndRead();
    assert.equal(report.ok, true, JSON.stringify(report.chain.problems));
    events = report.eventsRead;
  });
  after(async () => { await release?.(); });

  test('the broker denied alice each time (its answers above; its authorizer log names the resources)', () => {
    const log = cluster.brokers.map((b) => readFileSync(cluster.logOf(b.nodeId), 'utf8')).join('\n');
    for (const name of [`tx-${run}`, `tx-${run}-end`, `grp-${run}`, `grp-${run}-c`]) {
      assert.match(log, new RegExp(`User:alice is Denied operation = \\w+ from host = [^ ]+ on resource = \\w+:LITERAL:${name}\\b`), name);
    }
  });

  test('exactly one authorization event per denied resource, with alice, the resource, the operation and the error', () => {
    assert.equal(cases.length, 11);
    const denials = events.filter((e) => e.type === 'io.confluent.kafka.server/authorization');
    for (const k of cases) {
      const matching = denials.filter((e) => e.data.methodName === `kafka.${k.method}` && e.data.authorizationInfo?.resourceName === k.name);
      assert.equal(matching.length, 1, `${k.method} ${k.type}:${k.name}: ${matching.length} events; denials: ${denials.map((e) => `${e.data.methodName} ${e.data.authorizationInfo?.resourceType}:${e.data.authorizationInfo?.resourceName}`).join(', ')}`);
      const d = matching[0].data;
      assert.equal(d.authenticationInfo?.principal, 'User:alice', k.method);
      assert.equal(d.authorizationInfo?.resourceType, k.type, k.method);
      assert.equal(d.authorizationInfo?.operation, k.operation, k.method);
      assert.equal(d.authorizationInfo?.granted, false, k.method);
      assert.equal(d.result?.status, 'UNAUTHORIZED', k.method);
      assert.equal(d.result?.errorName, k.error, k.method);
      assert.match(d.requestMetadata?.client_address ?? '', /^127\.0\.0\.1:\d+$/);
    }
    const unexpected = denials.filter((e) => !cases.some((k) => e.data.methodName === `kafka.${k.method}` && e.data.authorizationInfo?.resourceName === k.name));
    assert.deepEqual(unexpected.map((e) => `${e.data.methodName} ${e.data.authorizationInfo?.resourceName}`), [], 'no other denials');
  });
});
