/**
 * A fourth security review's attacks, aimed at the data-path work of 0e17c5b (write batches, reused read buffers after
 * 64 reads a second, exchanges of one shape, plain-number metrics, per-version fact tables) and at 35159b8 (fail-closed
 * closing what it cannot refuse, TxnOffsetCommit audited, offset commits written ahead). Unit-level attacks drive one
 * ProxyConnection over in-memory sockets, or over real TCP sockets against a fake broker (net.Server) where the
 * kernel's buffers and Node's reused-read path matter; the last group goes through the whole proxy (src/app.ts) in
 * front of the real 3-broker cluster and is judged by what the broker did (metadata, its answers) and the audit topic.
 *
 * Breaks this review found, fixed since (their tests, named "regression:", stay):
 * - Memory, a client that never reads what the proxy answers itself: the client-side WriteBatch's "behind" pauses the
 *   broker socket only, never the client's. Requests the proxy answers without the broker (ApiVersions above the
 *   known versions: UNSUPPORTED_VERSION; fail-closed refusals: POLICY_VIOLATION; any refusal) keep being read, and
 *   their answers queue in the client socket's writable buffer without bound: 800,000 ApiVersions v99 (~20 MB
 *   written by a client that reads nothing) left ~11 MB in ~570,000 queued writes and +116 MB of heap in the proxy;
 *   it scales with what the client sends until the process runs out of memory. Holds before authentication too
 *   (ApiVersions is allowed there). (Same in the code before 0e17c5b: toClient() paused the upstream only.)
 *   Fixed (src/proxy/connection.ts): behind towards the client pauses the client as well, as a Kafka broker mutes a
 *   client whose answers it cannot send; the client's 'drain' resumes it unless requests are held or the broker is behind.
 * - Memory, made-up API versions: kafka_proxy_requests_total's plain counts (src/plain-metrics.ts PendingCounts, keyed
 *   apiKey*65536+version by ProxyMetrics.requestsFor) keep one cell per (API key, version) the client names, although
 *   the labels fold every version outside 0..30 into "unsupported": the series stay bounded, memory does not. Frames of
 *   an unaudited API (Fetch here) at versions the proxy does not know are forwarded and counted (as README says); each
 *   new version is a new cell (~117 bytes with its labels object), ~91 known keys x 65,536 versions ~ 0.7 GB, beyond
 *   the chart's --max-old-space-size=384. A real broker closes the connection at the first unknown version, but the
 *   proxy has counted every frame of the reads it made by then (one cluster run: 11,649 cells from 3 connections).
 *   (Carried over from the requestChildren map 0e17c5b replaced.) Fixed: the count's key folds what its labels fold.
 *
 * Attacks that hold (regression tests; each shown red against an injected fault in a throwaway copy):
 * - Write batches, a close in the middle of a read: frames before a connection-closing request in the same read
 *   (fail-closed OffsetCommit / TxnOffsetCommit without a refusal response, an undecodable CreateTopics) reach the
 *   broker byte for byte; the closing request and every byte after it never do, also when the client keeps writing
 *   after the close. (red: close() without flushing the batch; fail-closed forwarding what it cannot refuse)
 * - Ordering across batches: synthetic ApiVersions answers (v99), fail-closed refusals and forwarded answers leave in
 *   request order with the broker's answers in one read, and while responses are held for new listeners
 *   (holdResponsesUntil) nothing the proxy writes itself overtakes a held response. (red: writev in the wrong order;
 *   toClient ignoring the hold)
 * - Reused read buffers: 100 tiny reads switch both proxy sockets to reused buffers (checked on each socket), then 600
 *   small CreateTopics, each written ahead (intents settling at different times), pipelined in 29-byte pieces that
 *   cut frames, behind a 4 MiB answer to a client reading slowly: the broker receives every byte as sent, in order;
 *   each outcome names its own topic and carries its own intent; the client receives every answer byte for byte.
 *   (red: requestChunkFree() answering "free" regardless. responseChunkFree() answering "free" did NOT turn it red:
 *   no timing found where the client socket held unwritten bytes below its high-water mark while another read came)
 * - Memory under a client pipelining Fetch that never reads, and under a broker that stops reading: the proxy's socket
 *   holds a bounded amount and the other side is held back. (red: WriteBatch never reporting "behind")
 * - /metrics: out-of-range API versions fold into bounded series. (red: labels keeping the client's version)
 * - protocol/facts.ts perVersion: keys/versions outside 0..255/0..127 (negative, huge) answer as the uncached facts
 *   and grow no table. (red: the range guard removed: +64 MB)
 * - Whole proxy, real cluster: one write of [CreateTopics a, ApiVersions v99, CreateTopics b, undecodable CreateTopics,
 *   CreateTopics d]: closed at the undecodable one, what answers arrived are in order, d and the undecodable one never
 *   exist at the broker, each executed one has exactly one event under the connection's principal; 300 DeleteTopics
 *   pipelined in 23-byte pieces (reused buffers checked): each broker answer names the topic asked, one event per
 *   name, none under a name not asked for; SASL v0 (handshake, raw PLAIN token, CreateTopics behind it, in 7-byte
 *   writes) after 100 ApiVersions v99 switched the client socket to a reused buffer: created as User:admin with one
 *   event naming User:admin; with a wrong password the CreateTopics never runs and has no success event.
 *   (red: an undecodable audited request skipped instead of closing; requestChunkFree() answering "free")
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type Socket } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { pino } from 'pino';
import { encodeMessage, type Decoded } from '../../protocol/codec.js';
import { apiSchema } from '../../protocol/registry.js';
import { isFlexibleRequest, isFlexibleResponse, knownRequestVersion, requestHeaderVersion, responseHeaderVersion } from '../../protocol/facts.js';
import { inRange } from '../../protocol/schema.js';
import { DEFAULTS, type ProxyConfig } from '../../src/config.js';
import { ProxyMetrics } from '../../src/metrics.js';
import type { AuditOperation } from '../../src/audit/operation.js';
import { BrokerMap } from '../../src/proxy/broker-map.js';
import { ProxyConnection } from '../../src/proxy/connection.js';
import type { ProxyContext } from '../../src/proxy/context.js';
import { TopicIdMap } from '../../src/proxy/topic-ids.js';
import { reusedReadBuffers } from '../../src/proxy/reused-reads.js';
import { decodeResponse, kafkaRequest, RawConnection, requestFrame, sizePrefixed } from '../harness/raw.js';
import { metricValue } from '../harness/proxy.js';
import { socketPair, type MemorySocket } from '../harness/memory-socket.js';
import type { KafkaCluster } from '../harness/kafka-cluster.js';
import { useCluster } from '../harness/shared-cluster.js';
import { eventsFor, startAuditedApp, type AuditedApp } from '../harness/audited-app.js';
import { waitForTopics } from '../harness/metadata.js';
import { handshakeFrame, plainToken, rawToken } from '../harness/sasl-raw.js';
import { verifyTopic } from '../../src/audit/verify.js';
import type { AuditEvent } from '../../src/audit/event.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A connection with a recording context, over in-memory or real TCP sockets

interface CtxOpts {
  config?: (c: ProxyConfig) => void;
  writeAhead?: (apiKey: number) => boolean;
  intend?: (ops: readonly AuditOperation[]) => Promise<string>;
  admission?: (ops: readonly AuditOperation[]) => string | undefined;
  listenersReady?: () => Promise<void> | undefined;
}

interface Recorded {
  ctx: ProxyContext;
  metrics: ProxyMetrics;
  outcomes: Array<{ intent: string | undefined; ops: AuditOperation[] }>;
  closed: Promise<void>;
}

function recordingContext(opts: CtxOpts, connectUpstream: () => Promise<Socket>): Recorded {
  const config = structuredClone(DEFAULTS);
  opts.config?.(config);
  const metrics = new ProxyMetrics({ collectDefault: false });
  const outcomes: Recorded['outcomes'] = [];
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => { closedResolve = r; });
  const ctx: ProxyContext = {
    config, log: pino({ level: 'silent' }), metrics,
    brokers: new BrokerMap('127.0.0.1', 9200, { openBrokerListener: () => undefined }),
    topicIds: new TopicIdMap(), tokenOwners: new Map(), clientSecurityProtocol: config.listen.securityProtocol,
    clusterId: () => 'test-cluster', listenersReady: opts.listenersReady ?? (() => undefined), setClusterId: () => undefined,
    connectUpstream,
    audit: () => undefined,
    // Produce and Fetch unaudited (their categories off); OffsetCommit/TxnOffsetCommit audited (consume on).
    auditEnabled: (apiKey) => apiKey !== 0 && apiKey !== 1,
    auditDenials: () => false,
    writeAheadFor: (apiKey) => opts.writeAhead?.(apiKey) ?? false,
    intend: opts.intend ?? (async () => 'intent'),
    auditOutcome: (intent, ops) => { outcomes.push({ intent, ops }); },
    abandonIntent: () => undefined,
    auditAdmission: (ops) => opts.admission?.(ops),
    reportUndecodableOnce: () => true,
    onConnectionClosed: () => closedResolve(),
  };
  return { ctx, metrics, outcomes, closed };
}

async function memoryHarness(opts: CtxOpts = {}) {
  const [client, proxyClientSide] = socketPair();
  const [proxyBrokerSide, broker] = socketPair();
  const r = recordingContext(opts, async () => proxyBrokerSide as unknown as Socket);
  const conn = new ProxyConnection(r.ctx, proxyClientSide as unknown as Socket, { kind: 'bootstrap' }, 'bootstrap');
  await conn.start();
  return { ...r, conn, client, broker };
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return (server.address() as net.AddressInfo).port;
}

/**
 * Real TCP: a fake broker (its sockets handed to `onBroker`), a listener wrapping each accepted socket in a
 * ProxyConnection, and a client connected to it. `proxySide()` gives the proxy's two sockets.
 */
