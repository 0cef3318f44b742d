/**
 * Robustness: hostile or broken clients cost the proxy one connection each, never the process, and never disturb
 * other clients. Runs against the shared 3-broker cluster over PLAINTEXT; every proxy here is in this process, so a
 * crash of the proxy would be a crash of the test.
 *
 * Each case asserts the three things an operator sees: the connection is closed (by the proxy, without an answer),
 * a log line names the reason, and kafka_proxy_connection_errors_total{reason} counts it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { encodeMessage } from '../../protocol/codec.js';
import { apiSchema } from '../../protocol/registry.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { waitForTopics } from '../harness/metadata.js';
import { metricValue, parsedLogs, startTestProxy, type ProxyLogLine, type TestProxy } from '../harness/proxy.js';
import { RawConnection, requestFrame, sizePrefixed } from '../harness/raw.js';
import { waitFor } from '../harness/clients.js';

const MiB = 1024 * 1024;
const ERRORS = 'kafka_proxy_connection_errors_total';
const REJECTED = 'kafka_proxy_connections_rejected_total';
const UNDECODABLE = 'kafka_proxy_undecodable_frames_total';

function kafkaFor(bootstrap: string): Kafka {
  return new Kafka({ clientId: 'robustness-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 5000 });
}

/** A producer sending one message every few ms until stopped; counts acknowledged sends and failures. */
class ProducerLoop {
  ok = 0;
  readonly failures: string[] = [];
  private stopped = false;
  private done: Promise<void> | undefined;
  constructor(private readonly producer: Producer, private readonly topic: string) {}
  start(): void {
    this.done = (async () => {
      for (let i = 0; !this.stopped; i++) {
        try {
          await this.producer.send({ topic: this.topic, messages: [{ key: `k${i}`, value: `robustness-${i}` }] });
          this.ok++;
        } catch (e) {
          this.failures.push(`${(e as Error).name}: ${(e as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
  }
  /** Waits until `n` more sends than now were acknowledged. */
  async advance(n: number): Promise<void> {
    const target = this.ok + n;
    await waitFor(() => this.ok >= target || this.failures.length > 0, 30_000, `${n} more acknowledged sends`);
    assert.deepEqual(this.failures, [], 'the producer on another connection must not see errors');
  }
  async stop(): Promise<void> { this.stopped = true; await this.done; }
}

/** CreateTopics v7 (flexible) body creating `name` with 1 partition, replication factor 3. */
function createTopicsBody(name: string): Buffer {
  return encodeMessage(apiSchema(19)!.request, 7, {
    Topics: [{ Name: name, NumPartitions: 1, ReplicationFactor: 3, Assignments: [], Configs: [] }], timeoutMs: 10_000, validateOnly: false,
  });
}

function linesFor(proxy: TestProxy, raw: RawConnection): ProxyLogLine[] {
  return parsedLogs(proxy).filter((l) => l.client === raw.localAddress);
}

describe('robustness of the proxy against broken and hostile clients', () => {
  let cluster: KafkaCluster;
  let release: () => Promise<void>;
  let proxy: TestProxy;
  let admin: Admin;
  let topic: string;
  const extraProxies: TestProxy[] = [];
  const producers: Producer[] = [];

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    proxy = await startTestProxy(cluster.plainBootstrap, (c) => { c.limits.maxFrameBytes = MiB; });
    admin = kafkaFor(proxy.bootstrap).admin();
    await admin.connect();
    topic = `robustness-${Date.now()}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }], waitForLeaders: false });
    await waitForTopics(cluster, [topic]); // every broker, not just the one kafkajs happens to ask
  });

  after(async () => {
    for (const p of producers) await p.disconnect().catch(() => undefined);
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
    for (const p of extraProxies) await p.stop();
    await proxy?.stop();
    await release?.();
  });

