/**
 * SNI routing (listen.sni) through one port to a real 3-broker cluster: TLS on the client side, the bootstrap name
 * bootstrap.kafka.test and one name per broker (broker-$(nodeId).kafka.test), all on the bootstrap port, with no
 * listener per broker. kafkajs, Kafka's Java CLI tools and kcat each resolve *.kafka.test to 127.0.0.1 without
 * /etc/hosts: kafkajs through its socket factory, the JVM through -Djdk.net.hosts.file, kcat through an LD_PRELOAD
 * getaddrinfo shim (resolve-shim.c, built here with gcc). Each creates, produces and consumes; the metadata they see
 * names only broker names on the one port; an unknown name is refused and counted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { runKafkaTool, TOOL_JVM_ARGS, writeClientProps } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { metricValue, startTestProxy, type TestProxy } from '../harness/proxy.js';
import { waitForTopics } from '../harness/metadata.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const DOMAIN = 'kafka.test';
const BOOTSTRAP = `bootstrap.${DOMAIN}`;
const PATTERN = `broker-$(nodeId).${DOMAIN}`;

describe('SNI routing: one port for bootstrap and every broker', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: TestProxy;
  let dir: string;
  let ca: string;
  let shim: string;
  let bootstrap: string;
  let port: number;

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    dir = mkdtempSync(join(tmpdir(), 'kap-sni-'));
    // One self-signed certificate for the bootstrap name and every broker name (a wildcard, as an operator would use).
    ca = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${BOOTSTRAP}`,
      '-addext', `subjectAltName=DNS:${BOOTSTRAP},DNS:*.${DOMAIN}`, '-keyout', join(dir, 'key.pem'), '-out', ca], { stdio: 'ignore' });
    shim = join(dir, 'resolve-shim.so');
    execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-o', shim, join(ROOT, 'test/deploy/resolve-shim.c'), '-ldl']);
    proxy = await startTestProxy(cluster.plainBootstrap, (c) => {
      c.listen.securityProtocol = 'SSL';
      c.listen.tls = { cert: ca, key: join(dir, 'key.pem') };
      c.listen.sni = { bootstrapHost: BOOTSTRAP, brokerHostPattern: PATTERN };
    });
    port = proxy.server.bootstrapPort;
    bootstrap = `${BOOTSTRAP}:${port}`;
    assert.equal(proxy.server.bootstrapAddress, bootstrap);
  });
  after(async () => {
    await proxy?.stop();
    await release?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('kafkajs: metadata names broker-N.kafka.test on the one port; create, produce, consume', async () => {
    const dialed: string[] = [];
    const kafka = new Kafka({
      clientId: 'sni-kafkajs', brokers: [bootstrap], logLevel: logLevel.NOTHING, ssl: true,
      socketFactory: ({ host, port: p, onConnect }) => {
        dialed.push(`${host}:${p}`);
        // Every *.kafka.test name resolves to loopback; the name still goes in SNI and is verified against the certificate.
        return tls.connect({ host: '127.0.0.1', port: p, servername: host, ca: [readFileSync(ca)] }, onConnect);
      },
    });
    const admin = kafka.admin();
    await admin.connect();
    const topic = `sni-kafkajs-${Date.now()}`;
    // Not waitForLeaders: kafkajs then fails on the UNKNOWN_TOPIC_OR_PARTITION a broker answers right after the
    // creation; waitForTopics asks every broker until all know the topic.
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }], waitForLeaders: false });
    await waitForTopics(cluster, [topic]);
    const described = await admin.describeCluster();
    assert.deepEqual(described.brokers.map((b) => `${b.host}:${b.port}`).sort(),
      cluster.brokers.map((b) => `broker-${b.nodeId}.${DOMAIN}:${port}`).sort());
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 30 }, (_, i) => ({ key: String(i), value: `v${i}` })) });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `sni-g-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${got.length} of 30`)), 60_000);
      void consumer.run({ eachMessage: async ({ message }) => { got.push(String(message.value)); if (got.length === 30) { clearTimeout(timer); resolve(); } } });
    });
    await consumer.disconnect();
    await admin.disconnect();
    assert.equal(got.length, 30);
    assert.ok(dialed.every((d) => d.endsWith(`:${port}`)), `a connection went to another port: ${dialed.join(', ')}`);
    const names = new Set(dialed.map((d) => d.split(':')[0]));
    assert.ok(cluster.brokers.some((b) => names.has(`broker-${b.nodeId}.${DOMAIN}`)), `no broker name dialed: ${[...names].join(', ')}`);
    // No per-broker listeners: the broker ports of the port-per-broker scheme are closed.
    for (const b of cluster.brokers) {
      const refused = await new Promise<boolean>((resolve) => {
        const s = net.connect(proxy.brokerPortBase + b.nodeId, '127.0.0.1', () => { s.destroy(); resolve(false); });
        s.on('error', () => resolve(true));
      });
      assert.ok(refused, `port ${proxy.brokerPortBase + b.nodeId} is open`);
    }
  });

  test('kcat (librdkafka): metadata, produce and consume through the one port', async () => {
    const topic = `sni-kcat-${Date.now()}`;
    const kcatSni = (args: string[], input?: string) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile('kcat', ['-b', bootstrap, '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${ca}`, ...args],
        { timeout: 60_000, env: { ...process.env, LD_PRELOAD: shim, RESOLVE_TO_LOOPBACK_SUFFIX: `.${DOMAIN}` } },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
      child.stdin!.end(input ?? '');
    });
    const admin = new Kafka({ clientId: 'sni-setup', brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 3 }], waitForLeaders: false });
    await admin.disconnect();
    await waitForTopics(cluster, [topic]);
    const md = await kcatSni(['-L', '-J']);
    assert.equal(md.code, 0, md.stderr);
    const meta = JSON.parse(md.stdout) as { brokers: { id: number; name: string }[] };
    assert.deepEqual(meta.brokers.map((b) => b.name).sort(), cluster.brokers.map((b) => `broker-${b.nodeId}.${DOMAIN}:${port}`).sort());
    const lines = Array.from({ length: 20 }, (_, i) => `kcat-sni-${i}`);
    const produced = await kcatSni(['-P', '-t', topic], lines.join('\n') + '\n');
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await kcatSni(['-C', '-t', topic, '-o', 'beginning', '-e', '-q']);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n').sort(), [...lines].sort());
  });

  test('Java CLI tools: kafka-topics, console producer and consumer through the one port', async () => {
    const hosts = join(dir, 'hosts');
    // The JVM's own hosts file (jdk.net.hosts.file): names for more node ids than the cluster has, as a new broker would need.
    writeFileSync(hosts, `127.0.0.1 ${BOOTSTRAP} ${Array.from({ length: 10 }, (_, i) => `broker-${i}.${DOMAIN}`).join(' ')}\n`);
    const props = writeClientProps(dir, 'sni-client', { 'security.protocol': 'SSL', 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': ca });
    const jvmArgs = [...TOOL_JVM_ARGS, `-Djdk.net.hosts.file=${hosts}`];
    const topic = `sni-cli-${Date.now()}`;
    const tool = async (cls: string, args: string[], stdin?: string) => {
      const r = await runKafkaTool(cls, ['--bootstrap-server', bootstrap, ...args], { stdin, timeoutMs: 90_000, jvmArgs });
      assert.equal(r.code, 0, `${cls} ${args.join(' ')} failed:\n${r.stderr}\n${r.stdout}`);
      return r.stdout;
    };
    assert.match(await tool('org.apache.kafka.tools.TopicCommand', ['--command-config', props, '--create', '--topic', topic, '--partitions', '3', '--replication-factor', '3']), /Created topic/);
    await waitForTopics(cluster, [topic]);
    const described = await tool('org.apache.kafka.tools.TopicCommand', ['--command-config', props, '--describe', '--topic', topic]);
    assert.match(described, /PartitionCount: 3/);
    await tool('kafka.tools.ConsoleProducer', ['--producer.config', props, '--topic', topic], 'one\ntwo\nthree\n');
    const consumed = await tool('org.apache.kafka.tools.consumer.ConsoleConsumer', ['--consumer.config', props, '--topic', topic, '--from-beginning', '--max-messages', '3', '--timeout-ms', '60000']);
    assert.deepEqual(consumed.trim().split('\n').sort(), ['one', 'three', 'two']);
  });

  test('a TLS server name the proxy does not serve is refused, counted and logged', async () => {
    const before = await metricValue(proxy.metrics, 'kafka_proxy_connections_rejected_total', { reason: 'sni_unknown_host' });
    for (const servername of ['other.example.com', undefined]) {
      await new Promise<void>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, servername, ca: [readFileSync(ca)], rejectUnauthorized: false });
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
    }
    assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_connections_rejected_total', { reason: 'sni_unknown_host' }), before + 2);
    const refused = proxy.logLines.map((l) => JSON.parse(l) as { msg: string; reason?: string }).filter((l) => l.msg === 'connection refused' && /TLS server name/.test(l.reason ?? ''));
    assert.match(refused[0].reason!, /"other\.example\.com" is not one this proxy serves \(bootstrap\.kafka\.test or broker-\$\(nodeId\)\.kafka\.test\)/);
  });
});