async function tcpHarness(opts: CtxOpts & { onBroker: (s: Socket) => void }) {
  const brokerSockets: Socket[] = [];
  const broker = net.createServer((s) => { brokerSockets.push(s); opts.onBroker(s); });
  const brokerPort = await listen(broker);
  let upstream: Socket | undefined;
  const r = recordingContext(opts, () => new Promise<Socket>((res, rej) => {
    const u = net.connect(brokerPort, '127.0.0.1', () => { upstream = u; res(u); });
    u.once('error', rej);
  }));
  let accepted: Socket | undefined;
  let conn: ProxyConnection | undefined;
  const server = net.createServer((s) => {
    accepted = s;
    conn = new ProxyConnection(r.ctx, s, { kind: 'bootstrap' }, 'bootstrap');
    void conn.start();
  });
  const port = await listen(server);
  const client = net.connect(port, '127.0.0.1');
  await new Promise<void>((res) => client.once('connect', () => res()));
  await until(() => upstream !== undefined, 'the upstream connection');
  return {
    ...r, client,
    proxySide: () => ({ client: accepted!, upstream: upstream! }),
    conn: () => conn!,
    async stop() {
      conn?.close('test over');
      client.destroy();
      accepted?.destroy();
      upstream?.destroy();
      for (const s of brokerSockets) s.destroy(); // a paused one would never see the end, and keep its server open
      await new Promise((res) => server.close(res));
      await new Promise((res) => broker.close(res));
    },
  };
}

