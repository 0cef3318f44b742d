/**
 * Share groups (KIP-932) through the proxy against Kafka 4.1.1 with share groups on (share.version=1,
 * test/harness/kafka-cluster.ts): Kafka's own share consumer receives every record and never leaves the proxy's ports
 * (the brokers' connection logs as witness), its ShareFetch answers stream through the proxy (none is decoded whole), and
 * the NodeEndpoints of ShareFetch and ShareAcknowledge answers from a broker that does not lead the partition name the
 * proxy's port for the leader, not the broker's address.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { runKafkaTool, type KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { waitForTopics } from '../harness/metadata.js';
import { metricValue, RawConnection, startTestProxy, type TestProxy } from '../harness/proxy.js';
import { API_KEY } from '../../protocol/registry.js';
import { BrokerWitness, PROXY_EGRESS } from './witness.js';

const VERSION = '4.1.1';

describe(`share groups through the proxy (Kafka ${VERSION}, 3 brokers)`, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: TestProxy;
  let witness: BrokerWitness;
  let admin: Admin;
  const n = Date.now();

  /** A Kafka 4.1 CLI tool through the proxy; fails the test on a non-zero exit. */
  const tool = async (cls: string, args: string[], stdin?: string): Promise<string> => {
    const r = await runKafkaTool(cls, ['--bootstrap-server', proxy.bootstrap, ...args], { stdin, timeoutMs: 90_000, version: VERSION });
    assert.equal(r.code, 0, `${cls} ${args.join(' ')}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const requests = (api: keyof typeof API_KEY) => metricValue(proxy.metrics, 'kafka_proxy_requests_total', { api });
  const viaProxy = () => ({ brokers: cluster.brokers.map((b) => ({ ...b, plainPort: proxy.brokerPortBase + b.nodeId })) });

  before(async () => {
    ({ cluster, release } = await useCluster(3, VERSION));
    assert.equal(cluster.version, VERSION);
    witness = new BrokerWitness(cluster);
    proxy = await startTestProxy(cluster.plainBootstrap, (c) => { c.upstream.localAddress = PROXY_EGRESS; });
    admin = new Kafka({ clientId: 'share-groups-test', brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });
  after(async () => {
    await admin?.disconnect();
    await proxy?.stop();
    await release?.();
  });

  test('Kafka 4.1 ConsoleShareConsumer: receives every record, stays on proxy ports', async () => {
    const topic = `share-console-${n}`;
    const group = `sg-console-${n}`;
    assert.match(await tool('org.apache.kafka.tools.TopicCommand', ['--create', '--topic', topic, '--partitions', '3', '--replication-factor', '3']), /Created topic/);
    await waitForTopics(viaProxy(), [topic]);
    const lines = Array.from({ length: 30 }, (_, i) => `share-record-${i}`);
    await tool('org.apache.kafka.tools.ConsoleProducer', ['--topic', topic], lines.join('\n') + '\n');
    // A share group starts at the latest offset unless told otherwise (a group config, KIP-932).
    await tool('kafka.admin.ConfigCommand', ['--alter', '--entity-type', 'groups', '--entity-name', group, '--add-config', 'share.auto.offset.reset=earliest']);

    const decoded = () => metricValue(proxy.metrics, 'kafka_proxy_responses_total', { api: 'ShareFetch' });
    const before = { hb: await requests('ShareGroupHeartbeat'), fetch: await requests('ShareFetch'), decoded: await decoded() };
    const { result: out, accepted } = await witness.window('ConsoleShareConsumer', () => tool('org.apache.kafka.tools.consumer.ConsoleShareConsumer',
      ['--topic', topic, '--group', group, '--max-messages', String(lines.length), '--timeout-ms', '60000']));
    assert.deepEqual(out.trim().split('\n').sort(), [...lines].sort());
    assert.ok(await requests('ShareGroupHeartbeat') > before.hb, 'the consumer joined through the proxy (ShareGroupHeartbeat)');
    assert.ok(await requests('ShareFetch') > before.fetch, 'the records came through the proxy (ShareFetch)');
    assert.equal(await decoded(), before.decoded, 'every ShareFetch answer streamed through (none decoded whole)');
    // The three partitions have their leaders on three brokers, and the consumer fetched from each through the proxy.
    assert.equal(new Set(accepted.map((a) => a.node)).size, 3, accepted.map((a) => a.line).join('\n'));
    assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_undecodable_frames_total'), 0);
  });

  // ShareFetch answers stream through the proxy, as Fetch v16+ answers do (src/proxy/leader-hints.ts): the records go on
  // as they arrive, and only the tail (NodeEndpoints, a regular field after the records, then the tagged section) is
  // held and rewritten in place at its original length. The brokers advertise 127.0.0.1: a proxy host as long is
  // rewritten exactly, a shorter one with padding; a longer one does not fit, so NodeEndpoints is emptied (the client
  // refreshes its metadata through the proxy, which names the leader at its proxy port). ShareAcknowledge answers carry
  // no records and are decoded whole.
  for (const [host, outcome] of [['127.0.0.1', 'rewritten'], ['proxy', 'rewritten'], ['audit-proxy.kafka.example.internal', 'dropped']] as const) {
    test(`ShareFetch (streamed, records then NodeEndpoints) and ShareAcknowledge from a broker that does not lead: advertised host ${host}, ${outcome}`, async () => {
      const topic = `share-hints-${host.length}-${n}`;
      const group = `sg-hints-${host.length}-${n}`;
      const [leader, other] = cluster.brokers.map((b) => b.nodeId);
      // Partition 0 on the leader alone, partition 1 on the other broker: the other broker's answer to a share fetch of
      // both carries partition 1's records, then NOT_LEADER_OR_FOLLOWER for partition 0 and the leader's endpoint.
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, replicaAssignment: [{ partition: 0, replicas: [leader] }, { partition: 1, replicas: [other] }] }] });
      await waitForTopics(cluster, [topic]);
      const values = Array.from({ length: 400 }, (_, i) => `share-hint-record-${i}-`.padEnd(1000, String.fromCharCode(97 + (i % 26))));
      const producer = new Kafka({ clientId: 'share-hints-producer', brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition: 1 })) });
      await producer.disconnect();
      const hinted = await startTestProxy(cluster.plainBootstrap, (c) => { c.listen.advertisedHost = host; });
      try {
        const metric = (name: string, labels: Record<string, string>) => metricValue(hinted.metrics, name, labels);
        // Through the proxy: the group starts at the earliest offset, the topic id, the group's coordinator (its proxy port),
        // and a member of the share group.
        const boot = await RawConnection.open(Number(hinted.bootstrap.split(':')[1]));
        const cfg = await boot.request(API_KEY.IncrementalAlterConfigs, 1, { ValidateOnly: false, Resources: [
          { ResourceType: 32, ResourceName: group, Configs: [{ Name: 'share.auto.offset.reset', ConfigOperation: 0, Value: 'earliest' }] },
        ] });
        assert.equal(cfg.Responses[0].ErrorCode, 0, JSON.stringify(cfg));
        const md = await boot.request(API_KEY.Metadata, 12, { Topics: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', Name: topic }], AllowAutoTopicCreation: false, IncludeTopicAuthorizedOperations: false });
        const topicId = md.Topics[0].TopicId as string;
        const fc = await boot.request(API_KEY.FindCoordinator, 6, { KeyType: 0, CoordinatorKeys: [group] });
        boot.socket.destroy();
        const coordinator = fc.Coordinators[0];
        assert.equal(coordinator.ErrorCode, 0, JSON.stringify(fc));
        assert.deepEqual([coordinator.Host, coordinator.Port], [host, hinted.brokerPortBase + coordinator.NodeId]);
        const co = await RawConnection.open(coordinator.Port);
        const memberId = randomBytes(16).toString('base64url');
        const hb = await co.request(API_KEY.ShareGroupHeartbeat, 1, { GroupId: group, MemberId: memberId, MemberEpoch: 0, RackId: null, SubscribedTopicNames: [topic] });
        assert.equal(hb.ErrorCode, 0, JSON.stringify(hb));

        // A share session on the broker that leads partition 1 but not partition 0, fetched until partition 1's records come.
        const expected = outcome === 'rewritten' ? [{ NodeId: leader, Host: host, Port: hinted.brokerPortBase + leader, Rack: null }] : [];
        const conn = await RawConnection.open(hinted.brokerPortBase + other);
        let epoch = 0;
        let hints = 0;
        let records: Buffer | undefined;
        let recordsWithHints = false;
        for (let i = 0; i < 10 && !records; i++) {
          const fetch = await conn.request(API_KEY.ShareFetch, 1, {
            GroupId: group, MemberId: memberId, ShareSessionEpoch: epoch++, MaxWaitMs: 2000, MinBytes: 1, MaxBytes: 8 << 20, MaxRecords: 1000, BatchSize: 1000,
            Topics: i === 0 ? [{ TopicId: topicId, Partitions: [0, 1].map((p) => ({ PartitionIndex: p, AcknowledgementBatches: [] })) }] : [],
            ForgottenTopicsData: [],
          });
          if (fetch.ErrorCode !== 0) assert.fail(`share fetch ${i}: error ${fetch.ErrorCode} (${fetch.ErrorMessage})`);
          const parts = (fetch.Responses as Array<{ Partitions: Array<Record<string, any>> }>).flatMap((t) => t.Partitions);
          const p0 = parts.find((p) => p.PartitionIndex === 0);
          const p1 = parts.find((p) => p.PartitionIndex === 1);
          if (i === 0) assert.equal(p0?.ErrorCode, 6, 'NOT_LEADER_OR_FOLLOWER for the partition the broker does not lead');
          if (p0?.ErrorCode === 6) {
            hints++;
            assert.equal(p0.CurrentLeader.LeaderId, leader);
            assert.deepEqual(fetch.NodeEndpoints, expected, 'the leader named at its proxy port (or not at all), never at the broker\'s own address');
          } else {
            assert.deepEqual(fetch.NodeEndpoints, []);
          }
          if (p1 && p1.ErrorCode === 0 && p1.Records.length > 0) { records = p1.Records as Buffer; recordsWithHints = p0?.ErrorCode === 6; }
        }
        assert.ok(records, 'partition 1\'s records came through the proxy');
        assert.ok(recordsWithHints, 'one answer carried both: the records, then the leader\'s endpoint');
        // Byte for byte what the broker has in its log: a plain Fetch straight from the broker, without the proxy.
        const direct = await RawConnection.open(cluster.brokers.find((b) => b.nodeId === other)!.plainPort);
        const plain = await direct.request(API_KEY.Fetch, 12, {
          ReplicaId: -1, MaxWaitMs: 0, MinBytes: 0, MaxBytes: 8 << 20, IsolationLevel: 0, SessionId: 0, SessionEpoch: -1, RackId: '',
          Topics: [{ Topic: topic, Partitions: [{ Partition: 1, CurrentLeaderEpoch: -1, FetchOffset: 0n, LastFetchedEpoch: -1, LogStartOffset: -1n, PartitionMaxBytes: 8 << 20 }] }],
          ForgottenTopicsData: [],
        });
        direct.socket.destroy();
        const logged = plain.Responses[0].Partitions[0].Records as Buffer;
        assert.ok(records.length > 300_000 && logged.subarray(0, records.length).equals(records), `records byte-identical (${records.length} bytes)`);
        for (const v of [values[0], values[399]]) assert.ok(records.includes(Buffer.from(v)));
        // Streamed: no ShareFetch answer was decoded (kafka_proxy_responses_total counts decoded answers only), and each
        // one naming the leader went through the in-place rewrite.
        assert.equal(await metric('kafka_proxy_responses_total', { api: 'ShareFetch' }), 0, 'no ShareFetch answer decoded whole');
        assert.equal(await metric('kafka_proxy_leader_hints_total', { api: 'ShareFetch', outcome }), hints);
        assert.equal(await metric('kafka_proxy_leader_hints_total', { api: 'ShareFetch' }), hints);
        process.stderr.write(`# ${host}: ${epoch} share fetches, ${hints} naming the leader (${outcome}), records in one of them: ${recordsWithHints}\n`);
        if (outcome === 'dropped') {
          // What the client does next: Metadata through the proxy, which names the leader at its proxy port.
          const again = await RawConnection.open(Number(hinted.bootstrap.split(':')[1]));
          const md2 = await again.request(API_KEY.Metadata, 12, { Topics: [{ TopicId: topicId, Name: null }], AllowAutoTopicCreation: false, IncludeTopicAuthorizedOperations: false });
          again.socket.destroy();
          assert.equal(md2.Topics[0].Partitions.find((p: { PartitionIndex: number }) => p.PartitionIndex === 0).LeaderId, leader);
          assert.deepEqual(md2.Brokers.find((b: { NodeId: number }) => b.NodeId === leader), { NodeId: leader, Host: host, Port: hinted.brokerPortBase + leader, Rack: null });
        }

        // Kafka 4.1 fills ShareAcknowledge's NodeEndpoints only for NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH
        // partitions, and a broker without the share partition answers UNKNOWN_TOPIC_OR_PARTITION instead: the answer
        // is decoded by the proxy and passes unchanged (the rewrite itself is test/proxy/share-fetch-stream.test.ts's).
        const ack = await conn.request(API_KEY.ShareAcknowledge, 1, {
          GroupId: group, MemberId: memberId, ShareSessionEpoch: epoch,
          Topics: [{ TopicId: topicId, Partitions: [{ PartitionIndex: 0, AcknowledgementBatches: [{ FirstOffset: 0n, LastOffset: 0n, AcknowledgeTypes: [1] }] }] }],
        });
        assert.equal(ack.ErrorCode, 0, JSON.stringify(ack));
        assert.equal(ack.Responses[0].Partitions[0].ErrorCode, 3, 'UNKNOWN_TOPIC_OR_PARTITION');
        assert.deepEqual(ack.NodeEndpoints, []);
        assert.equal(await metric('kafka_proxy_responses_total', { api: 'ShareAcknowledge' }), 1, 'the proxy decoded the ShareAcknowledge answer');
        assert.equal(await metricValue(hinted.metrics, 'kafka_proxy_undecodable_frames_total'), 0);
        conn.socket.destroy();
        co.socket.destroy();
      } finally {
        await hinted.stop();
      }
    });
  }
});
