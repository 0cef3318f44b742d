/**
 * ShareFetch responses (KIP-932) stream through the proxy like Fetch v16+ responses: NodeEndpoints is a regular
 * field after the records there, so a StreamWalk follows the layout, the tail (NodeEndpoints and the top-level
 * tagged section) is held and rewritten in place at exactly its original length, and the records go on as they
 * arrive, byte for byte. Frames are built from the schemas, split into chunks of every size (one byte at a time,
 * random, at the tail's edge); then a connection with in-memory sockets shows the records reaching the client
 * before the broker has sent the rest of the frame, and ShareAcknowledge still decoded whole.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { decodeMessage, encodeMessage, UNKNOWN_TAGS, type Decoded } from '../../protocol/codec.js';
import { readUvarint } from '../../protocol/header.js';
import { ShareAcknowledge } from '../../protocol/messages/share-acknowledge.js';
import { ShareFetch } from '../../protocol/messages/share-fetch.js';
import { skipperTo } from '../../protocol/skip.js';
import { DEFAULTS } from '../../src/config.js';
import { ProxyMetrics } from '../../src/metrics.js';
import { BrokerMap } from '../../src/proxy/broker-map.js';
import { ProxyConnection } from '../../src/proxy/connection.js';
import type { ProxyContext } from '../../src/proxy/context.js';
import { LeaderHintScan } from '../../src/proxy/leader-hints.js';
import { TopicIdMap } from '../../src/proxy/topic-ids.js';
import { kafkaRequest } from '../harness/raw.js';
import { metricValue } from '../harness/proxy.js';
import { MemorySocket, socketPair } from '../harness/memory-socket.js';

const V = 1;
const PROXY_PORT_BASE = 30000;

function brokers(host: string): { map: BrokerMap; opened: number[] } {
  const opened: number[] = [];
  return { map: new BrokerMap(host, PROXY_PORT_BASE, { openBrokerListener: (id) => { opened.push(id); } }), opened };
}

/** A response frame, size prefix included: correlation id, header v1 (empty tagged section), body. */
function frameOf(body: Buffer, correlationId = 42): Buffer {
  const out = Buffer.alloc(4 + 4 + 1 + body.length);
  out.writeInt32BE(out.length - 4, 0);
  out.writeInt32BE(correlationId, 4);
  body.copy(out, 9);
  return out;
}

/** Records with every byte value in them (0x80+ looks like a varint continuation, 0xff like -1). */
function recordBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}

interface Endpoint { NodeId: number; Host: string; Port: number; Rack: string | null }

function shareFetch(endpoints: Endpoint[], records: Buffer, unknownTag = false): Decoded {
  return {
    ThrottleTimeMs: 0, ErrorCode: 0, ErrorMessage: null, AcquisitionLockTimeoutMs: 30000,
    Responses: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAQ', Partitions: [
      { PartitionIndex: 0, ErrorCode: 0, ErrorMessage: null, AcknowledgeErrorCode: 0, AcknowledgeErrorMessage: null,
        CurrentLeader: { LeaderId: 1, LeaderEpoch: 4 }, Records: records,
        AcquiredRecords: [{ FirstOffset: 0n, LastOffset: 99n, DeliveryCount: 1 }] },
      { PartitionIndex: 1, ErrorCode: 6, ErrorMessage: 'not the leader', AcknowledgeErrorCode: 0, AcknowledgeErrorMessage: null,
        CurrentLeader: { LeaderId: 2, LeaderEpoch: 3 }, Records: Buffer.alloc(0), AcquiredRecords: [] },
    ] }],
    NodeEndpoints: endpoints,
    // A top-level tagged field of a newer broker: kept, and the padding goes above it.
    ...(unknownTag ? { [UNKNOWN_TAGS]: [{ tag: 5, data: Buffer.from('future') }] } : {}),
  };
}

/** Splits a frame into chunks: `sizes` gives each chunk's length in turn (the last one takes the rest). */
function split(frame: Buffer, next: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < frame.length;) { const n = Math.max(1, next()); out.push(frame.subarray(p, p + n)); p += n; }
  return out;
}

function seeded(seed: number, max: number): () => number {
  let x = seed;
  return () => { x = (x * 1103515245 + 12345) >>> 0; return 1 + (x % max); };
}

/** Runs chunks through a LeaderHintScan; returns what the client would get, and how much of it before the frame ended. */
function stream(chunks: Buffer[], map: BrokerMap) {
  const errors: Error[] = [];
  const size = chunks.reduce((n, c) => n + c.length, 0) - 4;
  const scan = new LeaderHintScan(ShareFetch.response, V, size, map, (e) => errors.push(e));
  const out: Buffer[] = [];
  for (const c of chunks) out.push(scan.push(c));
  const streamed = out.reduce((n, b) => n + b.length, 0);
  const end = scan.finish();
  out.push(end.bytes);
  return { bytes: Buffer.concat(out), outcome: end.outcome, errors, streamed };
}