/** Whether a socket reads into a buffer of its own (reused-reads.ts sets net.Socket's private kBuffer). */
function ownReadBuffer(s: Socket): boolean {
  const sym = Object.getOwnPropertySymbols(s).find((x) => x.description === 'kBuffer');
  return sym !== undefined && (s as unknown as Record<symbol, unknown>)[sym] != null;
}

/** Splits a byte stream into size-prefixed frames as they arrive. */
class Frames {
  private buf = Buffer.alloc(0);
  readonly all: Buffer[] = [];
  push(c: Buffer): Buffer[] {
    this.buf = Buffer.concat([this.buf, c]);
    const out: Buffer[] = [];
    while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readInt32BE(0)) {
      const n = this.buf.readInt32BE(0);
      out.push(Buffer.from(this.buf.subarray(0, 4 + n)));
      this.buf = this.buf.subarray(4 + n);
    }
    this.all.push(...out);
    return out;
  }
}

function frames(bytes: Buffer): Buffer[] { const f = new Frames(); f.push(bytes); return f.all; }
const cids = (bytes: Buffer, requests: boolean) => frames(bytes).map((f) => f.readInt32BE(requests ? 8 : 4));

/** A response frame: correlation id, then the body (non-flexible versions only). */
function response(apiKey: number, version: number, correlationId: number, body: Decoded): Buffer {
  const id = Buffer.alloc(4);
  id.writeInt32BE(correlationId);
  return sizePrefixed(id, encodeMessage(apiSchema(apiKey)!.response, version, body));
}

const createTopics = (name: string, cid: number) => kafkaRequest(19, 4, cid, {
  Topics: [{ Name: name, NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] }], timeoutMs: 1000, validateOnly: false,
});
const createTopicsOk = (name: string, cid: number) => response(19, 4, cid, { ThrottleTimeMs: 0, Topics: [{ Name: name, ErrorCode: 0, ErrorMessage: null }] });
const offsetCommit = (group: string, cid: number) => kafkaRequest(8, 8, cid, {
  GroupId: group, GenerationIdOrMemberEpoch: -1, MemberId: '', GroupInstanceId: null,
  Topics: [{ Name: 'orders', Partitions: [{ PartitionIndex: 0, CommittedOffset: 5n, CommittedLeaderEpoch: -1, CommittedMetadata: null }] }],
});
const txnOffsetCommit = (group: string, cid: number) => kafkaRequest(28, 3, cid, {
  TransactionalId: 'tx', GroupId: group, ProducerId: 1n, ProducerEpoch: 0, GenerationId: -1, MemberId: '', GroupInstanceId: null,
  Topics: [{ Name: 'orders', Partitions: [{ PartitionIndex: 0, CommittedOffset: 5n, CommittedLeaderEpoch: -1, CommittedMetadata: null }] }],
});
const apiVersions99 = (cid: number) => requestFrame(18, 99, cid, Buffer.from([0, 0, 0]), { flexible: true });
/** Fetch v4 with an opaque body (Fetch is unaudited here, so it streams undecoded). */
const fetchFrame = (cid: number, version = 4, bodyBytes = 16) => requestFrame(1, version, cid, Buffer.alloc(bodyBytes));

// ---------------------------------------------------------------------------------------------------------------

describe('write batches: a close in the middle of a read', () => {
  for (const [name, closing, kind] of [
    ['OffsetCommit in fail-closed mode, events not durable', offsetCommit('g-closing', 3), 'audit_not_durable'],
    ['TxnOffsetCommit in fail-closed mode, events not durable', txnOffsetCommit('g-closing', 3), 'audit_not_durable'],
    ['an undecodable CreateTopics', (() => { const f = createTopics('bad', 3); const t = f.subarray(0, f.length - 6); t.writeInt32BE(t.length - 4, 0); return t; })(), 'malformed'],
  ] as const) {
    test(`${name}: the frames before it in the read reach the broker, it and everything after never do`, async () => {
      const h = await memoryHarness({
        config: (c) => { c.audit.failMode = 'closed'; },
        admission: (ops) => ops.some((o) => o.resource.name === 'g-closing') ? 'spool full' : undefined,
      });
      const before1 = fetchFrame(1);
      const before2 = offsetCommit('g-ok', 2);
      const after1 = createTopics('after-close', 4);
      const after2 = offsetCommit('g-after', 5);
      h.client.write(Buffer.concat([before1, before2, closing, after1, after2]));
      await h.closed;
      // The client keeps writing after the close: nothing of it may reach the broker either.
      h.client.write(Buffer.concat([createTopics('later', 6), fetchFrame(7)]));
      await sleep(100);
      assert.deepEqual(cids(h.broker.bytes, true), [1, 2], 'only the frames before the closing one were forwarded');
      assert.deepEqual(h.broker.bytes, Buffer.concat([before1, before2]), 'byte for byte');
      assert.equal(await metricValue(h.metrics, 'kafka_proxy_connection_errors_total', { reason: kind }), 1);
    });
  }
});

