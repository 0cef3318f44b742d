/**
 * Clients behind the proxy never connect to a broker themselves, proven from the brokers' side.
 *
 * Every broker logs each connection it accepts (kafka.network.DataPlaneAcceptor at DEBUG, scripts/kafka/log4j.properties):
 *   "Accepted connection from /127.0.0.2:40936 on /127.0.0.1:35449 and assigned it to processor 0, ..."
 * The proxy here dials upstream from 127.0.0.2 (upstream.localAddress), every client runs on 127.0.0.1, and broker
 * to broker traffic uses its own INTERNAL listener (test/harness/kafka-cluster.ts). So while kafkajs, Kafka's CLI tools
 * and kcat work through the proxy, every connection accepted on a client listener (PLAINTEXT, SASL_PLAINTEXT) must come
 * from 127.0.0.2, and each tool family must cause at least one (else the check proves nothing). A direct connection
 * made afterwards shows that the check does see 127.0.0.1 when it happens.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readSync, closeSync, statSync, readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { runKafkaTool, type KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { waitForTopics } from '../harness/metadata.js';
import { metricValue, startTestProxy, type TestProxy } from '../harness/proxy.js';
import { kcat } from '../harness/clients.js';

const PROXY_EGRESS = '127.0.0.2';
const ACCEPTED = /Accepted connection from \/([\d.]+):(\d+) on \/([\d.]+):(\d+)/;

interface Accepted { node: number; from: string; fromPort: number; onPort: number; line: string }



describe('no client connects to a broker directly (3 brokers, broker logs as witness)', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: TestProxy;
  let clientPorts: Set<number>;

  /** Current size of every broker log: the start of a window. */
  const mark = (): Map<number, number> => new Map(cluster.brokers.map((b) => [b.nodeId, statSync(cluster.logOf(b.nodeId)).size]));

  /** Connections the brokers accepted since `from`, on any listener. */
  function acceptedSince(from: Map<number, number>): Accepted[] {
    const out: Accepted[] = [];
    for (const b of cluster.brokers) {
      const file = cluster.logOf(b.nodeId);
      const start = from.get(b.nodeId)!;
      const size = statSync(file).size;
      const buf = Buffer.alloc(size - start);
      const fd = openSync(file, 'r');
      try { readSync(fd, buf, 0, buf.length, start); } finally { closeSync(fd); }
      for (const line of buf.toString('utf8').split('\n')) {
        const m = ACCEPTED.exec(line);
        if (m) out.push({ node: b.nodeId, from: m[1], fromPort: Number(m[2]), onPort: Number(m[4]), line });
      }
    }
    return out;
  }

  /** Runs `fn`, then returns the connections accepted on client listeners meanwhile (after the log caught up). */
  async function window(fn: () => Promise<void>): Promise<Accepted[]> {
    const from = mark();
    const proxiedBefore = await metricValue(proxy.metrics, 'kafka_proxy_connections_total');
    await fn();
    const proxied = await metricValue(proxy.metrics, 'kafka_proxy_connections_total') - proxiedBefore;
    // The broker logs an accept before it reads a byte, so by now the lines exist; give the appender a moment anyway.
    await new Promise((r) => setTimeout(r, 500));
    const accepted = acceptedSince(from).filter((a) => clientPorts.has(a.onPort));
    assert.ok(proxied >= 1, 'the clients went through the proxy');
    return accepted;
  }

  function assertAllFromProxy(family: string, accepted: Accepted[]): void {
    assert.ok(accepted.length >= 1, `${family}: no connection reached a broker client listener in the window, so this check would prove nothing`);
    const direct = accepted.filter((a) => a.from !== PROXY_EGRESS);
    assert.deepEqual(direct.map((a) => a.line), [], `${family}: connections to broker client listeners not made by the proxy`);
  }

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    clientPorts = new Set(cluster.brokers.flatMap((b) => [b.plainPort, b.saslPort, ...(b.sslPort ? [b.sslPort] : [])]));
    proxy = await startTestProxy(cluster.plainBootstrap, (c) => { c.upstream.localAddress = PROXY_EGRESS; });
  });
  after(async () => {
    await proxy?.stop();
    await release?.();
  });

  const topic = `direct-check-${Date.now()}`;
  const all: Accepted[] = [];
  let windowStart: Map<number, number>;

  test('kafkajs: create a topic, produce, consume in a group', async () => {
    windowStart = mark();
    const accepted = await window(async () => {
      const kafka = new Kafka({ clientId: 'no-direct-test', brokers: [proxy.bootstrap], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }], waitForLeaders: false });
      await waitForTopics({ brokers: cluster.brokers.map((b) => ({ ...b, plainPort: proxy.brokerPortBase + b.nodeId })) }, [topic]);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `kafkajs-${i}` })) });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: `g-kafkajs-${topic}` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let n = 0;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`consumed only ${n} of 30`)), 60_000);
        void consumer.run({ eachMessage: async () => { if (++n === 30) { clearTimeout(timer); resolve(); } } });
      });
      await consumer.disconnect();
      await admin.disconnect();
    });
    assertAllFromProxy('kafkajs', accepted);
    // kafkajs talks to every broker holding a leader: all three saw it, through the proxy.
    assert.equal(new Set(accepted.map((a) => a.node)).size, 3);
    all.push(...accepted);
  });

  test('the cluster keeps broker-to-broker traffic on its INTERNAL listener', () => {
    for (const b of cluster.brokers) {
      assert.ok(b.internalPort && !clientPorts.has(b.internalPort), `node ${b.nodeId} has an INTERNAL port apart from the client ports`);
    }
    // Replica fetchers (started by the first topic with replicas on other nodes, at the latest the one the kafkajs
    // step made) connect to the INTERNAL ports; the window checks showed they did not use client ports.
    const all = acceptedSince(new Map(cluster.brokers.map((b) => [b.nodeId, 0])));
    const internalPorts = new Set(cluster.brokers.map((b) => b.internalPort));
    assert.ok(all.some((a) => internalPorts.has(a.onPort)), 'inter-broker connections show up on the INTERNAL listeners');
    const props = readFileSync(cluster.logOf(1).replace(/server\.log$/, 'server.properties'), 'utf8');
    assert.match(props, /^inter\.broker\.listener\.name=INTERNAL$/m);
  });

  test('Kafka CLI tools: TopicCommand, ConsoleProducer, ConsoleConsumer (group), ConsumerGroupCommand', async () => {
    const group = `g-cli-${topic}`;
    const tool = async (cls: string, args: string[], stdin?: string) => {
      const r = await runKafkaTool(cls, ['--bootstrap-server', proxy.bootstrap, ...args], { stdin, timeoutMs: 90_000 });
      assert.equal(r.code, 0, `${cls} ${args.join(' ')}:\n${r.stderr}\n${r.stdout}`);
      return r.stdout;
    };
    const perTool: Record<string, Accepted[]> = {};
    perTool.TopicCommand = await window(async () => {
      assert.match(await tool('org.apache.kafka.tools.TopicCommand', ['--create', '--topic', `${topic}-cli`, '--partitions', '2', '--replication-factor', '3']), /Created topic/);
      assert.match(await tool('org.apache.kafka.tools.TopicCommand', ['--describe', '--topic', topic]), /PartitionCount: 3/);
    });
    // Asked through the proxy's per-broker ports, so these checks come from the proxy too.
    await waitForTopics({ brokers: cluster.brokers.map((b) => ({ ...b, plainPort: proxy.brokerPortBase + b.nodeId })) }, [`${topic}-cli`]);
    perTool.ConsoleProducer = await window(async () => {
      await tool('kafka.tools.ConsoleProducer', ['--topic', `${topic}-cli`], 'one\ntwo\nthree\n');
    });
    perTool.ConsoleConsumer = await window(async () => {
      const out = await tool('org.apache.kafka.tools.consumer.ConsoleConsumer',
        ['--topic', `${topic}-cli`, '--from-beginning', '--max-messages', '3', '--timeout-ms', '30000', '--group', group]);
      assert.deepEqual(out.trim().split('\n').sort(), ['one', 'three', 'two']);
    });
    perTool.ConsumerGroupCommand = await window(async () => {
      assert.match(await tool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--describe', '--group', group]), new RegExp(`${topic}-cli`));
    });
    for (const [name, accepted] of Object.entries(perTool)) assertAllFromProxy(name, accepted);
    all.push(...Object.values(perTool).flat());
  });

  test('kcat: -L, -P, -C', async () => {
    const perMode: Record<string, Accepted[]> = {};
    perMode['kcat -L'] = await window(async () => {
      const r = await kcat(['-b', proxy.bootstrap, '-L', '-t', topic]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`topic "${topic}" with 3 partitions`));
    });
    const lines = Array.from({ length: 12 }, (_, i) => `kcat-${i}`);
    perMode['kcat -P'] = await window(async () => {
      const r = await kcat(['-b', proxy.bootstrap, '-P', '-t', topic], lines.join('\n') + '\n');
      assert.equal(r.code, 0, r.stderr);
    });
    perMode['kcat -C'] = await window(async () => {
      const r = await kcat(['-b', proxy.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q']);
      assert.equal(r.code, 0, r.stderr);
      const got = r.stdout.trim().split('\n');
      for (const l of lines) assert.ok(got.includes(l), `kcat consumed ${l}`);
    });
    for (const [name, accepted] of Object.entries(perMode)) assertAllFromProxy(name, accepted);
    all.push(...Object.values(perMode).flat());
  });

  test('over the whole window, every connection on a broker client listener came from the proxy', async () => {
    assert.ok(windowStart, 'the client tests ran');
    const everything = acceptedSince(windowStart).filter((a) => clientPorts.has(a.onPort));
    assertAllFromProxy('whole window', everything);
    assert.ok(everything.length >= all.length);
  });

  test('control: a direct connection is seen by the same check', async () => {
    const from = mark();
    const r = await kcat(['-b', cluster.plainBootstrap, '-L']);
    assert.equal(r.code, 0, r.stderr);
    await new Promise((res) => setTimeout(res, 500));
    const accepted = acceptedSince(from).filter((a) => clientPorts.has(a.onPort));
    assert.ok(accepted.some((a) => a.from === '127.0.0.1'), `a direct kcat -L shows up as from 127.0.0.1: ${JSON.stringify(accepted.map((a) => a.line))}`);
  });

  test('clean up (through the proxy)', async () => {
    const admin = new Kafka({ clientId: 'no-direct-test', brokers: [proxy.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, `${topic}-cli`] }).catch(() => undefined);
    await admin.disconnect();
  });
});
