/**
 * Frames captured from real clients on the wire (kafkajs, Kafka's own CLI tools, librdkafka's kcat) against a
 * real broker, decoded with our schemas and re-encoded: every frame of every API we have a schema for must
 * come back byte for byte. A capture relay sits between clients and the broker (the broker advertises the
 * relay's port, so clients stay on it). With CAPTURE_WRITE=1 the frames are also stored as fixtures in
 * test/protocol/fixtures/captured.json, which the offline test below replays without a broker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { decodeMessage, encodeMessage } from '../../protocol/codec.js';
import { readRequestHeader, responseBodyOffset } from '../../protocol/header.js';
import { requestHeaderVersion, responseHeaderVersion } from '../../protocol/facts.js';
import { API_SCHEMAS, apiName } from '../../protocol/registry.js';
import { addRelayListener, runKafkaTool, startKafkaCluster, type KafkaCluster } from '../harness/kafka-cluster.js';
import { freePorts } from '../harness/ports.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'captured.json');

interface Captured { client: string; side: 'request' | 'response'; apiKey: number; apiVersion: number; hex: string }

/** Body offset of a frame (size prefix excluded). */
function bodyOf(c: Captured): { body: Buffer; schemaVersion: number } | undefined {
  const schema = API_SCHEMAS.get(c.apiKey);
  if (!schema) return undefined;
  const frame = Buffer.from(c.hex, 'hex');
  if (c.side === 'request') {
    const h = readRequestHeader(frame, requestHeaderVersion(c.apiKey, c.apiVersion) === 2 ? 2 : 1);
    return { body: frame.subarray(h.bodyOffset), schemaVersion: c.apiVersion };
  }
  return { body: frame.subarray(responseBodyOffset(frame, responseHeaderVersion(c.apiKey, c.apiVersion) ?? 0)), schemaVersion: c.apiVersion };
}

function roundTrip(c: Captured): void {
  const schema = API_SCHEMAS.get(c.apiKey)!;
  const message = c.side === 'request' ? schema.request : schema.response;
  const { body, schemaVersion } = bodyOf(c)!;
  const decoded = decodeMessage(message, schemaVersion, body);
  const again = encodeMessage(message, schemaVersion, decoded);
  assert.ok(again.equals(body), `${c.client}: ${apiName(c.apiKey)} v${c.apiVersion} ${c.side} does not re-encode byte for byte`);
}

/** A byte relay that also splits both directions into frames and records them with their API key/version. */
function captureRelay(port: number, target: number, frames: Captured[], client: () => string): net.Server {
  return net.createServer((down) => {
    const up = net.connect({ host: '127.0.0.1', port: target });
    const inflight = new Map<number, { apiKey: number; apiVersion: number }>();
    const splitter = (onFrame: (f: Buffer) => void) => {
      let buf = Buffer.alloc(0);
      return (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
          const n = buf.readInt32BE(0);
          onFrame(buf.subarray(4, 4 + n));
          buf = buf.subarray(4 + n);
        }
      };
    };
    const onRequest = splitter((f) => {
      const apiKey = f.readInt16BE(0); const apiVersion = f.readInt16BE(2);
      inflight.set(f.readInt32BE(4), { apiKey, apiVersion });
      frames.push({ client: client(), side: 'request', apiKey, apiVersion, hex: f.toString('hex') });
    });
    const onResponse = splitter((f) => {
      const req = inflight.get(f.readInt32BE(0));
      if (req) frames.push({ client: client(), side: 'response', ...req, hex: f.toString('hex') });
    });
    down.on('data', (c: Buffer) => { onRequest(c); up.write(c); });
    up.on('data', (c: Buffer) => { onResponse(c); down.write(c); });
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
  }).listen(port, '127.0.0.1');
}