describe('write batches: ordering of what the proxy answers itself and what it forwards', () => {
  test('synthetic ApiVersions answers, refusals and forwarded responses leave in request order (answers in one read)', async () => {
    const h = await memoryHarness({
      config: (c) => { c.audit.failMode = 'closed'; },
      admission: (ops) => ops.some((o) => o.resource.name.startsWith('refuse')) ? 'spool full' : undefined,
    });
    h.client.write(Buffer.concat([
      apiVersions99(1), createTopics('a', 2), createTopics('refuse-1', 3), apiVersions99(4), createTopics('b', 5), createTopics('refuse-2', 6),
    ]));
    await until(() => cids(h.broker.bytes, true).length === 2, 'the two forwarded requests');
    assert.deepEqual(cids(h.broker.bytes, true), [2, 5]);
    assert.deepEqual(cids(h.client.bytes, false), [1], 'only what precedes the first forwarded request is answered yet');
    h.broker.write(Buffer.concat([createTopicsOk('a', 2), createTopicsOk('b', 5)]));
    await until(() => cids(h.client.bytes, false).length === 6, 'six answers');
    assert.deepEqual(cids(h.client.bytes, false), [1, 2, 3, 4, 5, 6]);
    h.conn.close('test over');
  });

  test('while responses are held for new listeners, refusals and synthetic answers queue behind them', async () => {
    let open!: () => void;
    const ready = new Promise<void>((r) => { open = r; });
    let holding = true;
    const h = await memoryHarness({
      config: (c) => { c.audit.failMode = 'closed'; },
      admission: (ops) => ops.some((o) => o.resource.name.startsWith('refuse')) ? 'spool full' : undefined,
      listenersReady: () => holding ? ready : undefined,
    });
    // Metadata v1 naming a broker the proxy has not seen: its rewritten answer waits for that broker's listener.
    h.client.write(Buffer.concat([kafkaRequest(3, 1, 1, { Topics: [] }), createTopics('refuse-1', 2), apiVersions99(3), createTopics('c', 4)]));
    await until(() => cids(h.broker.bytes, true).length === 2, 'Metadata and CreateTopics c at the broker');
    h.broker.write(Buffer.concat([
      response(3, 1, 1, { Brokers: [{ NodeId: 7, Host: 'kafka-7.internal', Port: 9092, Rack: null }], ControllerId: 7, Topics: [] }),
      createTopicsOk('c', 4),
    ]));
    await sleep(50);
    assert.equal(h.client.bytes.length, 0, 'nothing leaves while the Metadata answer is held');
    holding = false;
    open();
    await until(() => cids(h.client.bytes, false).length === 4, 'four answers');
    assert.deepEqual(cids(h.client.bytes, false), [1, 2, 3, 4]);
    const md = decodeResponse(3, 1, frames(h.client.bytes)[0].subarray(4));
    assert.equal((md.Brokers as any[])[0].Host, '127.0.0.1', 'the held answer was rewritten');
    h.conn.close('test over');
  });
});

describe('reused read buffers', () => {
  test('600 small audited requests written ahead, pipelined in frame-cutting pieces while both sockets read into reused buffers: nothing corrupted', async () => {
    const N = 600;
    const names = Array.from({ length: N }, (_, i) => `reuse-${i}-${'x'.repeat(i % 17)}`);
    const sent = names.map((n, i) => createTopics(n, 1000 + i));
    const answers = names.map((n, i) => createTopicsOk(n, 1000 + i));
    // A 4 MiB Fetch answer ahead of them fills the kernel's buffers towards a client that reads slowly, so the
    // proxy's writes of the small answers wait in Node, pointing into the read buffer they came from.
    const BULK_CID = 5000;
    const bulkAnswer = sizePrefixed(Buffer.from([0, 0, 0x13, 0x88]), Buffer.alloc(4 * 1024 * 1024, 7));
    const atBroker = new Frames();
    const atClient: Buffer[] = [];
    let maxReused = 0;
    const h = await tcpHarness({
      writeAhead: (k) => k === 19,
      // The journal's fsync settles at its own pace: sometimes at once, sometimes a little later.
      intend: (ops) => new Promise((r) => { const n = ops[0].resource.name; if (n.length % 3 === 0) setImmediate(() => r(n)); else setTimeout(() => r(n), 1); }),
      onBroker: (s) => {
        let answered = 0;
        s.on('data', (c: Buffer) => {
          for (const f of atBroker.push(c)) {
            if (f.readInt16BE(4) === 1) { // warm-up Fetch: a small answer
              const cid = f.readInt32BE(8);
              s.write(cid === BULK_CID ? bulkAnswer : sizePrefixed(Buffer.from([0, 0, 0, cid]), Buffer.alloc(8)));
              continue;
            }
            const i = f.readInt32BE(8) - 1000;
            // Each answer its own write, a moment later: many small reads on the proxy's broker socket.
            setImmediate(() => s.write(answers[i]));
            answered++;
          }
        });
        void answered;
      },
    });
    const switched = { client: false, upstream: false };
    const timer = setInterval(() => {
      maxReused = Math.max(maxReused, reusedReadBuffers());
      const ps = h.proxySide();
      switched.client ||= ownReadBuffer(ps.client);
      switched.upstream ||= ownReadBuffer(ps.upstream);
    }, 2);
    try {
      h.client.on('data', (c: Buffer) => atClient.push(c));
      // Warm-up: 100 tiny Fetch requests, a read each, within a second: the client socket switches to a reused buffer.
      for (let i = 0; i < 100; i++) { h.client.write(fetchFrame(i + 1)); await sleep(1); }
      await until(() => Buffer.concat(atClient).length === 100 * 16, 'the warm-up answers');
      await until(() => switched.client, 'the client socket reading into a reused buffer');
      atClient.length = 0;
      atBroker.all.length = 0;
      h.client.pause(); // a slow reader: nothing for 300 ms, then a little at a time
      let slow: NodeJS.Timeout | undefined;
      setTimeout(() => { slow = setInterval(() => { h.client.resume(); setImmediate(() => h.client.pause()); }, 2); }, 300);
      const stream = Buffer.concat(sent);
      h.client.write(fetchFrame(BULK_CID));
      for (let off = 0; off < stream.length; off += 29) {
        h.client.write(stream.subarray(off, off + 29));
        if ((off / 29) % 4 === 0) await new Promise((r) => setImmediate(r));
      }
      await until(() => atBroker.all.length === N + 1, `${N} requests at the broker`, 15_000).catch((e) => {
        const ps = h.proxySide();
        throw new Error(`${e.message}: ${atBroker.all.length} there, ${h.outcomes.length} outcomes, client paused ${ps.client.isPaused()}, reused ${reusedReadBuffers()}, held ${(h.conn() as any).requests.isHeld}, buffered ${(h.conn() as any).requests.buffered}, closed ${(h.conn() as any).closed}, upstream needDrain ${ps.upstream.writableNeedDrain}, readableLength ${ps.client.readableLength}, flowing ${ps.client.readableFlowing}`);
      });
      const expected = Buffer.concat([bulkAnswer, ...answers]);
      await until(() => atClient.reduce((n, c) => n + c.length, 0) >= expected.length, 'every answer at the client', 60_000);
      clearInterval(slow);
      h.client.resume();
      assert.ok(maxReused >= 1, `the proxy's sockets switched to reused read buffers (max ${maxReused} at once)`);
      assert.deepEqual(switched, { client: true, upstream: true }, 'both of the proxy\'s sockets read into a reused buffer');
      assert.ok(Buffer.concat(atBroker.all.filter((f) => f.readInt16BE(4) !== 1)).equals(stream), 'the broker received every request byte for byte, in order');
      assert.ok(Buffer.concat(atClient).equals(expected), 'the client received every answer byte for byte, in order');
      await until(() => h.outcomes.length === N, 'every outcome');
      assert.deepEqual(h.outcomes.map((o) => o.ops[0].resource.name), names, 'each outcome names its own topic');
      assert.deepEqual(h.outcomes.map((o) => o.intent), names, 'each outcome carries the intent written for it');
    } finally {
      clearInterval(timer);
      await h.stop();
    }
  });
});