/**
 * What must have gone out before the frame ended: every chunk that ends before NodeEndpoints begins (the chunk in
 * which it begins is held whole, and a frame that came in one chunk leaves in one write).
 */
function expectedStreamed(chunks: Buffer[], tail: number): number {
  if (chunks.length === 1) return 0;
  let end = 0;
  for (const c of chunks) { if (end + c.length > tail) break; end += c.length; }
  return end;
}

const body = (frame: Buffer) => decodeMessage(ShareFetch.response, V, frame.subarray(9));
/** Where NodeEndpoints starts in a frame (size prefix, correlation id, header tagged section, then the body). */
const tailStart = (frame: Buffer) => skipperTo(ShareFetch.response, V, 'NodeEndpoints')(frame, 9);
const withoutEndpoints = (d: Decoded) => { const { NodeEndpoints: _n, [UNKNOWN_TAGS]: _u, ...rest } = d; return rest; };

/** The tags in the top-level tagged section of a frame's body. */
function topLevelTags(frame: Buffer): number[] {
  const at = skipperTo(ShareFetch.response, V)(frame, 9);
  let [count, off] = readUvarint(frame, at);
  const tags: number[] = [];
  for (let i = 0; i < count; i++) {
    let tag: number, size: number;
    [tag, off] = readUvarint(frame, off);
    [size, off] = readUvarint(frame, off);
    off += size;
    tags.push(tag);
  }
  assert.equal(off, frame.length, 'the tagged section ends the frame');
  return tags;
}

/** Checks a streamed frame against its original: same length and size prefix, the same bytes up to NodeEndpoints. */
function assertSameUpToTail(out: Buffer, original: Buffer): void {
  assert.equal(out.length, original.length, 'frame length kept');
  const start = tailStart(original);
  assert.ok(out.subarray(0, start).equals(original.subarray(0, start)), 'every byte before NodeEndpoints (the records) unchanged');
  assert.equal(tailStart(out), start);
  assert.deepEqual(withoutEndpoints(body(out)), withoutEndpoints(body(original)));
}

