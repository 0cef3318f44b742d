/**
 * Transparency: real clients (kafkajs, Kafka's own CLI tools, librdkafka's kcat) work through the proxy in
 * front of a real 3-broker KRaft cluster, and never connect to a broker port directly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { runKafkaTool, type KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { startTestProxy, type TestProxy } from '../harness/proxy.js';
import { waitForTopics } from '../harness/metadata.js';
import { kcat, waitFor } from '../harness/clients.js';


/** kafkajs whose every socket is recorded, so the test can see which ports it dialed. */
function recordingKafka(bootstrap: string, dialed: string[]): Kafka {
  return new Kafka({
    clientId: 'transparency-test', brokers: [bootstrap], logLevel: logLevel.NOTHING,
    socketFactory: ({ host, port, onConnect }) => {
      dialed.push(`${host}:${port}`);
      const s = net.connect({ host, port }, onConnect);
      s.setKeepAlive(true, 30_000);
      return s;
    },
  });
}


describe('transparency through the proxy (3 brokers)', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: TestProxy;
  let tmp: string;
  let brokerPorts: Set<number>;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    proxy = await startTestProxy(cluster.plainBootstrap);
    tmp = mkdtempSync(join(tmpdir(), 'kap-transparency-'));
    brokerPorts = new Set(cluster.brokers.flatMap((b) => [b.plainPort, b.saslPort]));
  });
  after(async () => {
    await proxy?.stop();
    await release?.();
  });

  const proxyPorts = () => new Set([proxy.server.bootstrapPort, ...cluster.brokers.map((b) => proxy.brokerPortBase + b.nodeId)]);

  test('kafkajs: create topic, produce, consume in a group, delete, all through proxy ports', async () => {
    const dialed: string[] = [];
    const kafka = recordingKafka(proxy.bootstrap, dialed);
    const admin = kafka.admin();
    await admin.connect();
    const topic = `t-kafkajs-${Date.now()}`;
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }], waitForLeaders: false }), true);
    // kafkajs's waitForLeaders gives up on UNKNOWN_TOPIC_OR_PARTITION from a broker that has not yet applied the
    // new topic's metadata (the same happens without the proxy); poll instead.
    await waitForTopics(cluster, [topic]);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(meta.topics[0].partitions.length, 3);

    const producer = kafka.producer();
    await producer.connect();
    const sent = Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 17}`, value: `value-${i}` }));
    for (let i = 0; i < sent.length; i += 50) await producer.send({ topic, messages: sent.slice(i, i + 50) });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `g-${topic}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${sent.length} messages arrived`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          received.push(message.value!.toString());
          if (received.length === sent.length) { clearTimeout(timer); resolve(); }
        },
      });
    });
    await consumer.disconnect();
    assert.deepEqual(received.sort(), sent.map((m) => m.value).sort());

    await admin.deleteTopics({ topics: [topic] });
    // The controller answers DeleteTopics once the removal is committed; a broker may apply it a moment later, and
    // listTopics asks any broker (the same race exists without the proxy). Poll until every answer agrees.
    await waitFor(async () => !(await admin.listTopics()).includes(topic));
    await admin.disconnect();

    const ports = proxyPorts();
    const dialedPorts = dialed.map((d) => Number(d.split(':')[1]));
    assert.ok(dialedPorts.length >= 2, `kafkajs dialed ${dialed.join(', ')}`);
    for (const p of dialedPorts) {
      assert.ok(ports.has(p), `kafkajs dialed port ${p}, which is not a proxy port (${[...ports].join(', ')})`);
      assert.ok(!brokerPorts.has(p), `kafkajs dialed broker port ${p} directly`);
    }
    // The per-broker listeners were used, not only the bootstrap one.
    assert.ok(dialedPorts.some((p) => p !== proxy.server.bootstrapPort));
  });

  test('kcat: metadata lists only proxy addresses; produce and consume round trip', async () => {
    const topic = `t-kcat-${Date.now()}`;
    const created = await runKafkaTool('org.apache.kafka.tools.TopicCommand',
      ['--bootstrap-server', proxy.bootstrap, '--create', '--topic', topic, '--partitions', '2', '--replication-factor', '3']);
    assert.equal(created.code, 0, created.stderr);
    // librdkafka drops messages for a topic a lagging broker reports with 0 partitions: wait for all brokers.
    await waitForTopics(cluster, [topic]);

    const md = await kcat(['-b', proxy.bootstrap, '-L', '-J']);
    assert.equal(md.code, 0, md.stderr);
    const meta = JSON.parse(md.stdout) as { brokers: { id: number; name: string }[] };
    assert.equal(meta.brokers.length, 3);
    for (const b of meta.brokers) {
      assert.equal(b.name, `127.0.0.1:${proxy.brokerPortBase + b.id}`, `broker ${b.id} advertised as ${b.name}`);
    }

    const lines = Array.from({ length: 20 }, (_, i) => `kcat-line-${i}`);
    const produced = await kcat(['-b', proxy.bootstrap, '-P', '-t', topic], lines.join('\n') + '\n');
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await kcat(['-b', proxy.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q']);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n').sort(), [...lines].sort());
  });

  test('Kafka CLI tools: topics, console producer/consumer, consumer-groups, acls, configs', async () => {
    const B = proxy.bootstrap;
    const topic = `t-cli-${Date.now()}`;
    const group = `g-cli-${Date.now()}`;
    const tool = async (cls: string, args: string[], stdin?: string) => {
      const r = await runKafkaTool(cls, ['--bootstrap-server', B, ...args], { stdin, timeoutMs: 90_000 });
      assert.equal(r.code, 0, `${cls} ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
      return r.stdout;
    };
    assert.match(await tool('org.apache.kafka.tools.TopicCommand', ['--create', '--topic', topic, '--partitions', '3', '--replication-factor', '2']), /Created topic/);
    await waitForTopics(cluster, [topic]);
    assert.match(await tool('org.apache.kafka.tools.TopicCommand', ['--list']), new RegExp(topic));
    const described = await tool('org.apache.kafka.tools.TopicCommand', ['--describe', '--topic', topic]);
    assert.match(described, /PartitionCount: 3/);

    await tool('kafka.tools.ConsoleProducer', ['--topic', topic], 'one\ntwo\nthree\n');
    const consumed = await tool('org.apache.kafka.tools.consumer.ConsoleConsumer',
      ['--topic', topic, '--from-beginning', '--max-messages', '3', '--timeout-ms', '30000', '--group', group]);
    assert.deepEqual(consumed.trim().split('\n').sort(), ['one', 'three', 'two']);

    assert.match(await tool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--list']), new RegExp(group));
    assert.match(await tool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--describe', '--group', group]), new RegExp(topic));
    assert.match(await tool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--delete', '--group', group]), /successful/);

    await tool('kafka.admin.AclCommand', ['--add', '--allow-principal', 'User:alice', '--operation', 'Read', '--topic', topic]);
    assert.match(await tool('kafka.admin.AclCommand', ['--list', '--topic', topic]), /User:alice/);
    await tool('kafka.admin.AclCommand', ['--remove', '--force', '--allow-principal', 'User:alice', '--operation', 'Read', '--topic', topic]);
    assert.doesNotMatch(await tool('kafka.admin.AclCommand', ['--list', '--topic', topic]), /User:alice/);

    await tool('kafka.admin.ConfigCommand', ['--alter', '--entity-type', 'topics', '--entity-name', topic, '--add-config', 'retention.ms=123456']);
    assert.match(await tool('kafka.admin.ConfigCommand', ['--describe', '--entity-type', 'topics', '--entity-name', topic]), /retention\.ms=123456/);

    await tool('org.apache.kafka.tools.TopicCommand', ['--delete', '--topic', topic]);
  });
});