function kcat(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('kcat', args, { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`kcat ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
    if (input !== undefined) { child.stdin!.end(input); }
  });
}

describe('frames captured from real clients re-encode byte for byte', () => {
  let cluster: KafkaCluster;
  let relay: net.Server;
  const frames: Captured[] = [];
  let current = 'setup';
  let bootstrap = '';

  before(async () => {
    cluster = await startKafkaCluster({ brokers: 1 });
    const [relayPort] = await freePorts(1);
    const target = await addRelayListener(cluster, relayPort);
    relay = captureRelay(relayPort, target, frames, () => current);
    bootstrap = `127.0.0.1:${relayPort}`;
  });
  after(async () => {
    relay?.close();
    await cluster?.stop();
  });

  test('kafkajs, Kafka CLI tools and kcat', async () => {
    const n = Date.now();
    current = 'kafkajs';
    const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, clientId: 'capture' });
    const admin = kafka.admin();
    await admin.connect();
    const topic = `cap-${n}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '600000' }] }] });
    await admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] });
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: topic, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] }] as never });
    await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic }] as never });
    const acl = { resourceType: 2, resourceName: topic, resourcePatternType: 3, principal: 'User:alice', host: '*', operation: 3, permissionType: 3 };
    await admin.createAcls({ acl: [acl] as never });
    await admin.describeAcls({ ...acl } as never);
    await admin.deleteAcls({ filters: [acl] as never });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: 'v1' }, { value: 'v2' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: `cap-g-${n}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve) => { void consumer.run({ eachMessage: async () => resolve() }); });
    await consumer.disconnect();
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '1' }] });
    await admin.deleteGroups([`cap-g-${n}`]);
    await admin.disconnect();

    current = 'kafka-cli';
    const tool = async (cls: string, args: string[], stdin?: string) => {
      const r = await runKafkaTool(cls, ['--bootstrap-server', bootstrap, ...args], { stdin });
      assert.equal(r.code, 0, `${cls} ${args.join(' ')}: ${r.stderr}`);
    };
    const cliTopic = `cap-cli-${n}`;
    await tool('org.apache.kafka.tools.TopicCommand', ['--create', '--topic', cliTopic, '--partitions', '2', '--replication-factor', '1']);
    await tool('org.apache.kafka.tools.TopicCommand', ['--describe', '--topic', cliTopic]);
    await tool('kafka.admin.ConfigCommand', ['--alter', '--entity-type', 'topics', '--entity-name', cliTopic, '--add-config', 'retention.ms=1000']);
    await tool('kafka.admin.AclCommand', ['--add', '--allow-principal', 'User:bob', '--operation', 'Write', '--topic', cliTopic]);
    await tool('kafka.admin.AclCommand', ['--remove', '--force', '--allow-principal', 'User:bob', '--operation', 'Write', '--topic', cliTopic]);
    await tool('kafka.tools.ConsoleProducer', ['--topic', cliTopic], 'a\nb\n');
    await tool('org.apache.kafka.tools.consumer.ConsoleConsumer', ['--topic', cliTopic, '--from-beginning', '--max-messages', '2', '--timeout-ms', '30000', '--group', `cap-cli-g-${n}`]);
    await tool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--describe', '--group', `cap-cli-g-${n}`]);
    await tool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', ['--delete', '--group', `cap-cli-g-${n}`]);
    await tool('org.apache.kafka.tools.TopicCommand', ['--delete', '--topic', cliTopic]);

    current = 'kcat';
    await kcat(['-b', bootstrap, '-L']);
    await kcat(['-b', bootstrap, '-P', '-t', topic], 'x\ny\n');
    await kcat(['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q']);

    const known = frames.filter((f) => API_SCHEMAS.has(f.apiKey));
    for (const f of known) roundTrip(f);
    const seen = new Set(known.map((f) => `${f.client}:${apiName(f.apiKey)}`));
    for (const expected of [
      'kafkajs:ApiVersions', 'kafkajs:Metadata', 'kafkajs:CreateTopics', 'kafkajs:CreatePartitions', 'kafkajs:AlterConfigs',
      'kafkajs:DescribeConfigs', 'kafkajs:CreateAcls', 'kafkajs:DescribeAcls', 'kafkajs:DeleteAcls', 'kafkajs:Produce', 'kafkajs:Fetch',
      'kafkajs:FindCoordinator', 'kafkajs:DeleteRecords', 'kafkajs:DeleteGroups',
      'kafka-cli:ApiVersions', 'kafka-cli:CreateTopics', 'kafka-cli:IncrementalAlterConfigs', 'kafka-cli:CreateAcls', 'kafka-cli:DeleteAcls',
      'kafka-cli:Produce', 'kafka-cli:Fetch', 'kafka-cli:DeleteGroups', 'kafka-cli:DeleteTopics', 'kafka-cli:DescribeGroups',
      'kcat:ApiVersions', 'kcat:Metadata', 'kcat:Produce', 'kcat:Fetch',
    ]) assert.ok(seen.has(expected), `no ${expected} frame captured (saw ${[...seen].sort().join(', ')})`);

    if (process.env.CAPTURE_WRITE === '1') {
      // Keep one small frame per (client, API, version, side) as an offline fixture.
      const keep = new Map<string, Captured>();
      for (const f of known) {
        const key = `${f.client}:${f.apiKey}:${f.apiVersion}:${f.side}`;
        if (!keep.has(key) && f.hex.length <= 8192) keep.set(key, f);
      }
      writeFileSync(FIXTURES, JSON.stringify([...keep.values()], null, 1) + '\n');
    }
  });
});

describe('stored captured fixtures (offline)', () => {
  test('every stored frame re-encodes byte for byte', () => {
    assert.ok(existsSync(FIXTURES), `${FIXTURES} is missing: regenerate it with CAPTURE_WRITE=1`);
    const stored = JSON.parse(readFileSync(FIXTURES, 'utf8')) as Captured[];
    assert.ok(stored.length >= 40, `only ${stored.length} stored frames`);
    for (const f of stored) roundTrip(f);
  });
});