describe('ShareFetch responses streamed: NodeEndpoints rewritten in place', () => {
  const big = recordBytes(200_000, 7);
  const small = recordBytes(3_000, 11);
  // [broker host, proxy host, what happens]: shorter by plenty, equal, shorter by 2 (just room for a padding entry).
  const fitting: Array<[string, string]> = [
    ['broker-2.kafka.internal', 'proxy.local'], ['broker-2.internal', 'proxy.example.io'.padEnd(17, 'x')],
    ['broker-2.kafka.internal', 'localhost'], ['broker-2.kafka.internal', 'p'], ['10.0.0.12', '127.0.0.1'],
  ];
  const chunkings: Array<[string, (f: Buffer) => Buffer[]]> = [
    ['whole', (f) => [f]],
    ['64 KiB', (f) => split(f, () => 65536)],
    ['random 1-5000', (f) => split(f, seeded(f.length, 5000))],
    ['random 1-70000', (f) => split(f, seeded(f.length + 1, 70000))],
    ['cut at NodeEndpoints', (f) => [f.subarray(0, tailStart(f)), f.subarray(tailStart(f))]],
    ['cut one byte into NodeEndpoints', (f) => [f.subarray(0, tailStart(f) + 1), f.subarray(tailStart(f) + 1)]],
    ['cut one byte before NodeEndpoints', (f) => [f.subarray(0, tailStart(f) - 1), f.subarray(tailStart(f) - 1)]],
  ];

  for (const [brokerHost, proxyHost] of fitting) {
    test(`${brokerHost} → ${proxyHost}: rewritten at the original length, records byte-identical`, () => {
      assert.ok(proxyHost.length <= brokerHost.length && brokerHost.length - proxyHost.length !== 1);
      for (const unknownTag of [false, true]) {
        for (const records of [big, small]) {
          const eps: Endpoint[] = [{ NodeId: 2, Host: brokerHost, Port: 9094, Rack: 'rack-b' }, { NodeId: 3, Host: brokerHost, Port: 9095, Rack: null }];
          const original = frameOf(encodeMessage(ShareFetch.response, V, shareFetch(eps, records, unknownTag)));
          const ways = records === small ? [...chunkings, ['one byte at a time', (f: Buffer) => split(f, () => 1)] as const] : chunkings;
          for (const [how, chunker] of ways) {
            const { map, opened } = brokers(proxyHost);
            const r = stream(chunker(original), map);
            const what = `${how}, ${records.length} bytes of records, unknown tag ${unknownTag}`;
            assert.deepEqual(r.errors, [], what);
            assert.equal(r.outcome, 'rewritten', what);
            assertSameUpToTail(r.bytes, original);
            const after = body(r.bytes);
            assert.deepEqual(after.NodeEndpoints, [
              { NodeId: 2, Host: proxyHost, Port: PROXY_PORT_BASE + 2, Rack: 'rack-b' }, { NodeId: 3, Host: proxyHost, Port: PROXY_PORT_BASE + 3, Rack: null },
            ], what);
            assert.ok(after.Responses[0].Partitions[0].Records.equals(records), what);
            const tags = topLevelTags(r.bytes);
            if (unknownTag) assert.equal(tags[0], 5, 'the broker\'s tagged field is kept, first');
            assert.ok(tags.every((t, i) => i === 0 || t > tags[i - 1]), `tags ascend: ${tags}`);
            assert.equal(tags.length - (unknownTag ? 1 : 0), proxyHost.length === brokerHost.length ? 0 : 1, 'one padding entry when shorter');
            assert.deepEqual(opened, [2, 3], 'the listeners for the named brokers are opened');
            assert.deepEqual(map.upstreamOf(3), { host: brokerHost, port: 9095 });
            assert.equal(r.streamed, expectedStreamed(chunker(original), tailStart(original)), `${what}: only the tail is held`);
          }
        }
      }
    });
  }

  for (const [brokerHost, proxyHost, why] of [
    ['b2', 'kafka-audit-proxy.example.com', 'longer'], ['broker-22', 'broker-2', 'shorter by one byte: no room for a padding entry'],
  ] as const) {
    test(`${brokerHost} → ${proxyHost} (${why}): NodeEndpoints emptied, padded to the original length, counted as dropped`, () => {
      for (const unknownTag of [false, true]) {
        const original = frameOf(encodeMessage(ShareFetch.response, V, shareFetch([{ NodeId: 2, Host: brokerHost, Port: 9094, Rack: null }], small, unknownTag)));
        for (const [how, chunker] of [...chunkings, ['one byte at a time', (f: Buffer) => split(f, () => 1)] as const]) {
          const { map, opened } = brokers(proxyHost);
          const r = stream(chunker(original), map);
          assert.deepEqual(r.errors, [], how);
          assert.equal(r.outcome, 'dropped', how);
          assert.equal(r.streamed, expectedStreamed(chunker(original), tailStart(original)), `${how}: only the tail is held`);
          assertSameUpToTail(r.bytes, original);
          const after = body(r.bytes);
          assert.deepEqual(after.NodeEndpoints, [], `${how}: no broker address reaches the client`);
          assert.ok(!r.bytes.includes(Buffer.from(brokerHost)), 'the broker host is nowhere in the frame');
          assert.ok(after.Responses[0].Partitions[0].Records.equals(small));
          if (unknownTag) assert.equal(topLevelTags(r.bytes)[0], 5);
          assert.deepEqual(opened, [2], 'the broker is still learned (its listener opened)');
        }
      }
    });
  }

  test('a response without NodeEndpoints passes byte for byte', () => {
    const original = frameOf(encodeMessage(ShareFetch.response, V, shareFetch([], big, true)));
    for (const chunker of [(f: Buffer) => [f], (f: Buffer) => split(f, seeded(3, 9000))]) {
      const r = stream(chunker(original), brokers('proxy.local').map);
      assert.deepEqual(r.errors, []);
      assert.equal(r.outcome, 'none');
      assert.ok(r.bytes.equals(original));
    }
  });

  test('a tail that does not decode passes unchanged and is reported; a body that breaks the layout streams unchanged', () => {
    const original = frameOf(encodeMessage(ShareFetch.response, V, shareFetch([{ NodeId: 2, Host: 'broker-2', Port: 9094, Rack: null }], small)));
    // The endpoint count says 5 where there is 1: the tail does not decode.
    const badTail = Buffer.from(original);
    badTail[tailStart(original)] = 6;
    // The topic count (size 4, correlation 4, header tags 1, throttle 4, error 2, message 1, lock 4 = offset 20) becomes ~2^31.
    const badBody = Buffer.concat([original.subarray(0, 20), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07]), original.subarray(25)]);
    for (const bad of [badTail, badBody]) {
      for (const chunker of [(f: Buffer) => [f], (f: Buffer) => split(f, () => 100)]) {
        const r = stream(chunker(bad), brokers('p').map);
        assert.equal(r.errors.length, 1);
        assert.equal(r.outcome, 'none');
        assert.ok(r.bytes.equals(bad));
      }
    }
  });
});

