/**
 * Backpressure: a client that stops reading its socket must not make the proxy buffer what it is owed.
 *
 * Against the shared 3-broker cluster, through a proxy in this process: 128 MiB are produced through the proxy,
 * then two raw connections to the proxy's port for the partition leader pipeline Fetch v16 requests (one with
 * 16 MiB responses, one with 4 MiB responses: together ~512 MiB owed) and never read their sockets. The test
 * then measures, per connection:
 *   - that the proxy paused its broker socket (isPaused, bytes read stop growing, and the broker's data waits
 *     unread in the kernel: the proxy's receive queue for that socket is not empty);
 *   - the bytes the proxy holds for the connection: bytes it read from the broker minus the bytes that reached
 *     the client's kernel (the proxy's send queue and the client's receive queue, from /proc/net/tcp) or the
 *     client's userland; bounded by HELD_BOUND (1 MiB) although the responses owed are 25-100 times larger;
 *   - the growth of this process's memory (V8 heap + Buffers after a GC, and RSS) since before the requests.
 * Then both clients read again, and every response must arrive complete and in order: correlation ids 1..n, and
 * each response byte for byte what the broker sends for the same request on a direct connection (SHA-256).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { proxiedTopic, type ProxiedTopic } from '../harness/proxied-topic.js';
import { metricValue, type TestProxy } from '../harness/proxy.js';
import { fetchBody, kafkaRequest, RawConnection, topicMetadata } from '../harness/raw.js';

const MiB = 1024 * 1024;
const RECORD_BYTES = 64 * 1024;
const RECORDS = 2048; // 128 MiB
const RECORDS_PER_SEND = 15; // one batch of ~0.94 MiB per request: below the broker's 1 MiB message.max.bytes
/** The two stalled connections: responses of `partitionMaxBytes` each, `requests` of them pipelined. */
const STALLED = [
  { name: '16 MiB responses', partitionMaxBytes: 16 * MiB, requests: 24 },
  { name: '4 MiB responses', partitionMaxBytes: 4 * MiB, requests: 32 },
] as const;
/**
 * Bytes the proxy may hold per connection: Fetch responses stream through (leader hints are rewritten in place), so
 * what the proxy holds when it pauses is a socket read or two, whatever the size of the responses.
 */
const HELD_BOUND = 1 * MiB;
/** Growth of this process's V8 heap + Buffers (after a GC), and of its RSS, while ~512 MiB of responses are owed. */
const HEAP_GROWTH_BOUND = 8 * MiB;
const RSS_GROWTH_BOUND = 16 * MiB;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** After full GCs (twice, with a pause between, so Buffers freed by the first are released). */
async function memoryNow(): Promise<{ heapAndBuffers: number; rss: number }> {
  gc();
  await sleep(100);
  gc();
  const m = process.memoryUsage();
  return { heapAndBuffers: m.heapUsed + m.external, rss: m.rss };
}

/** Send and receive queues of the established IPv4 TCP sockets, by "localPort>remotePort" (everything here is on 127.0.0.1). */
function tcpQueues(): Map<string, { tx: number; rx: number }> {
  const out = new Map<string, { tx: number; rx: number }>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || f[3] !== '01') continue; // 01 = ESTABLISHED
    const port = (a: string) => parseInt(a.split(':')[1], 16);
    const [tx, rx] = f[4].split(':').map((h) => parseInt(h, 16));
    out.set(`${port(f[1])}>${port(f[2])}`, { tx, rx });
  }
  return out;
}

interface Response { correlationId: number; size: number; sha256: string }
const digest = (frame: Buffer): Response => ({ correlationId: frame.readInt32BE(0), size: frame.length, sha256: createHash('sha256').update(frame).digest('hex') });