describe('memory under a peer that does not read', () => {
  test('a client pipelining Fetch that never reads its answers: the proxy holds a bounded amount for it', async () => {
    const RESPONSE = 64 * 1024;
    let sentByBroker = 0;
    const h = await tcpHarness({
      onBroker: (s) => {
        const f = new Frames();
        const queue: number[] = [];
        let writing = false;
        const pump = () => {
          if (writing) return;
          writing = true;
          while (queue.length > 0) {
            const cid = queue.shift()!;
            const body = Buffer.alloc(RESPONSE - 4);
            const head = Buffer.alloc(4); head.writeInt32BE(cid);
            sentByBroker++;
            if (!s.write(sizePrefixed(head, body))) { s.once('drain', () => { writing = false; pump(); }); return; }
          }
          writing = false;
        };
        s.on('data', (c: Buffer) => { for (const fr of f.push(c)) queue.push(fr.readInt32BE(8)); pump(); });
        s.on('error', () => undefined);
      },
    });
    try {
      h.client.pause(); // never reads
      h.client.write(Buffer.concat(Array.from({ length: 1500 }, (_, i) => fetchFrame(i + 1))));
      let maxHeld = 0;
      for (let i = 0; i < 150; i++) {
        maxHeld = Math.max(maxHeld, h.proxySide().client.writableLength);
        await sleep(10);
      }
      const total = 1500 * RESPONSE;
      assert.ok(sentByBroker < 1500, `the broker was held back too (it sent ${sentByBroker} of 1500 answers)`);
      assert.ok(maxHeld < 2 * 1024 * 1024, `the proxy held at most ${maxHeld} bytes for the client (of ${total} the broker would send)`);
    } finally {
      await h.stop();
    }
  });

  test('a broker that stops reading: the proxy holds a bounded amount of the client\'s requests', async () => {
    let brokerSocket: Socket | undefined;
    const h = await tcpHarness({ onBroker: (s) => { brokerSocket = s; s.pause(); s.on('error', () => undefined); } });
    try {
      const big = fetchFrame(1, 4, 1024 * 1024 - 20);
      let written = 0;
      const writer = (async () => {
        for (let i = 0; i < 64; i++) {
          written++;
          if (!h.client.write(big)) {
            const ok = await Promise.race([new Promise((r) => h.client.once('drain', () => r(true))), sleep(1500).then(() => false)]);
            if (!ok) return;
          }
        }
      })();
      let maxHeld = 0;
      for (let i = 0; i < 150; i++) {
        maxHeld = Math.max(maxHeld, h.proxySide().upstream.writableLength);
        await sleep(10);
      }
      await writer;
      assert.ok(brokerSocket, 'the broker was connected');
      assert.ok(written < 64, `the client was held back (it wrote ${written} of 64 MiB)`);
      assert.ok(maxHeld < 2 * 1024 * 1024, `the proxy held at most ${maxHeld} bytes for the broker`);
    } finally {
      await h.stop();
    }
  });
});