// -------------------------------------------------------------------------------------------------------------
// Through a connection: in-memory sockets for the client and the broker (test/harness/memory-socket.ts).

async function connection() {
  const config = structuredClone(DEFAULTS);
  const metrics = new ProxyMetrics({ collectDefault: false });
  const [client, proxyClientSide] = socketPair();
  const [proxyBrokerSide, broker] = socketPair();
  const ctx: ProxyContext = {
    config, log: pino({ level: 'silent' }), metrics,
    brokers: new BrokerMap('127.0.0.1', 9200, { openBrokerListener: () => undefined }),
    topicIds: new TopicIdMap(), tokenOwners: new Map(), clientSecurityProtocol: config.listen.securityProtocol,
    clusterId: () => 'test-cluster', listenersReady: () => undefined, setClusterId: () => undefined,
    connectUpstream: async () => proxyBrokerSide as unknown as Socket,
    audit: () => undefined, auditEnabled: () => false, auditDenials: () => false, writeAheadFor: () => false,
    intend: async () => 'intent', auditOutcome: () => undefined, abandonIntent: () => undefined, auditAdmission: () => undefined,
    reportUndecodableOnce: () => true, onConnectionClosed: () => undefined,
  };
  const conn = new ProxyConnection(ctx, proxyClientSide as unknown as Socket, { kind: 'broker', nodeId: 1 }, 'broker-1');
  await conn.start();
  return { conn, client, broker, metrics };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) { if (cond()) return; await new Promise((r) => setTimeout(r, 5)); }
  throw new Error(`timed out waiting for ${what}`);
}

describe('ShareFetch through a connection', () => {
  test('the records reach the client before the broker has sent the rest of the frame; NodeEndpoints rewritten at the end', async () => {
    const h = await connection();
    const request = kafkaRequest(78, V, 7, {
      GroupId: 'g', MemberId: 'm', ShareSessionEpoch: 1, MaxWaitMs: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxRecords: 500, BatchSize: 500, Topics: [], ForgottenTopicsData: [],
    });
    h.client.write(request);
    await until(() => h.broker.bytes.length === request.length, 'the ShareFetch at the broker');
    const records = recordBytes(600_000, 3);
    const original = frameOf(encodeMessage(ShareFetch.response, V, shareFetch([{ NodeId: 2, Host: 'broker-2.kafka.internal', Port: 9092, Rack: null }], records)), 7);
    const half = 300_000;
    h.broker.write(original.subarray(0, half));
    // Streamed: the first half (size prefix, header, records so far) is at the client while the broker has sent no more.
    await until(() => h.client.bytes.length === half, 'the first half at the client');
    assert.ok(h.client.bytes.equals(original.subarray(0, half)));
    h.broker.write(original.subarray(half));
    await until(() => h.client.bytes.length === original.length, 'the whole frame at the client');
    const out = h.client.bytes;
    assertSameUpToTail(out, original);
    assert.deepEqual(body(out).NodeEndpoints, [{ NodeId: 2, Host: '127.0.0.1', Port: 9202, Rack: null }]);
    assert.equal(await metricValue(h.metrics, 'kafka_proxy_leader_hints_total', { api: 'ShareFetch', outcome: 'rewritten' }), 1);
    assert.equal(await metricValue(h.metrics, 'kafka_proxy_responses_total', { api: 'ShareFetch' }), 0, 'not decoded');
    assert.equal(await metricValue(h.metrics, 'kafka_proxy_undecodable_frames_total'), 0);
    h.conn.close('test over');
  });

  test('ShareAcknowledge is still decoded whole: a longer proxy host is rewritten, not dropped', async () => {
    const h = await connection();
    const request = kafkaRequest(79, V, 8, { GroupId: 'g', MemberId: 'm', ShareSessionEpoch: 1, Topics: [] });
    h.client.write(request);
    await until(() => h.broker.bytes.length === request.length, 'the ShareAcknowledge at the broker');
    const ack = encodeMessage(ShareAcknowledge.response, V, {
      ThrottleTimeMs: 0, ErrorCode: 0, ErrorMessage: null, Responses: [], NodeEndpoints: [{ NodeId: 2, Host: 'b2', Port: 9092, Rack: null }],
    });
    h.broker.write(frameOf(ack, 8));
    await until(() => h.client.bytes.length > 0, 'the ShareAcknowledge answer');
    const answer = decodeMessage(ShareAcknowledge.response, V, h.client.bytes.subarray(9));
    assert.deepEqual(answer.NodeEndpoints, [{ NodeId: 2, Host: '127.0.0.1', Port: 9202, Rack: null }]);
    assert.equal(await metricValue(h.metrics, 'kafka_proxy_responses_total', { api: 'ShareAcknowledge' }), 1, 'decoded');
    h.conn.close('test over');
  });
});