/** Sends every request on `client` and collects the responses' digests, in arrival order. */
function collect(client: RawConnection, count: number, timeoutMs: number): Promise<Response[]> {
  const got: Response[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${got.length} of ${count} responses after ${timeoutMs} ms`)), timeoutMs);
    client.onFrame = (frame) => {
      got.push(digest(frame));
      if (got.length === count) { clearTimeout(timer); resolve(got); }
    };
    client.socket.once('close', () => { clearTimeout(timer); reject(new Error(`connection closed after ${got.length} of ${count} responses`)); });
  });
}

const mib = (n: number) => `${(n / MiB).toFixed(2)} MiB`;

describe('backpressure: a client that stops reading', () => {
  let cluster: KafkaCluster;
  let proxy: TestProxy;
  let admin: Admin;
  let topic: string;
  let setup: ProxiedTopic | undefined;

  before(async () => { setup = await proxiedTopic('backpressure'); ({ cluster, proxy, admin, topic } = setup); });
  after(async () => { await setup?.stop(); });

  test('the proxy stops reading from the broker, holds a bounded number of bytes, and loses nothing when the client reads again', async () => {
    const t0 = Date.now();
    // 1. 128 MiB through the proxy (random bytes: nothing compresses, every response differs).
    const producer = new Kafka({ clientId: 'backpressure-producer', brokers: [proxy.bootstrap], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < RECORDS; i += RECORDS_PER_SEND) {
      const n = Math.min(RECORDS_PER_SEND, RECORDS - i);
      sends.push(producer.send({ topic, acks: 1, messages: Array.from({ length: n }, (_, j) => ({ key: String(i + j), value: randomBytes(RECORD_BYTES) })) }));
      if (sends.length >= 4) await sends.shift();
    }
    await Promise.all(sends);
    await producer.disconnect();
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.equal(Number(offsets[0].high), RECORDS);
    const produceMs = Date.now() - t0;

    // 2. Where the partition lives, through the proxy (opens the proxy's broker listeners), and its topic id.
    const boot = await RawConnection.open(proxy.server.bootstrapPort);
    const md = await topicMetadata(boot, topic);
    boot.close();
    const leader = md.leader;
    const proxyPort = md.brokers.find((b) => b.nodeId === leader)!.port;
    const brokerPort = cluster.brokers.find((b) => b.nodeId === leader)!.plainPort;
    assert.equal(proxyPort, proxy.brokerPortBase + leader);

    // The requests: distinct offsets spread over the partition, so every response is different.
    const plans = STALLED.map((s) => {
      const perResponse = Math.ceil(s.partitionMaxBytes / RECORD_BYTES);
      const step = Math.floor((RECORDS - perResponse) / s.requests);
      return { ...s, frames: Array.from({ length: s.requests }, (_, i) => kafkaRequest(1, 16, i + 1, fetchBody(md.topicId, i * step, s.partitionMaxBytes))) };
    });

    // 3. The same requests directly to the broker, read at once: what each response must be.
    const expected: Response[][] = [];
    for (const p of plans) {
      const direct = await RawConnection.open(brokerPort);
      const done = collect(direct, p.requests, 60_000);
      for (const f of p.frames) direct.write(f);
      expected.push(await done);
      direct.close();
    }
    const owed = expected.map((rs) => rs.reduce((n, r) => n + 4 + r.size, 0));
    for (const [i, p] of plans.entries()) {
      assert.deepEqual(expected[i].map((r) => r.correlationId), p.frames.map((_, j) => j + 1));
      for (const r of expected[i]) assert.ok(r.size > p.partitionMaxBytes * 0.85, `a ${p.name} response of ${r.size} bytes: the topic must fill it`);
    }

    // 4. Through the proxy: the clients send everything and never read. The proxy's upstream socket of each
    // connection is taken from its dialer, one connection at a time.
    const upstreams: Socket[] = [];
    const dial = proxy.server.connectUpstream.bind(proxy.server);
    proxy.server.connectUpstream = async (target) => { const s = await dial(target); upstreams.push(s); return s; };
    const metricBefore = await metricValue(proxy.metrics, 'kafka_proxy_bytes_total', { direction: 'broker_to_client' });
    const baseline = await memoryNow();
    const stalled: { client: RawConnection; upstream: Socket }[] = [];
    for (const p of plans) {
      const client = await RawConnection.open(proxyPort, { paused: true });
      const deadline = Date.now() + 10_000;
      while (upstreams.length === stalled.length && Date.now() < deadline) await sleep(10);
      assert.equal(upstreams.length, stalled.length + 1, 'the proxy dialed the broker for the connection');
      stalled.push({ client, upstream: upstreams[stalled.length] });
      for (const f of p.frames) client.write(f);
    }

    // Wait until both upstream sockets are paused and their bytes read have not moved for 2 s.
    let peakRss = process.memoryUsage().rss;
    let last = stalled.map((s) => s.upstream.bytesRead);
    let stableSince = Date.now();
    const stallDeadline = Date.now() + 20_000;
    while (Date.now() - stableSince < 2000) {
      assert.ok(Date.now() < stallDeadline, `the proxy kept reading from the broker: ${stalled.map((s) => s.upstream.bytesRead).join(', ')} bytes`);
      await sleep(50);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const now = stalled.map((s) => s.upstream.bytesRead);
      if (now.some((n, i) => n !== last[i]) || stalled.some((s) => !s.upstream.isPaused())) { last = now; stableSince = Date.now(); }
    }

    const queues = tcpQueues();
    const memory = await memoryNow();
    const report = (line: string) => process.stderr.write(`  ${line}\n`);
    for (const [i, { client, upstream }] of stalled.entries()) {
      const name = plans[i].name;
      const read = upstream.bytesRead;
      const proxySide = queues.get(`${proxyPort}>${client.socket.localPort}`);
      const clientSide = queues.get(`${client.socket.localPort}>${proxyPort}`);
      const upstreamSide = queues.get(`${upstream.localPort}>${upstream.remotePort}`);
      assert.ok(proxySide && clientSide && upstreamSide, `${name}: sockets found in /proc/net/tcp`);
      const inKernel = proxySide.tx + clientSide.rx;
      const held = read - inKernel - client.socket.bytesRead;
      report(`${name}: owed ${mib(owed[i])} in ${plans[i].requests} responses; the proxy read ${mib(read)} from the broker, ` +
        `${mib(inKernel)} of it wait in the kernel for the client (proxy send queue ${mib(proxySide.tx)}, client receive queue ${mib(clientSide.rx)}), ` +
        `${mib(client.socket.bytesRead)} in the client; the proxy holds ${mib(held)} (bound ${mib(HELD_BOUND)}); ` +
        `${mib(upstreamSide.rx)} from the broker wait unread in the proxy's receive queue`);
      assert.ok(upstream.isPaused(), `${name}: the proxy paused its broker socket`);
      assert.ok(upstreamSide.rx > 0, `${name}: the broker has sent bytes the proxy does not read`);
      assert.ok(held >= 0 && held <= HELD_BOUND, `${name}: the proxy holds ${held} bytes, bound ${HELD_BOUND}`);
      assert.ok(read * 10 < owed[i], `${name}: the proxy read ${read} of ${owed[i]} bytes owed`);
    }
    const heapGrowth = memory.heapAndBuffers - baseline.heapAndBuffers;
    const rssGrowth = Math.max(peakRss, memory.rss) - baseline.rss;
    const owedTotal = owed[0] + owed[1];
    report(`memory since before the requests: V8 heap + Buffers ${mib(heapGrowth)} (bound ${mib(HEAP_GROWTH_BOUND)}), ` +
      `RSS peak ${mib(rssGrowth)} (bound ${mib(RSS_GROWTH_BOUND)}), while ${mib(owedTotal)} of responses are owed`);
    assert.ok(heapGrowth <= HEAP_GROWTH_BOUND, `V8 heap + Buffers grew by ${heapGrowth} bytes, bound ${HEAP_GROWTH_BOUND}`);
    assert.ok(rssGrowth <= RSS_GROWTH_BOUND, `RSS grew by ${rssGrowth} bytes, bound ${RSS_GROWTH_BOUND}`);
    assert.ok(owedTotal > 10 * (HEAP_GROWTH_BOUND + RSS_GROWTH_BOUND), 'the responses owed dwarf the bounds');
    const metricStalled = await metricValue(proxy.metrics, 'kafka_proxy_bytes_total', { direction: 'broker_to_client' });
    // Both broker sockets have carried megabytes: they read into buffers of their own (src/proxy/reused-reads.ts),
    // so the pause and everything after it are tested on that path.
    assert.ok(await metricValue(proxy.metrics, 'kafka_proxy_reused_read_buffers') >= 2, 'the stalled broker sockets read into reused buffers');

    // 5. The clients read again: every response, complete, in order, as the broker sent it directly.
    const t1 = Date.now();
    const received = await Promise.all(stalled.map(({ client }, i) => {
      const done = collect(client, plans[i].requests, 120_000);
      client.socket.resume();
      return done;
    }));
    const resumeMs = Date.now() - t1;
    for (const [i, { client, upstream }] of stalled.entries()) {
      assert.deepEqual(received[i].map((r) => r.correlationId), plans[i].frames.map((_, j) => j + 1), `${plans[i].name}: correlation ids in order`);
      assert.deepEqual(received[i], expected[i], `${plans[i].name}: every response byte for byte as the broker sends it`);
      assert.equal(client.socket.bytesRead, owed[i], `${plans[i].name}: the client read exactly the bytes owed`);
      assert.equal(upstream.bytesRead, owed[i], `${plans[i].name}: the proxy read exactly the bytes owed from the broker`);
      client.close();
    }
    assert.equal(await metricValue(proxy.metrics, 'kafka_proxy_connection_errors_total'), 0);
    report(`bytes read from brokers (kafka_proxy_bytes_total{direction="broker_to_client"}) during the stall: ${mib(metricStalled - metricBefore)}; ` +
      `produce ${produceMs} ms, all ${mib(owedTotal)} delivered ${resumeMs} ms after the clients read again, test ${Date.now() - t0} ms`);
  });
});