describe('memory under a client that does not read what the proxy answers itself', () => {
  /**
   * Writes `frame` (cid patched) up to `count` times with the client's own backpressure: a write that returns false
   * waits for 'drain' (at most 10 s, then gives up). Returns how many were written.
   */
  async function pipeline(client: Socket, frame: (cid: number) => Buffer, count: number): Promise<number> {
    const batch = 2000;
    for (let n = 0; n < count; n += batch) {
      const out: Buffer[] = [];
      for (let i = 0; i < batch; i++) out.push(frame(n + i + 1));
      if (!client.write(Buffer.concat(out))) {
        const drained = await Promise.race([new Promise((r) => client.once('drain', () => r(true))), sleep(10_000).then(() => false)]);
        if (!drained) return n + batch;
      }
    }
    return count;
  }

  for (const [name, frame, opts, COUNT] of [
    ['ApiVersions above the known versions (answered UNSUPPORTED_VERSION by the proxy)', apiVersions99, {}, 800_000],
    ['CreateTopics refused in fail-closed mode (POLICY_VIOLATION answers)', (cid: number) => createTopics('refused', cid),
      { config: (c: ProxyConfig) => { c.audit.failMode = 'closed'; }, admission: () => 'spool full' }, 400_000],
  ] as const) {
    test(`regression: a client pipelining ${name} that never reads: the proxy's buffer towards it grows without bound`, async () => {
      const h = await tcpHarness({ ...opts, onBroker: (s) => s.on('error', () => undefined) });
      try {
        h.client.pause(); // never reads
        const heapBefore = process.memoryUsage().heapUsed;
        let maxHeld = 0;
        let maxChunks = 0;
        const sampler = setInterval(() => {
          const ps = h.proxySide();
          maxHeld = Math.max(maxHeld, ps.client.writableLength);
          maxChunks = Math.max(maxChunks, (ps.client as unknown as { writableBuffer: unknown[] }).writableBuffer.length);
        }, 5);
        const written = await pipeline(h.client, frame, COUNT);
        await sleep(300);
        clearInterval(sampler);
        const ps = h.proxySide();
        maxHeld = Math.max(maxHeld, ps.client.writableLength);
        const heapGrown = Math.round((process.memoryUsage().heapUsed - heapBefore) / 1e6);
        // A bounded proxy stops reading a client that does not read its answers (as a broker mutes it), so the client
        // is held back after a few MB in the kernel's buffers; here it writes all it wants.
        assert.ok(maxHeld < 1024 * 1024,
          `the proxy queued ${maxHeld} bytes in ${maxChunks} writes for a client that reads nothing (the client wrote ${written} of ${COUNT} requests; heap +${heapGrown} MB)`);
      } finally {
        await h.stop();
      }
    });
  }
});

describe('metrics: client-chosen API keys and versions', () => {
  /** Fetch frames (unaudited, forwarded and counted) at `count` distinct versions the proxy does not know. */
  function unknownVersions(count: number): Buffer {
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const v = i % 2 === 0 ? 100 + (i >> 1) : -1 - (i >> 1);
      out.push(requestFrame(1, v, i + 1, Buffer.alloc(0), { flexible: v >= 12 }));
    }
    return Buffer.concat(out);
  }

  test('out-of-range versions fold into bounded series in /metrics', async () => {
    const h = await memoryHarness();
    h.client.write(unknownVersions(4000));
    await until(() => cids(h.broker.bytes, true).length === 4000, `all forwarded (${cids(h.broker.bytes, true).length}, ${h.broker.bytes.length} bytes; ${await h.metrics.registry.metrics().then((t) => t.split('\n').filter((l) => l.includes('errors_total{')).join(' '))})`);
    const text = await h.metrics.registry.metrics();
    const series = text.split('\n').filter((l) => l.startsWith('kafka_proxy_requests_total{'));
    assert.ok(series.length <= 2, `requests_total series: ${series.length}`);
    assert.match(series.join('\n'), /version="unsupported"} 4000/);
    h.conn.close('test over');
  });

  test('regression: out-of-range versions each keep a counting cell in memory (PendingCounts), without bound', async () => {
    const h = await memoryHarness();
    const counts = (h.metrics as unknown as { requestCounts: { counts: Map<number, unknown> } }).requestCounts.counts;
    const before = counts.size;
    h.client.write(unknownVersions(4000));
    await until(() => cids(h.broker.bytes, true).length === 4000, 'all forwarded');
    h.conn.close('test over');
    const grown = counts.size - before;
    // Every one of the 4,000 frames went to one label set (api="Fetch", version="unsupported"); a bounded table
    // needs one cell for it. The map has one per version the client made up: 65,536 per API key are possible.
    assert.ok(grown <= 8, `PendingCounts cells made by 4,000 frames of made-up versions: ${grown}`);
  });
});

