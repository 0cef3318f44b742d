/**
 * Bulk traffic through the reused-buffer read path (src/proxy/reused-reads.ts) against the shared 3-broker
 * cluster, through a proxy in this process:
 *   - produce: a kafkajs producer sends 24 MiB of random records through the proxy (its sockets switch to
 *     reused buffers); read back directly from the broker, every record is the one sent;
 *   - fetch, mixed with frames the proxy decodes: one raw connection to the leader's proxy port pipelines Fetch v16
 *     requests (4 MiB responses) with Metadata and ApiVersions between them, so chunks that hold a buffered frame
 *     (the buffer must not be reused) alternate with streamed ones; every Fetch response is byte for byte what the
 *     broker sends for the same request directly, and every Metadata response names only proxy ports;
 *   - a request frame whose first bytes end one read and whose rest starts the next: held across the read, so the
 *     buffer must not be read into meanwhile (made to happen on purpose: two writes 100 ms apart);
 *   - 12,000 small frames the proxy decodes, pipelined in one burst: frames that start in one read and end in the
 *     next are held across a read, so the buffer must not be read into meanwhile; every response arrives intact.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Decoded } from '../../protocol/codec.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { proxiedTopic, type ProxiedTopic } from '../harness/proxied-topic.js';
import { metricValue, type TestProxy } from '../harness/proxy.js';
import { decodeResponse, fetchBody, kafkaRequest, RawConnection, topicMetadata } from '../harness/raw.js';
import { RESPONSE_READ_BYTES } from '../../src/proxy/reused-reads.js';

const MiB = 1024 * 1024;
const RECORD_BYTES = 64 * 1024;
const RECORDS = 384; // 24 MiB
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The `count` frames answering what was written on `c`, in arrival order. */
function responses(c: RawConnection, count: number, timeoutMs = 60_000): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${got.length} of ${count} responses after ${timeoutMs} ms`)), timeoutMs);
    c.onFrame = (frame) => { got.push(frame); if (got.length === count) { clearTimeout(timer); resolve(got); } };
    c.socket.once('close', () => { clearTimeout(timer); reject(new Error(`closed after ${got.length} of ${count} responses`)); });
  });
}

describe('bulk traffic through reused read buffers', () => {
  let cluster: KafkaCluster;
  let proxy: TestProxy;
  let topic: string;
  let setup: ProxiedTopic | undefined;
  const sent = new Map<string, string>();

  before(async () => { setup = await proxiedTopic('reused-reads'); ({ cluster, proxy, topic } = setup); });
  after(async () => { await setup?.stop(); });

  test('produce: every record read back directly from the broker is the one sent through the proxy', async () => {
    const producer = new Kafka({ clientId: 'reused-reads-producer', brokers: [proxy.bootstrap], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < RECORDS; i += 8) {
      const messages = Array.from({ length: 8 }, (_, j) => {
        const value = randomBytes(RECORD_BYTES);
        sent.set(String(i + j), sha(value));
        return { key: String(i + j), value };
      });
      inFlight.push(producer.send({ topic, acks: 1, messages }));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const buffers = await metricValue(proxy.metrics, 'kafka_proxy_reused_read_buffers');
    await producer.disconnect();
    assert.ok(buffers >= 1, 'the producer\'s connection read into a reused buffer');

    const consumer = new Kafka({ clientId: 'reused-reads-check', brokers: cluster.plainBootstrap.split(','), logLevel: logLevel.NOTHING })
      .consumer({ groupId: `reused-reads-${Date.now()}`, maxBytesPerPartition: 4 * MiB });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen = new Map<string, string>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${seen.size} of ${RECORDS} records read back`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.set(message.key!.toString(), sha(message.value!));
          if (seen.size === RECORDS) { clearTimeout(timer); resolve(); }
        },
      }).catch(reject);
    });
    await consumer.disconnect();
    assert.equal(seen.size, sent.size);
    for (const [key, digest] of sent) assert.equal(seen.get(key), digest, `record ${key} read back as sent`);
  });

  test('fetch mixed with decoded frames: Fetch responses byte for byte as the broker sends them, Metadata rewritten', async () => {
    const boot = await RawConnection.open(proxy.server.bootstrapPort);
    const md = await topicMetadata(boot, topic);
    boot.close();
    const proxyPort = md.brokers.find((b) => b.nodeId === md.leader)!.port;
    const brokerPort = cluster.brokers.find((b) => b.nodeId === md.leader)!.plainPort;
    const proxyPorts = new Set(md.brokers.map((b) => b.port));

    // Fetch from 24 offsets (4 MiB responses), each followed by Metadata (every 2nd) or ApiVersions (every 3rd).
    const frames: Array<{ kind: 'fetch' | 'metadata' | 'apiversions'; frame: Buffer }> = [];
    let id = 1;
    for (let i = 0; i < 24; i++) {
      frames.push({ kind: 'fetch', frame: kafkaRequest(1, 16, id++, fetchBody(md.topicId, i * 12, 4 * MiB)) });
      if (i % 2 === 0) frames.push({ kind: 'metadata', frame: kafkaRequest(3, 12, id++, { Topics: null, AllowAutoTopicCreation: false, IncludeTopicAuthorizedOperations: false }) });
      if (i % 3 === 0) frames.push({ kind: 'apiversions', frame: kafkaRequest(18, 3, id++, { ClientSoftwareName: 'raw-test', ClientSoftwareVersion: '1' }) });
    }
    let buffersWhileOpen = 0;
    let bufferBytesWhileOpen = 0;
    const run = async (port: number): Promise<Buffer[]> => {
      const c = await RawConnection.open(port);
      const done = responses(c, frames.length);
      for (const f of frames) c.write(f.frame);
      const got = await done;
      buffersWhileOpen = await metricValue(proxy.metrics, 'kafka_proxy_reused_read_buffers');
      bufferBytesWhileOpen = await metricValue(proxy.metrics, 'kafka_proxy_reused_read_buffer_bytes');
      c.close();
      return got;
    };
    const direct = await run(brokerPort);
    const viaProxy = await run(proxyPort);
    assert.ok(buffersWhileOpen >= 1, 'the proxy\'s broker socket for this connection read into a reused buffer');
    assert.ok(bufferBytesWhileOpen >= RESPONSE_READ_BYTES, `kafka_proxy_reused_read_buffer_bytes counts a broker socket's ${RESPONSE_READ_BYTES} bytes (${bufferBytesWhileOpen})`);
    let fetchBytes = 0;
    for (const [i, f] of frames.entries()) {
      assert.equal(viaProxy[i].readInt32BE(0), i + 1, 'responses in request order');
      if (f.kind === 'fetch') {
        assert.ok(viaProxy[i].length > 2 * MiB, `Fetch response ${i + 1} carries records (${viaProxy[i].length} bytes)`);
        assert.equal(sha(viaProxy[i]), sha(direct[i]), `Fetch response ${i + 1} byte for byte as sent directly`);
        fetchBytes += viaProxy[i].length;
      } else if (f.kind === 'metadata') {
        const body = decodeResponse(3, 12, viaProxy[i]);
        for (const b of body.Brokers as Decoded[]) assert.ok(proxyPorts.has(b.Port), `Metadata names proxy port ${b.Port}`);
      } else {
        assert.equal(decodeResponse(18, 3, viaProxy[i]).ErrorCode, 0);
      }
    }
    assert.ok(fetchBytes > 48 * MiB, `${fetchBytes} bytes of Fetch responses`);
    assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_connection_errors_total'), 0);
  });

  test('a frame head held at the end of one read survives the next read into a reused buffer', async () => {
    const boot = await RawConnection.open(proxy.server.bootstrapPort);
    const md = await topicMetadata(boot, topic);
    boot.close();
    const c = await RawConnection.open(md.brokers.find((b) => b.nodeId === md.leader)!.port);
    // Metadata requests for many (unknown) topics stream through the proxy undecoded: big requests the test can size.
    let id = 1;
    const metadata = (topics: number) => kafkaRequest(3, 12, id++, {
      Topics: Array.from({ length: topics }, (_, i) => ({ TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', Name: `reused-reads-no-such-topic-${String(i).padStart(30, '0')}` })),
      AllowAutoTopicCreation: false, IncludeTopicAuthorizedOperations: false,
    });
    // 1. ~450 KB of requests: the proxy's socket for this client switches to a reused buffer.
    const warm = [metadata(2000), metadata(2000), metadata(2000)];
    let done = responses(c, warm.length);
    c.write(Buffer.concat(warm));
    await done;
    await new Promise((r) => setTimeout(r, 50));
    // 2. One read of ~55 KB that ends with the first 10 bytes of an ApiVersions request (a frame the proxy buffers),
    // then a read that starts with the rest: the proxy holds those 10 bytes across the second read, which lands in
    // the same memory if the buffer were reused.
    const big1 = metadata(700);
    const apiVersions = kafkaRequest(18, 3, id++, { ClientSoftwareName: 'reused-reads-test', ClientSoftwareVersion: '1' });
    const big2 = metadata(700);
    assert.ok(big1.length + 10 < 64 * 1024 && big1.length > 48 * 1024, `first write of ${big1.length + 10} bytes fits one read`);
    done = responses(c, 3);
    c.write(Buffer.concat([big1, apiVersions.subarray(0, 10)]));
    await new Promise((r) => setTimeout(r, 100));
    c.write(Buffer.concat([apiVersions.subarray(10), big2]));
    const [r1, r2, r3] = await done;
    const buffers = await metricValue(proxy.metrics, 'kafka_proxy_reused_read_buffers');
    c.close();
    assert.ok(buffers >= 1, 'the client socket read into a reused buffer');
    assert.deepEqual([r1, r2, r3].map((f) => f.readInt32BE(0)), [4, 5, 6]);
    assert.equal((decodeResponse(3, 12, r1).Topics as Decoded[]).length, 700);
    assert.equal(decodeResponse(18, 3, r2).ErrorCode, 0, 'the ApiVersions request reached the broker intact');
    assert.equal((decodeResponse(3, 12, r3).Topics as Decoded[]).length, 700);
    assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_undecodable_frames_total'), 0);
  });

  test('thousands of small decoded frames pipelined: frames that span two reads survive the buffer being read into again', async () => {
    // ~12,000 requests in one burst: ~0.5 MB of requests and ~6 MB of responses, all frames the proxy buffers and
    // decodes (ApiVersions both ways; Metadata responses are rewritten). Both sockets switch after their first
    // 256 KiB; from then on many frames start in one read and end in the next, held by the frame reader meanwhile.
    const boot = await RawConnection.open(proxy.server.bootstrapPort);
    const md = await topicMetadata(boot, topic);
    boot.close();
    const port = md.brokers.find((b) => b.nodeId === md.leader)!.port;
    const c = await RawConnection.open(port);
    const kinds: Array<'apiversions' | 'metadata'> = [];
    const burst: Buffer[] = [];
    for (let id = 1; id <= 12_000; id++) {
      const metadata = id % 10 === 0;
      kinds.push(metadata ? 'metadata' : 'apiversions');
      burst.push(metadata
        ? kafkaRequest(3, 12, id, { Topics: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', Name: topic }], AllowAutoTopicCreation: false, IncludeTopicAuthorizedOperations: false })
        : kafkaRequest(18, 3, id, { ClientSoftwareName: 'reused-reads-test', ClientSoftwareVersion: String(id) }));
    }
    const done = responses(c, burst.length, 60_000);
    c.write(Buffer.concat(burst));
    const got = await done;
    const buffers = await metricValue(proxy.metrics, 'kafka_proxy_reused_read_buffers');
    c.close();
    assert.ok(buffers >= 2, `both sockets of the connection read into reused buffers (gauge ${buffers})`);
    // Every response of a kind has the same content, but for what the cluster changes meanwhile: ControllerId (a
    // KRaft broker names any live broker there) and FinalizedFeaturesEpoch (moves with the cluster's metadata log).
    const json = (d: Decoded) => JSON.stringify(d, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    const comparable = (kind: 'apiversions' | 'metadata', frame: Buffer): string => {
      if (kind === 'apiversions') {
        const { FinalizedFeaturesEpoch: _epoch, ...rest } = decodeResponse(18, 3, frame);
        return json(rest);
      }
      const { ControllerId: _controller, ...rest } = decodeResponse(3, 12, frame);
      return json(rest);
    };
    const first = new Map<string, string>();
    for (const [i, frame] of got.entries()) {
      assert.equal(frame.readInt32BE(0), i + 1, 'responses in request order');
      const now = comparable(kinds[i], frame);
      const ref = first.get(kinds[i]);
      if (ref === undefined) {
        const decoded = decodeResponse(kinds[i] === 'metadata' ? 3 : 18, kinds[i] === 'metadata' ? 12 : 3, frame);
        assert.equal(kinds[i] === 'metadata' ? (decoded.Topics as Decoded[])[0].ErrorCode : decoded.ErrorCode, 0);
        first.set(kinds[i], now);
      } else {
        assert.equal(now, ref, `${kinds[i]} response ${i + 1} as the first one`);
      }
    }
    assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_connection_errors_total'), 0);
    assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_undecodable_frames_total'), 0);
  });
});
