// Proves the real-Kafka test harness: one 1-node cluster (with the optional SSL listener) for the whole suite.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import {
  runKafkaTool,
  startKafkaCluster,
  writeClientProps,
  type KafkaCluster,
} from './harness/kafka-cluster.js';
import { kcat } from './harness/clients.js';

const TOPIC_COMMAND = 'org.apache.kafka.tools.TopicCommand';


/** pids of live processes whose command line mentions `needle` */
function pidsMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(join('/proc', entry, 'cmdline'), 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

describe('real Kafka harness (1 node)', () => {
  let cluster: KafkaCluster;
  let clientDir: string;

  before(async () => {
    cluster = await startKafkaCluster({ brokers: 1, tls: true });
    clientDir = join(cluster.runDir, 'client');
  });

  after(async () => {
    await cluster?.stop();
  });

  test('cluster shape', () => {
    assert.equal(cluster.brokers.length, 1);
    const [b] = cluster.brokers;
    assert.equal(b.nodeId, 1);
    assert.equal(b.host, '127.0.0.1');
    assert.ok(b.pid && b.pid > 0);
    assert.equal(cluster.plainBootstrap, `127.0.0.1:${b.plainPort}`);
    assert.equal(cluster.saslBootstrap, `127.0.0.1:${b.saslPort}`);
    assert.equal(cluster.sslBootstrap, `127.0.0.1:${b.sslPort}`);
    assert.match(cluster.clusterId, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    assert.match(readFileSync(cluster.logOf(1), 'utf8'), /Kafka Server started/);
  });

  test('TopicCommand creates a topic over PLAINTEXT', async () => {
    const res = await runKafkaTool(TOPIC_COMMAND, [
      '--bootstrap-server', cluster.plainBootstrap, '--create', '--topic', 'harness-plain', '--partitions', '2',
    ]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /Created topic harness-plain\./);
  });

  test('TopicCommand create over SASL_PLAINTEXT as alice (SCRAM-SHA-256) is denied by the authorizer', async () => {
    const props = writeClientProps(clientDir, 'alice-scram256', {
      'security.protocol': 'SASL_PLAINTEXT',
      'sasl.mechanism': 'SCRAM-SHA-256',
      'sasl.jaas.config':
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";',
    });
    const res = await runKafkaTool(TOPIC_COMMAND, [
      '--bootstrap-server', cluster.saslBootstrap, '--command-config', props, '--create', '--topic', 'harness-denied',
    ]);
    assert.notEqual(res.code, 0);
    assert.match(res.stdout + res.stderr, /Authorization failed|TopicAuthorizationException/);
    // Authentication itself worked (the principal is alice); the broker's own authorizer log agrees.
    assert.match(
      readFileSync(cluster.logOf(1), 'utf8'),
      /Principal = User:alice is Denied operation = CREATE from host = 127\.0\.0\.1 on resource = Topic:LITERAL:harness-denied/,
    );
  });

  test('admin over SASL_PLAINTEXT (PLAIN) is a super user', async () => {
    const props = writeClientProps(clientDir, 'admin-plain', {
      'security.protocol': 'SASL_PLAINTEXT',
      'sasl.mechanism': 'PLAIN',
      'sasl.jaas.config':
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";',
    });
    const res = await runKafkaTool(TOPIC_COMMAND, [
      '--bootstrap-server', cluster.saslBootstrap, '--command-config', props, '--create', '--topic', 'harness-admin',
    ]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /Created topic harness-admin\./);
  });

  test('kcat -L over PLAINTEXT lists the broker', async () => {
    const res = await kcat(['-L', '-b', cluster.plainBootstrap, '-m', '10']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`broker 1 at 127\\.0\\.0\\.1:${cluster.brokers[0].plainPort}`));
    assert.match(res.stdout, /topic "harness-plain" with 2 partitions/);
  });

  test('kcat -L over SASL_PLAINTEXT with SCRAM-SHA-512 as bob works', async () => {
    const res = await kcat([
      '-L', '-b', cluster.saslBootstrap, '-m', '10',
      '-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=SCRAM-SHA-512',
      '-X', 'sasl.username=bob', '-X', 'sasl.password=bob-secret',
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /1 brokers:/);
  });

  test('kcat over SSL verifies the broker with the test CA and rejects it with the unrelated CA', async () => {
    const certs = cluster.certs!;
    const ok = await kcat(['-L', '-b', cluster.sslBootstrap!, '-m', '10', '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${certs.caCert}`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /1 brokers:/);
    const bad = await kcat(['-L', '-b', cluster.sslBootstrap!, '-m', '1', '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${certs.wrongCaCert}`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /certificate verify failed/);
  });

  test('kafkajs SASL PLAIN: alice with the right password connects, with a wrong one fails authentication', async () => {
    const client = (password: string) =>
      new Kafka({
        clientId: 'harness-test',
        brokers: [cluster.saslBootstrap],
        sasl: { mechanism: 'plain', username: 'alice', password },
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
        connectionTimeout: 3000,
      });

    const good = client('alice-secret').admin();
    await good.connect();
    try {
      const { brokers } = await good.describeCluster();
      assert.equal(brokers.length, 1);
    } finally {
      await good.disconnect();
    }

    const bad = client('wrong-password').admin();
    await assert.rejects(
      async () => {
        try {
          await bad.connect();
        } finally {
          await bad.disconnect();
        }
      },
      (err: Error) => {
        assert.equal(err.name, 'KafkaJSSASLAuthenticationError', `${err.name}: ${err.message}`);
        assert.match(err.message, /SASL PLAIN authentication failed/);
        return true;
      },
    );
  });

  // Last: stops the suite's cluster (the after hook's stop() is then a no-op).
  test('stop() leaves no java process behind and removes the run dir', async () => {
    const runDir = cluster.runDir;
    assert.ok(pidsMentioning(runDir).length > 0, 'the broker JVM should mention runDir on its command line');
    await cluster.stop();
    assert.deepEqual(pidsMentioning(runDir), []);
    assert.equal(cluster.brokers[0].pid, undefined);
    if (process.env.KEEP_KAFKA_RUN !== '1') assert.throws(() => readdirSync(runDir));
  });
});