describe('protocol/facts.ts per-version tables', () => {
  const gc = (() => { v8.setFlagsFromString('--expose-gc'); return vm.runInNewContext('gc') as () => void; })();

  test('keys and versions outside 0..255 / 0..127 answer as the uncached facts and grow nothing', () => {
    // Correctness at the edges first (a stored answer for one out-of-range pair must not leak into another).
    const cases: Array<[number, number]> = [[-1, -1], [3, -1], [3, 128], [3, 32767], [18, 999], [300, 1], [-32768, 5], [255, 127], [256, 0], [19, 200]];
    for (const [k, v] of cases) {
      const s = apiSchema(k);
      assert.equal(knownRequestVersion(k, v), s !== undefined && inRange(v, s.request.validVersions), `known ${k} v${v}`);
      assert.equal(isFlexibleRequest(k, v), s !== undefined && inRange(v, s.request.flexibleVersions), `flexible request ${k} v${v}`);
      assert.equal(isFlexibleResponse(k, v), s !== undefined && inRange(v, s.response.flexibleVersions), `flexible response ${k} v${v}`);
      if (!s) { assert.equal(requestHeaderVersion(k, v), undefined); assert.equal(responseHeaderVersion(k, v), undefined); }
    }
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let k = 0; k < 92; k++) {
      for (let v = 128; v < 2176; v++) {
        knownRequestVersion(k, v); isFlexibleRequest(k, v); isFlexibleResponse(k, v); requestHeaderVersion(k, v); responseHeaderVersion(k, v);
        knownRequestVersion(k, -v); requestHeaderVersion(k + 256, v);
      }
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 4 * 1024 * 1024, `heap grew by ${grown} bytes over 1.3 M out-of-range lookups`);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The whole proxy in front of the real cluster

describe('whole proxy, real cluster', { skip: process.env.KAP_ATK4_UNIT_ONLY === '1' }, () => {
  let cluster: KafkaCluster;
  let release: (() => Promise<void>) | undefined;
  let proxy: AuditedApp;
  const run = Date.now().toString(36);

  before(async () => {
    ({ cluster, release } = await useCluster(3));
    proxy = await startAuditedApp(cluster, { sasl: false });
  });

  after(async () => {
    await proxy?.stop();
    await release?.();
  });

  test('one write of [create, ApiVersions v99, create, undecodable create, create]: closed at the undecodable one, the last never created, every executed one audited', async () => {
    const [a, b, bad, d] = ['a', 'b', 'bad', 'd'].map((x) => `atk4-${run}-${x}`);
    const c = await RawConnection.open(proxy.port);
    const broken = createTopics(bad, 4);
    const truncated = Buffer.from(broken.subarray(0, broken.length - 6));
    truncated.writeInt32BE(truncated.length - 4, 0);
    c.write(Buffer.concat([createTopics(a, 1), apiVersions99(2), createTopics(b, 3), truncated, createTopics(d, 5)]));
    const got: number[] = [];
    for (;;) {
      const f = await c.tryNextFrame(20_000);
      if (!f) break;
      got.push(f.readInt32BE(0));
    }
    assert.ok(c.closed, 'the proxy closed the connection');
    // The close drops the answers still in flight (a and b were forwarded, each after its write-ahead): what did
    // arrive is a prefix of the answers, in order.
    assert.deepEqual(got, [1, 2, 3].slice(0, got.length), `answers in request order (${got})`);
    await sleep(3000);
    const check = await RawConnection.open(Number(cluster.plainBootstrap.split(',')[0].split(':')[1]));
    const md = await check.request(3, 1, { Topics: [a, b, bad, d].map((Name) => ({ Name })) });
    check.destroy();
    const exists = new Map((md.Topics as any[]).map((t) => [t.Name as string, t.ErrorCode === 0]));
    assert.equal(exists.get(d), false, 'the CreateTopics after the undecodable one never reached the broker');
    assert.equal(exists.get(bad), false, 'the undecodable one never reached the broker');
    const executed = [a, b].filter((t) => exists.get(t));
    const events = await proxyEvents((ev) => executed.every((t) => eventsFor(ev, 'CreateTopics', t).length > 0));
    for (const t of executed) {
      const ev = eventsFor(events, 'CreateTopics', t);
      assert.equal(ev.length, 1, `${t}, created at the broker, has its event`);
      assert.equal((ev[0].data as any).authenticationInfo?.principal, 'User:ANONYMOUS');
    }
    for (const t of [bad, d]) assert.equal(eventsFor(events, 'CreateTopics', t).filter((e) => e.data.result?.status === 'SUCCESS').length, 0);
  });

  test('300 small DeleteTopics pipelined in 23-byte pieces (reused read buffers): each answered for its topic and audited once under that name', async () => {
    const N = 300;
    const names = Array.from({ length: N }, (_, i) => `atk4-${run}-gone-${i}`);
    const stream = Buffer.concat(names.map((n, i) => kafkaRequest(20, 3, 100 + i, { TopicNames: [n], TimeoutMs: 5000 })));
    const c = await RawConnection.open(proxy.port);
    let maxReused = 0;
    const timer = setInterval(() => { maxReused = Math.max(maxReused, reusedReadBuffers()); }, 2);
    try {
      for (let off = 0; off < stream.length; off += 23) {
        c.write(stream.subarray(off, off + 23));
        if ((off / 23) % 2 === 0) await new Promise((r) => setImmediate(r));
      }
      for (let i = 0; i < N; i++) {
        const f = await c.takeFrame(60_000);
        assert.equal(f.readInt32BE(0), 100 + i);
        const r = decodeResponse(20, 3, f);
        assert.equal((r.Responses as any[])[0].Name, names[i], 'the broker executed the request for the topic asked');
      }
    } finally {
      clearInterval(timer);
      c.destroy();
    }
    assert.ok(maxReused >= 1, `the proxy's sockets switched to reused read buffers (max ${maxReused})`);
    const events = await proxyEvents((ev) => names.every((n) => eventsFor(ev, 'DeleteTopics', n).length > 0));
    for (const n of names) assert.equal(eventsFor(events, 'DeleteTopics', n).length, 1, `one DeleteTopics event for ${n}`);
    const all = events.filter((e) => e.data.methodName === 'kafka.DeleteTopics' && String((e.data as any).authorizationInfo?.resourceName).startsWith(`atk4-${run}-gone-`));
    assert.equal(all.length, N, 'no event under a name that was not asked for');
  });

  test('regression: through the real proxy to a real broker, frames of made-up versions each leave a counting cell behind the closed connection', async () => {
    const counts = (proxy.app.metrics as unknown as { requestCounts: { counts: Map<number, unknown> } }).requestCounts.counts;
    const before = counts.size;
    const N = 20_000;
    let grown = 0;
    for (let round = 0; round < 3; round++) {
      const c = await RawConnection.open(proxy.port);
      const out: Buffer[] = [];
      // Fetch at versions 128.. and -1.. (the broker knows none of them).
      for (let i = 0; i < N; i++) {
        const idx = round * N + i;
        const v = idx % 2 === 0 ? 128 + (idx >> 1) : -1 - (idx >> 1);
        out.push(requestFrame(1, v, i + 1, Buffer.alloc(0), { flexible: v >= 12 }));
      }
      c.write(Buffer.concat(out));
      assert.equal(await c.tryNextFrame(20_000), undefined, 'no answer: the broker closes a connection that sends a version it does not know');
      assert.ok(c.closed);
      grown = counts.size - before;
    }
    // The series stay bounded (one "unsupported" series for Fetch); the cells do not: about 117 bytes each, up to
    // 65,536 versions x ~91 API keys (~0.7 GB), more than the chart's --max-old-space-size=384.
    const text = await proxy.app.metrics.registry.metrics();
    assert.ok(text.split('\n').filter((l) => l.startsWith('kafka_proxy_requests_total{api="Fetch"')).length <= 1, 'one Fetch series');
    assert.ok(grown <= 8, `counting cells left behind by 3 closed connections of made-up versions: ${grown}`);
  });

  test('SASL v0 raw tokens after the client socket switched to a reused buffer (100 ApiVersions v99 first): the login is followed, the pipelined request runs under the broker\'s principal or not at all', async () => {
    const sasl = await startAuditedApp(cluster);
    try {
      const ok = `atk4-${run}-sasl-ok`;
      const denied = `atk4-${run}-sasl-wrong-password`;
      for (const [password, topic] of [['admin-secret', ok], ['not-the-password', denied]] as const) {
        await sleep(300); // earlier connections' buffers released
        const baseline = reusedReadBuffers();
        const c = await RawConnection.open(sasl.port);
        // Before a login the broker takes one ApiVersions only; ApiVersions v99 the proxy answers itself, a read each.
        for (let i = 0; i < 100; i++) { c.write(apiVersions99(1000 + i)); await sleep(1); }
        for (let i = 0; i < 100; i++) assert.equal((await c.takeFrame()).readInt32BE(0), 1000 + i);
        assert.ok(reusedReadBuffers() > baseline, `the connection's sockets read into reused buffers (${reusedReadBuffers()} vs ${baseline})`);
        // Handshake v0, the raw PLAIN token and a CreateTopics behind it, in 7-byte writes.
        const bytes = Buffer.concat([handshakeFrame(0, 'PLAIN', 1), rawToken(plainToken('admin', password)), createTopics(topic, 2)]);
        for (let off = 0; off < bytes.length; off += 7) { c.write(bytes.subarray(off, off + 7)); await new Promise((r) => setImmediate(r)); }
        assert.equal(decodeResponse(17, 0, await c.takeFrame()).ErrorCode, 0);
        if (topic === ok) {
          assert.equal((await c.takeFrame()).length, 0, 'PLAIN success: an empty raw token');
          const r = decodeResponse(19, 4, await c.takeFrame());
          assert.equal((r.Topics as any[])[0].ErrorCode, 0);
        } else {
          const rest: Buffer[] = [];
          for (let f; (f = await c.tryNextFrame(10_000)) !== undefined;) rest.push(f);
          assert.ok(c.closed, 'the broker closed the connection after the failed login');
          assert.ok(rest.every((f) => f.length === 0 || f.readInt32BE(0) !== 2), 'no answer to the CreateTopics');
        }
        c.destroy();
      }
      await waitForTopics(cluster, [ok]);
      const check = await RawConnection.open(Number(cluster.plainBootstrap.split(',')[0].split(':')[1]));
      const md = await check.request(3, 1, { Topics: [{ Name: denied }] });
      check.destroy();
      assert.notEqual((md.Topics as any[])[0].ErrorCode, 0, 'the CreateTopics behind the failed login was never executed');
      const report = await sasl.stopAndRead();
      const events = report.eventsRead;
      const created = eventsFor(events, 'CreateTopics', ok);
      assert.equal(created.length, 1);
      assert.equal((created[0].data as any).authenticationInfo?.principal, 'User:admin');
      assert.equal(eventsFor(events, 'CreateTopics', denied).filter((e) => e.data.result?.status === 'SUCCESS').length, 0);
    } finally {
      await sasl.stop();
    }
  });

  /** The audit topic's events once `done` says they are all there (or after 30 s: the assertions then say what is missing). */
  async function proxyEvents(done: (events: AuditEvent[]) => boolean): Promise<AuditEvent[]> {
    const end = Date.now() + 30_000;
    for (;;) {
      await sleep(500);
      const r = await verifyTopic({ brokers: cluster.plainBootstrap.split(','), topic: proxy.auditTopic, timeoutMs: 30_000 });
      if (done(r.eventsRead) || Date.now() > end) return r.eventsRead;
    }
  }
});