  async function connectedProducer(bootstrap: string): Promise<Producer> {
    const producer = kafkaFor(bootstrap).producer();
    producers.push(producer);
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'warm-up' }] });
    return producer;
  }

  async function extraProxy(patch: Parameters<typeof startTestProxy>[1]): Promise<TestProxy> {
    const p = await startTestProxy(cluster.plainBootstrap, patch);
    extraProxies.push(p);
    return p;
  }

  /**
   * Sends `bytes` on a fresh connection and checks the proxy closed it without answering, logged the reason with
   * `reasonText`, and counted one connection error under `reason`.
   */
  async function expectClosedByProxy(bytes: Buffer | Buffer[], reason: string | string[], reasonText: RegExp): Promise<string> {
    const reasons = Array.isArray(reason) ? reason : [reason];
    const before = new Map<string, number>();
    for (const r of reasons) before.set(r, await metricValue(proxy.metrics, ERRORS, { reason: r }));
    const raw = await RawConnection.open(proxy.server.bootstrapPort);
    for (const b of Array.isArray(bytes) ? bytes : [bytes]) raw.write(b);
    await raw.waitClosed(10_000);
    assert.equal(raw.received, 0, 'the proxy must not answer a broken stream');
    await waitFor(() => linesFor(proxy, raw).some((l) => l.msg === 'connection closed by the proxy'), 5000, 'the close log line');
    const line = linesFor(proxy, raw).find((l) => l.msg === 'connection closed by the proxy')!;
    assert.equal(line.level, 40, 'logged as a warning');
    assert.ok(reasons.includes(line.kind!), `closed with kind ${line.kind}, expected ${reasons.join(' or ')}`);
    assert.match(line.reason!, reasonText);
    assert.equal(await metricValue(proxy.metrics, ERRORS, { reason: line.kind! }), before.get(line.kind!)! + 1,
      `${ERRORS}{reason="${line.kind}"} must count the close once`);
    return line.kind!;
  }

  test('negative sizes, oversized frames, undecodable audited requests and garbage bursts cost one connection each', async () => {
    const producer = await connectedProducer(proxy.bootstrap);
    const loop = new ProducerLoop(producer, topic);
    loop.start();
    try {
      await loop.advance(5);

      // (a) a negative size prefix
      const negative = Buffer.alloc(4);
      negative.writeInt32BE(-1, 0);
      await expectClosedByProxy([negative, Buffer.from('more bytes after it')], 'negative_size', /size -1 is negative/);
      const veryNegative = Buffer.alloc(8);
      veryNegative.writeInt32BE(-2_000_000_000, 0);
      await expectClosedByProxy(veryNegative, 'negative_size', /size -2000000000 is negative/);
      await loop.advance(3);

      // (b) a frame larger than limits.maxFrameBytes (1 MiB): refused from its size prefix, before any body arrives
      const oversized = Buffer.alloc(4 + 1000);
      oversized.writeInt32BE(MiB + 1, 0);
      await expectClosedByProxy(oversized, 'oversized', new RegExp(`${MiB + 1} bytes exceeds the configured limit of ${MiB} bytes`));
      // ... and a real request of 2 MiB (a Produce is streamed, so this checks the limit is not only for buffered APIs)
      const bigProduce = requestFrame(0, 9, 7, Buffer.alloc(2 * MiB, 1), { flexible: true });
      await expectClosedByProxy(bigProduce, 'oversized', /exceeds the configured limit/);
      await loop.advance(3);

      // (c) a valid CreateTopics v7 header followed by random bytes: CreateTopics is audited, so the proxy decodes it;
      // what it cannot decode it cannot audit, and it does not forward it.
      for (let i = 0; i < 25; i++) {
        const body = randomBytes(16 + Math.floor(Math.random() * 4000));
        await expectClosedByProxy(requestFrame(19, 7, 100 + i, body, { flexible: true }), 'malformed',
          /CreateTopics v7 request from User:ANONYMOUS could not be decoded .*not forwarded/);
      }
      // The same with a header that does not fit its frame (client id longer than the frame).
      const badHeader = requestFrame(19, 7, 1, Buffer.alloc(0), { flexible: true });
      badHeader.writeInt16BE(500, 12);
      await expectClosedByProxy(badHeader, 'malformed', /client id runs past the end of the frame/);
      await loop.advance(3);

      // (d) a garbage burst that never gets a response: an HTTP request (its first 4 bytes read as ~1.1 GiB) ...
      await expectClosedByProxy(Buffer.from('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), 'oversized', /1195725856 bytes exceeds/);
      // ... a TLS ClientHello sent to a plaintext port (0x16030100 ... = 369295616 bytes) ...
      await expectClosedByProxy(Buffer.from('16030100c4010000c00303', 'hex'), 'oversized', /exceeds the configured limit/);
      // ... and bursts of random bytes, written in many chunks: whatever the first 4 bytes say, the proxy must refuse.
      for (let i = 0; i < 10; i++) {
        const chunks = Array.from({ length: 64 }, () => randomBytes(4096));
        // A first word that happens to be a plausible size (1 in 4096) would make this a forwarded frame: excluded.
        const first = chunks[0].readInt32BE(0);
        if (first >= 0 && first <= MiB) chunks[0].writeInt32BE(first + 16 * MiB, 0);
        await expectClosedByProxy(chunks, ['negative_size', 'oversized', 'malformed'], /negative|exceeds the configured limit|too short|could not be decoded/);
      }
      // Tiny frames, too short to hold a request header.
      await expectClosedByProxy(sizePrefixed(Buffer.from([0, 18, 0])), 'malformed', /3 bytes is too short for a request header/);

      await loop.advance(10);
    } finally {
      await loop.stop();
    }
    assert.deepEqual(loop.failures, []);
    // Every acknowledged message is in the topic: the producer's connection carried on untouched.
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.equal(offsets.reduce((n, p) => n + Number(p.high), 0), loop.ok + 1 /* warm-up */);
    assert.equal(await metricValue(proxy.metrics, ERRORS, { reason: 'internal_error' }), 0, 'no unexpected exception while relaying');
    // The proxy still serves new clients.
    const fresh = await RawConnection.open(proxy.server.bootstrapPort);
    assert.equal(await fresh.apiVersions(), 0);
    fresh.destroy();
  });

  test('bytes after a complete audited request body: the broker ignores them, so the proxy audits what it executes; a body that does not decode is refused', async () => {
    // Kafka reads a request's body and ignores what follows (librdkafka writes some requests' last byte twice). The
    // proxy reads it the same way: audited as decoded, forwarded whole, counted.
    const name = (where: string) => `trailing-${where}-${Date.now()}`;
    const trailing = (topicName: string) => requestFrame(19, 7, 42, Buffer.concat([createTopicsBody(topicName), Buffer.from([0])]), { flexible: true });

    // Directly, the broker accepts these bytes and creates the topic (the premise).
    const direct = name('direct');
    const raw = await RawConnection.open(cluster.brokers[0].plainPort);
    raw.write(trailing(direct));
    assert.equal((await raw.nextFrame()).readInt32BE(0), 42);
    raw.destroy();
    await waitFor(async () => (await admin.listTopics()).includes(direct), 15_000, `topic ${direct} created directly`);
    await admin.deleteTopics({ topics: [direct] }).catch(() => undefined);

    // Through the proxy: executed, and audited once as what the broker executed.
    const viaProxy = name('proxy');
    const before = await metricValue(proxy.metrics, 'kafka_proxy_request_trailing_bytes_total', { api: 'CreateTopics', version: '7' });
    const c = await RawConnection.open(proxy.server.bootstrapPort);
    c.write(trailing(viaProxy));
    assert.equal((await c.nextFrame()).readInt32BE(0), 42);
    c.destroy();
    await waitFor(async () => (await admin.listTopics()).includes(viaProxy), 15_000, `topic ${viaProxy} created through the proxy`);
    const ops = proxy.auditor.ops.filter((o) => o.method === 'CreateTopics' && o.resource.name === viaProxy);
    assert.deepEqual(ops.map((o) => o.result.errorCode), [0], 'one event, success');
    assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_request_trailing_bytes_total', { api: 'CreateTopics', version: '7' }), before + 1);
    await admin.deleteTopics({ topics: [viaProxy] }).catch(() => undefined);

    // A body cut short does not decode: not forwarded, as it could not be audited.
    const cut = name('cut');
    const body = createTopicsBody(cut);
    const opsBefore = proxy.auditor.ops.length;
    await expectClosedByProxy(requestFrame(19, 7, 44, body.subarray(0, body.length - 3), { flexible: true }), 'malformed', /not forwarded, as it could not be audited/);
    assert.equal(proxy.auditor.ops.length, opsBefore);
    assert.ok(!(await admin.listTopics()).includes(cut), 'the refused request must not have reached the broker');

    // A well-formed CreateTopics through the proxy is forwarded and audited as usual (the check above is not a blanket refusal).
    const good = name('good');
    const rawGood = await RawConnection.open(proxy.server.bootstrapPort);
    rawGood.write(requestFrame(19, 7, 43, createTopicsBody(good), { flexible: true }));
    assert.equal((await rawGood.nextFrame()).readInt32BE(0), 43);
    rawGood.destroy();
    const op = proxy.auditor.ops.find((o) => o.method === 'CreateTopics' && o.resource.name === good);
    assert.ok(op, 'the well-formed CreateTopics is audited');
    assert.equal(op.result.errorCode, 0);
    await admin.deleteTopics({ topics: [good] }).catch(() => undefined);
  });

  test('a client that sends half a frame and stops is closed after limits.idleTimeoutMs (partial_frame_timeout)', async () => {
    const idle = await extraProxy((c) => { c.limits.idleTimeoutMs = 1500; });
    const producer = await connectedProducer(idle.bootstrap);

    const half = await RawConnection.open(idle.server.bootstrapPort);
    const frame = requestFrame(3, 1, 1, Buffer.alloc(0));
    const size = Buffer.alloc(4);
    size.writeInt32BE(100, 0);
    half.write(Buffer.concat([size, frame.subarray(4, 14)])); // says 100 bytes, sends 10
    const closedAfter = await half.waitClosed(10_000);
    assert.ok(closedAfter >= 1400 && closedAfter < 5000, `closed after ${closedAfter} ms, expected about 1500`);
    assert.equal(half.received, 0);
    const line = linesFor(idle, half).find((l) => l.msg === 'connection closed by the proxy');
    assert.ok(line, 'a warning names the reason');
    assert.equal(line.kind, 'partial_frame_timeout');
    assert.match(line.reason!, /client sent part of a frame and stopped \(idle timeout\) for 1500 ms/);
    assert.equal(await metricValue(idle.metrics, ERRORS, { reason: 'partial_frame_timeout' }), 1);

    // A connection that is merely idle between requests is closed too, but that is not an error.
    const quiet = await RawConnection.open(idle.server.bootstrapPort);
    assert.equal(await quiet.apiVersions(), 0);
    const quietAfter = await quiet.waitClosed(10_000);
    assert.ok(quietAfter >= 1400, `idle connection closed after ${quietAfter} ms`);
    assert.equal(await metricValue(idle.metrics, ERRORS, { reason: 'idle_timeout' }), 0);
    assert.ok(linesFor(idle, quiet).some((l) => l.msg === 'connection closed' && /connection idle for 1500 ms/.test(String(l.reason))));

    // kafkajs reconnects when its idle connections are closed: it still produces.
    await producer.send({ topic, messages: [{ value: 'after idle timeouts' }] });
  });

  test('limits.maxConnectionsPerAddress refuses extra connections from one address; others and existing ones work', async () => {
    const limit = 5;
    const limited = await extraProxy((c) => { c.limits.maxConnectionsPerAddress = limit; });
    const producer = await connectedProducer(limited.bootstrap); // from 127.0.0.1
    assert.ok(limited.server.connectionCount < limit, `kafkajs holds ${limited.server.connectionCount} connections`);

    // Up to the limit from 127.0.0.3 (all of 127/8 is loopback on Linux): accepted and relayed.
    const conns: RawConnection[] = [];
    for (let i = 0; i < limit; i++) {
      const c = await RawConnection.open(limited.server.bootstrapPort, { localAddress: '127.0.0.3' });
      assert.equal(await c.apiVersions(), 0);
      conns.push(c);
    }
    const extra = await RawConnection.open(limited.server.bootstrapPort, { localAddress: '127.0.0.3' });
    extra.write(requestFrame(18, 0, 1));
    const closedAfter = await extra.waitClosed(5000);
    assert.equal(extra.received, 0, 'the refused connection gets no answer');
    assert.ok(closedAfter < 2000, `refused connection closed after ${closedAfter} ms`);
    assert.equal(await metricValue(limited.metrics, REJECTED, { reason: 'max_per_address' }), 1);
    assert.ok(parsedLogs(limited).some((l) => l.msg === 'connection refused' && l.client === extra.localAddress
      && /limits\.maxConnectionsPerAddress \(5\) reached for 127\.0\.0\.3/.test(String(l.reason))));

    // The accepted ones still work, and so does the client from another address.
    for (const [i, c] of conns.entries()) assert.equal(await c.apiVersions(10 + i), 0);
    await producer.send({ topic, messages: [{ value: 'per-address limit reached elsewhere' }] });

    // A slot freed is a slot available again.
    conns.pop()!.destroy();
    await waitFor(async () => {
      const c = await RawConnection.open(limited.server.bootstrapPort, { localAddress: '127.0.0.3' });
      try { return (await c.apiVersions(1, 2000)) === 0; } catch { return false; } finally { c.destroy(); }
    }, 10_000, 'a new connection from 127.0.0.3 after one closed');
    for (const c of conns) c.destroy();
  });

  test('limits.maxConnections refuses connections beyond the total; existing ones keep working', async () => {
    const max = 8;
    const limited = await extraProxy((c) => { c.limits.maxConnections = max; });
    const producer = await connectedProducer(limited.bootstrap);
    const inUse = limited.server.connectionCount;
    assert.ok(inUse >= 1 && inUse < max, `kafkajs holds ${inUse} connections`);

    const conns: RawConnection[] = [];
    for (let i = inUse; i < max; i++) {
      const c = await RawConnection.open(limited.server.bootstrapPort);
      assert.equal(await c.apiVersions(), 0);
      conns.push(c);
    }
    assert.equal(limited.server.connectionCount, max);
    const extra = await RawConnection.open(limited.server.bootstrapPort);
    extra.write(requestFrame(18, 0, 1));
    await extra.waitClosed(5000);
    assert.equal(extra.received, 0);
    assert.equal(await metricValue(limited.metrics, REJECTED, { reason: 'max_connections' }), 1);
    assert.ok(parsedLogs(limited).some((l) => l.msg === 'connection refused' && /limits\.maxConnections \(8\) reached/.test(String(l.reason))));

    await producer.send({ topic, messages: [{ value: 'at the connection limit' }] });
    for (const [i, c] of conns.entries()) assert.equal(await c.apiVersions(20 + i), 0);
    for (const c of conns) c.destroy();
  });

  test('a version the schema does not know, of an API nobody audits, is forwarded untouched: the broker decides, as it does directly', async () => {
    const cases = [
      { label: 'ListOffsets v99', frame: requestFrame(2, 99, 6, Buffer.alloc(16), { flexible: true }), api: 'ListOffsets', version: 'unsupported' },
    ];
    for (const c of cases) {
      // Directly: what does the broker do with it?
      const direct = await RawConnection.open(cluster.brokers[0].plainPort);
      direct.write(c.frame);
      await direct.waitClosed(10_000);

      const errorsBefore = await metricValue(proxy.metrics, ERRORS);
      const viaProxy = await RawConnection.open(proxy.server.bootstrapPort);
      viaProxy.write(c.frame);
      await viaProxy.waitClosed(10_000);
      assert.equal(viaProxy.received, direct.received, `${c.label}: same bytes back through the proxy as directly`);
      assert.equal(viaProxy.received, 0, `${c.label}: the broker closes without answering`);

      assert.equal(await metricValue(proxy.metrics, UNDECODABLE, { api: c.api, version: c.version, reason: 'request' }), 1, `${c.label} counted as undecodable`);
      assert.equal(await metricValue(proxy.metrics, ERRORS), errorsBefore, `${c.label}: not an error of the proxy`);
      const lines = linesFor(proxy, viaProxy);
      assert.ok(lines.some((l) => l.msg === 'frame forwarded without decoding'), `${c.label}: logged as forwarded without decoding`);
      // It was forwarded: the close came from the broker's side.
      await waitFor(() => linesFor(proxy, viaProxy).some((l) => l.msg === 'connection closed'), 5000, 'close line');
      assert.equal(linesFor(proxy, viaProxy).find((l) => l.msg === 'connection closed')!.reason, 'broker closed the connection');
    }
    const producer = await connectedProducer(proxy.bootstrap);
    await producer.send({ topic, messages: [{ value: 'after unknown APIs' }] });
  });

  test('an API key the proxy does not know, and an unknown version of an audited API, are not forwarded: they could not be audited', async () => {
    for (const [label, frame, reason] of [
      ['API key 9999', requestFrame(9999, 0, 5), 'unknown_api'],
      ['Metadata v99 (audited: it may create topics)', requestFrame(3, 99, 6, Buffer.alloc(16), { flexible: true }), 'unsupported_version'],
    ] as const) {
      const before = await metricValue(proxy.metrics, ERRORS, { reason });
      const c = await RawConnection.open(proxy.server.bootstrapPort);
      c.write(frame);
      await c.waitClosed(10_000);
      assert.equal(c.received, 0, label);
      assert.equal(await metricValue(proxy.metrics, ERRORS, { reason }), before + 1, `${label}: closed by the proxy (${reason})`);
    }
  });

  test('a Produce version the proxy does not know is not forwarded: whether a response follows (acks) cannot be read', async () => {
    const errorsBefore = await metricValue(proxy.metrics, ERRORS, { reason: 'unsupported_version' });
    const c = await RawConnection.open(proxy.server.bootstrapPort);
    c.write(requestFrame(0, 99, 7, Buffer.alloc(16), { flexible: true }));
    await c.waitClosed(10_000);
    assert.equal(c.received, 0);
    assert.equal(await metricValue(proxy.metrics, ERRORS, { reason: 'unsupported_version' }), errorsBefore + 1);
    await waitFor(() => linesFor(proxy, c).some((l) => l.msg === 'connection closed by the proxy'), 5000, 'close line');
    assert.match(String(linesFor(proxy, c).find((l) => l.msg === 'connection closed by the proxy')!.reason), /Produce v99 is outside the versions the proxy knows/);
  });
});
