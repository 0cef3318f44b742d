/**
 * KIP-848 consumer groups (group.protocol=consumer, the default protocol of Kafka 4's brokers, opt-in for 4.x clients)
 * through the proxy against Kafka 4.1.1, without kafkajs: Kafka 4.1's own console consumer joins with
 * ConsumerGroupHeartbeat (never JoinGroup/SyncGroup), receives every record produced, and never leaves the proxy's
 * ports (the brokers' connection logs as witness); the broker lists the group as a "consumer" (KIP-848) group.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runKafkaTool, type KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { waitForTopics } from '../harness/metadata.js';
import { metricValue, startTestProxy, type TestProxy } from '../harness/proxy.js';
import type { API_KEY } from '../../protocol/registry.js';
import { BrokerWitness, PROXY_EGRESS } from './witness.js';

const VERSION = '4.1.1';

describe(`KIP-848 consumer group through the proxy (Kafka ${VERSION}, 3 brokers)`, () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: TestProxy;
  let witness: BrokerWitness;
  const n = Date.now();
  const topic = `kip848-${n}`;
  const group = `g-kip848-${n}`;

  const tool = async (cls: string, args: string[], stdin?: string): Promise<string> => {
    const r = await runKafkaTool(cls, ['--bootstrap-server', proxy.bootstrap, ...args], { stdin, timeoutMs: 90_000, version: VERSION });
    assert.equal(r.code, 0, `${cls} ${args.join(' ')}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
  const requests = (api: keyof typeof API_KEY) => metricValue(proxy.metrics, 'kafka_proxy_requests_total', { api });

  before(async () => {
    ({ cluster, release } = await useCluster(3, VERSION));
    assert.equal(cluster.version, VERSION);
    witness = new BrokerWitness(cluster);
    proxy = await startTestProxy(cluster.plainBootstrap, (c) => { c.upstream.localAddress = PROXY_EGRESS; });
  });
  after(async () => {
    await proxy?.stop();
    await release?.();
  });

  test('console consumer with group.protocol=consumer: every record, ConsumerGroupHeartbeat only, proxy ports only', async () => {
    assert.match(await tool('org.apache.kafka.tools.TopicCommand', ['--create', '--topic', topic, '--partitions', '3', '--replication-factor', '3']), /Created topic/);
    await waitForTopics({ brokers: cluster.brokers.map((b) => ({ ...b, plainPort: proxy.brokerPortBase + b.nodeId })) }, [topic]);
    const lines = Array.from({ length: 40 }, (_, i) => `kip848-record-${i}`);
    await tool('org.apache.kafka.tools.ConsoleProducer', ['--topic', topic], lines.join('\n') + '\n');

    const before = { hb: await requests('ConsumerGroupHeartbeat'), join: await requests('JoinGroup'), sync: await requests('SyncGroup'), fetch: await requests('Fetch') };
    const { result: out, accepted } = await witness.window('ConsoleConsumer (KIP-848)', () => tool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--topic', topic, '--group', group, '--from-beginning', '--max-messages', String(lines.length), '--timeout-ms', '60000',
      '--consumer-property', 'group.protocol=consumer',
    ]));
    assert.deepEqual(out.trim().split('\n').sort(), [...lines].sort());
    assert.ok(await requests('ConsumerGroupHeartbeat') > before.hb, 'the consumer joined with ConsumerGroupHeartbeat, through the proxy');
    assert.equal(await requests('JoinGroup'), before.join, 'no classic JoinGroup');
    assert.equal(await requests('SyncGroup'), before.sync, 'no classic SyncGroup');
    assert.ok(await requests('Fetch') > before.fetch);
    // Three partitions led by three brokers: the consumer fetched from each, every time through the proxy.
    assert.equal(new Set(accepted.map((a) => a.node)).size, 3, accepted.map((a) => a.line).join('\n'));
    assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_undecodable_frames_total'), 0);
  });

  test('the broker knows the group as a KIP-848 "consumer" group, with its committed offsets (asked through the proxy)', async () => {
    const listed = await tool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--list', '--type']);
    const row = listed.split('\n').find((l) => l.trim().split(/\s+/)[0] === group);
    assert.ok(row, `${group} in:\n${listed}`);
    assert.match(row, /\bConsumer\b/i);
    assert.doesNotMatch(row, /\bClassic\b/i);
    const described = await tool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--describe', '--group', group]);
    const offsets = described.split('\n').filter((l) => l.includes(topic)).map((l) => l.trim().split(/\s+/));
    assert.equal(offsets.length, 3, described);
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...: every partition consumed to its end (an empty
    // partition may show no committed offset, "-").
    const total = offsets.reduce((sum, cols) => {
      const committed = cols[3] === '-' && cols[4] === '0' ? '0' : cols[3];
      assert.equal(committed, cols[4], `partition ${cols[2]} committed to its end: ${cols.join(' ')}`);
      return sum + Number(cols[4]);
    }, 0);
    assert.equal(total, 40);
  });
});
