/**
 * The connection on its own, with in-memory sockets for the client and the broker and a context that records what
 * the audit is told: the exact bytes each side receives, in which order and when. Next to the broker tests, these
 * pin down the pipeline's rules without a Kafka: the exchange queue's pairing, holds (write-ahead, SASL), refusals
 * in request order, acks=0 with its acks far in, and closing on a response that answers nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { decodeMessage, encodeMessage, type Decoded } from '../../protocol/codec.js';
import { apiSchema } from '../../protocol/registry.js';
import { DEFAULTS, type ProxyConfig } from '../../src/config.js';
import { ProxyMetrics } from '../../src/metrics.js';
import type { AuditOperation } from '../../src/audit/operation.js';
import { BrokerMap } from '../../src/proxy/broker-map.js';
import { ProxyConnection } from '../../src/proxy/connection.js';
import type { ProxyContext } from '../../src/proxy/context.js';
import { TopicIdMap } from '../../src/proxy/topic-ids.js';
import { kafkaRequest, requestHeader, sizePrefixed } from '../harness/raw.js';
import { metricValue } from '../harness/proxy.js';
import { MemorySocket, socketPair } from '../harness/memory-socket.js';


interface Harness {
  conn: ProxyConnection;
  /** The client's end: write requests to it, read what the proxy sent back in `.received`. */
  client: MemorySocket;
  /** The broker's end: `.received` is what the proxy forwarded; write responses to it. */
  broker: MemorySocket;
  outcomes: Array<{ intent: string | undefined; ops: AuditOperation[] }>;
  audited: AuditOperation[];
  metrics: ProxyMetrics;
  closed: Promise<void>;
}

async function harness(opts: {
  config?: (c: ProxyConfig) => void; writeAhead?: boolean; denials?: boolean; intend?: (ops: AuditOperation[]) => Promise<string>; admission?: () => string | undefined;
  /** Receives every log line (JSON) the connection writes at warn level and above. */
  logLines?: string[];
  /** Which API keys the audit rules want (default: all but Produce and Fetch). */
  audited?: (apiKey: number) => boolean;
} = {}): Promise<Harness> {
  const config = structuredClone(DEFAULTS);
  opts.config?.(config);
  const metrics = new ProxyMetrics({ collectDefault: false });
  const [clientEnd, proxyClientSide] = socketPair();
  const [proxyBrokerSide, brokerEnd] = socketPair();
  const outcomes: Harness['outcomes'] = [];
  const audited: AuditOperation[] = [];
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => { closedResolve = r; });
  const ctx: ProxyContext = {
    config, log: opts.logLines ? pino({ level: 'warn' }, { write: (l: string) => { opts.logLines!.push(l); } }) : pino({ level: 'silent' }), metrics,
    brokers: new BrokerMap('127.0.0.1', 9200, { openBrokerListener: () => undefined }),
    topicIds: new TopicIdMap(), tokenOwners: new Map(), clientSecurityProtocol: config.listen.securityProtocol,
    clusterId: () => 'test-cluster', listenersReady: () => undefined, setClusterId: () => undefined,
    connectUpstream: async () => proxyBrokerSide as unknown as Socket,
    audit: (op) => { audited.push(op); },
    auditEnabled: opts.audited ?? ((apiKey) => apiKey !== 0 && apiKey !== 1),
    auditDenials: () => opts.denials ?? false,
    writeAheadFor: () => opts.writeAhead ?? false,
    intend: opts.intend ?? (async () => 'intent-1'),
    auditOutcome: (intent, ops) => { outcomes.push({ intent, ops }); },
    abandonIntent: () => undefined,
    auditAdmission: () => opts.admission?.(),
    reportUndecodableOnce: () => true,
    onConnectionClosed: () => closedResolve(),
  };
  const conn = new ProxyConnection(ctx, proxyClientSide as unknown as Socket, { kind: 'bootstrap' }, 'bootstrap');
  await conn.start();
  return { conn, client: clientEnd, broker: brokerEnd, outcomes, audited, metrics, closed };
}

const tick = () => new Promise((r) => setImmediate(r));

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) { if (cond()) return; await new Promise((r) => setTimeout(r, 5)); }
  throw new Error(`timed out waiting for ${what}`);
}

function createTopics(name: string, correlationId: number): Buffer {
  return kafkaRequest(19, 4, correlationId, {
    Topics: [{ Name: name, NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] }], timeoutMs: 1000, validateOnly: false,
  });
}

/** A response frame: correlation id, then the body encoded with the schema (non-flexible versions only here). */
function response(apiKey: number, version: number, correlationId: number, body: Decoded): Buffer {
  const id = Buffer.alloc(4);
  id.writeInt32BE(correlationId);
  return sizePrefixed(id, encodeMessage(apiSchema(apiKey)!.response, version, body));
}

const createTopicsOk = (name: string, correlationId: number) =>
  response(19, 4, correlationId, { ThrottleTimeMs: 0, Topics: [{ Name: name, ErrorCode: 0, ErrorMessage: null }] });

/** The size-prefixed frames in a byte string. */
function frames(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off + 4 <= bytes.length;) {
    const n = bytes.readInt32BE(off);
    out.push(bytes.subarray(off, off + 4 + n));
    off += 4 + n;
  }
  return out;
}

const correlationIds = (bytes: Buffer, requests: boolean) => frames(bytes).map((f) => f.readInt32BE(requests ? 8 : 4));

test('an audited request is forwarded as it came, its response comes back as it went, and its outcome is recorded', async () => {
  const h = await harness();
  const req = createTopics('t1', 7);
  h.client.write(req);
  await until(() => h.broker.bytes.length === req.length, 'the request at the broker');
  assert.deepEqual(h.broker.bytes, req);
  const res = createTopicsOk('t1', 7);
  h.broker.write(res);
  await until(() => h.client.bytes.length === res.length, 'the response at the client');
  assert.deepEqual(h.client.bytes, res);
  assert.equal(h.outcomes.length, 1);
  assert.deepEqual(h.outcomes[0].ops.map((o) => [o.method, o.resource.name, o.result.errorCode]), [['CreateTopics', 't1', 0]]);
  h.conn.close('test over');
});

test('write-ahead: nothing reaches the broker, not even later requests, until the operations are durable', async () => {
  let durable!: (id: string) => void;
  const h = await harness({ writeAhead: true, intend: () => new Promise<string>((r) => { durable = r; }) });
  h.client.write(Buffer.concat([createTopics('t2', 1), kafkaRequest(18, 0, 2, {})]));
  await until(() => durable !== undefined, 'the write-ahead');
  for (let i = 0; i < 5; i++) await tick();
  assert.equal(h.broker.bytes.length, 0, 'held while the journal writes');
  durable('intent-42');
  await until(() => correlationIds(h.broker.bytes, true).length === 2, 'both requests at the broker');
  assert.deepEqual(correlationIds(h.broker.bytes, true), [1, 2], 'in order');
  h.broker.write(createTopicsOk('t2', 1));
  await until(() => h.outcomes.length === 1, 'the outcome');
  assert.equal(h.outcomes[0].intent, 'intent-42', 'the outcome strikes off its own write-ahead record');
  h.conn.close('test over');
});

test('a refusal is answered in request order, and the refused request never reaches the broker', async () => {
  const h = await harness({ config: (c) => { c.audit.failMode = 'closed'; }, admission: () => 'no room' });
  h.client.write(Buffer.concat([kafkaRequest(18, 0, 1, {}), createTopics('t3', 2), kafkaRequest(18, 0, 3, {})]));
  await until(() => correlationIds(h.broker.bytes, true).length === 2, 'the two ApiVersions at the broker');
  assert.deepEqual(correlationIds(h.broker.bytes, true), [1, 3]);
  await tick();
  assert.equal(h.client.bytes.length, 0, 'the refusal waits for the answer to request 1');
  const apiVersions = (id: number) => response(18, 0, id, { ErrorCode: 0, ApiKeys: [] });
  h.broker.write(apiVersions(1));
  await until(() => correlationIds(h.client.bytes, false).length === 2, 'answers 1 and 2');
  h.broker.write(apiVersions(3));
  await until(() => correlationIds(h.client.bytes, false).length === 3, 'answer 3');
  assert.deepEqual(correlationIds(h.client.bytes, false), [1, 2, 3]);
  assert.equal(await metricValue(h.metrics, 'kafka_audit_operations_refused_total', { api: 'CreateTopics' }), 1);
  h.conn.close('test over');
});

test('fail-closed with no room for its events: an audited request without a refusal response (OffsetCommit) closes the connection, unsent', async () => {
  const h = await harness({ config: (c) => { c.audit.failMode = 'closed'; }, admission: () => 'no room' });
  const commit = kafkaRequest(8, 8, 1, {
    GroupId: 'g', GenerationIdOrMemberEpoch: -1, MemberId: '', GroupInstanceId: null,
    Topics: [{ Name: 'orders', Partitions: [{ PartitionIndex: 0, CommittedOffset: 5n, CommittedLeaderEpoch: -1, CommittedMetadata: null }] }],
  });
  h.client.write(commit);
  await h.closed;
  assert.equal(h.broker.bytes.length, 0, 'nothing reached the broker');
  assert.equal(await metricValue(h.metrics, 'kafka_proxy_connection_errors_total', { reason: 'audit_not_durable' }), 1);
});

test('denials: an answer without a denial code is passed on undecoded; one with a denial is decoded and audited', async () => {
  const h = await harness({ denials: true });
  const heartbeat = (id: number) => kafkaRequest(12, 3, id, { GroupId: 'orders', GenerationId: 4, MemberId: 'm-1', GroupInstanceId: null });
  h.client.write(Buffer.concat([heartbeat(1), heartbeat(2)]));
  await until(() => correlationIds(h.broker.bytes, true).length === 2, 'both heartbeats at the broker');
  const ok = response(12, 3, 1, { ThrottleTimeMs: 0, ErrorCode: 27 }); // REBALANCE_IN_PROGRESS: not a denial
  const denied = response(12, 3, 2, { ThrottleTimeMs: 0, ErrorCode: 30 }); // GROUP_AUTHORIZATION_FAILED
  h.broker.write(Buffer.concat([ok, denied]));
  await until(() => correlationIds(h.client.bytes, false).length === 2, 'both answers at the client');
  assert.deepEqual(h.client.bytes, Buffer.concat([ok, denied]), 'both answers passed on as they came');
  assert.deepEqual(h.audited.map((o) => `${o.method} ${o.resource.type}:${o.resource.name} ${o.result.errorName}`),
    ['Heartbeat Group:orders GROUP_AUTHORIZATION_FAILED']);
  // Decoded only for the denials' scan: not counted by error code (only the denied one was decoded).
  assert.equal(await metricValue(h.metrics, 'kafka_proxy_responses_total', { api: 'Heartbeat', error_code: '30' }), 0);
  h.conn.close('test over');
});

test('made-up versions of an unaudited API: forwarded and counted in bounded series, logged for at most 64 of them', async () => {
  const logLines: string[] = [];
  const h = await harness({ logLines });
  // Fetch (not audited here) at 200 versions the schema does not know: each is forwarded, as the broker decides.
  h.client.write(Buffer.concat(Array.from({ length: 200 }, (_, i) => sizePrefixed(requestHeader(1, 100 + i, i + 1, { flexible: true }), Buffer.from([0])))));
  await until(() => correlationIds(h.broker.bytes, true).length === 200, 'all 200 at the broker');
  assert.equal(await metricValue(h.metrics, 'kafka_proxy_undecodable_frames_total', { api: 'Fetch', version: 'unsupported', reason: 'request' }), 200);
  assert.equal(await metricValue(h.metrics, 'kafka_proxy_requests_total', { api: 'Fetch', version: 'unsupported' }), 200);
  const warned = logLines.filter((l) => l.includes('frame forwarded without decoding')).length;
  assert.equal(warned, 64, `${warned} warnings for 200 made-up versions`);
  h.conn.close('test over');
});

for (const failMode of ['open', 'closed'] as const) {
  test(`an audited Produce too large to decode, fail-${failMode}: ${failMode === 'open' ? 'relayed unaudited and counted' : 'the connection closes, nothing relayed'}`, async () => {
    const h = await harness({ audited: () => true, config: (c) => { c.audit.failMode = failMode; c.limits.maxAuditedRequestBytes = 4096; } });
    const body = encodeMessage(apiSchema(0)!.request, 9, {
      TransactionalId: null, Acks: 1, TimeoutMs: 1000, TopicData: [{ Name: 'orders', PartitionData: [{ Index: 0, Records: Buffer.alloc(8192, 1) }] }],
    });
    const produce = sizePrefixed(requestHeader(0, 9, 1, { flexible: true }), body);
    h.client.write(produce);
    if (failMode === 'open') {
      await until(() => h.broker.bytes.length === produce.length, 'the Produce at the broker');
      assert.equal(await metricValue(h.metrics, 'kafka_audit_events_dropped_total', { reason: 'too_large_to_audit' }), 1);
      h.conn.close('test over');
    } else {
      await h.closed;
      assert.equal(h.broker.bytes.length, 0, 'nothing reached the broker');
      assert.equal(await metricValue(h.metrics, 'kafka_proxy_connection_errors_total', { reason: 'too_large_to_audit' }), 1);
    }
  });
}

test('a response that does not answer the oldest request closes the connection; the request in flight is audited unanswered', async () => {
  const h = await harness();
  h.client.write(createTopics('t4', 5));
  await until(() => h.broker.bytes.length > 0, 'the request at the broker');
  h.broker.write(createTopicsOk('t4', 6));
  await h.closed;
  assert.equal(await metricValue(h.metrics, 'kafka_proxy_connection_errors_total', { reason: 'unmatched_response' }), 1);
  assert.equal(h.client.bytes.length, 0, 'the stray response is not passed on');
  assert.equal(h.outcomes.length, 1);
  assert.match(h.outcomes[0].ops[0].result.message ?? '', /^no response/);
});

test('acks=0 Produce whose acks lies beyond a 3,000-byte client id: not queued, so the next response pairs with its request', async () => {
  const h = await harness();
  const body = encodeMessage(apiSchema(0)!.request, 8, { TransactionalId: null, Acks: 0, TimeoutMs: 1000, TopicData: [] });
  const clientId = Buffer.from('x'.repeat(3000));
  const head = Buffer.alloc(10);
  head.writeInt16BE(0, 0); head.writeInt16BE(8, 2); head.writeInt32BE(1, 4); head.writeInt16BE(clientId.length, 8);
  h.client.write(Buffer.concat([sizePrefixed(head, clientId, body), createTopics('t5', 2)]));
  await until(() => correlationIds(h.broker.bytes, true).length === 2, 'both requests at the broker');
  h.broker.write(createTopicsOk('t5', 2));
  await until(() => h.client.bytes.length > 0, 'the CreateTopics answer');
  assert.deepEqual(correlationIds(h.client.bytes, false), [2]);
  assert.equal(h.outcomes.length, 1);
  assert.equal(h.outcomes[0].ops[0].result.errorCode, 0);
  h.conn.close('test over');
});

test('SASL: a request pipelined behind SaslHandshake and SaslAuthenticate waits for each answer, and names the user', async () => {
  const h = await harness({ config: (c) => { c.listen.securityProtocol = 'SASL_PLAINTEXT'; } });
  const handshake = kafkaRequest(17, 1, 1, { Mechanism: 'PLAIN' });
  const authenticate = kafkaRequest(36, 1, 2, { AuthBytes: Buffer.from('\u0000alice\u0000alice-secret') });
  h.client.write(Buffer.concat([handshake, authenticate, createTopics('t6', 3)]));
  await until(() => h.broker.bytes.length > 0, 'the handshake at the broker');
  for (let i = 0; i < 5; i++) await tick();
  assert.deepEqual(correlationIds(h.broker.bytes, true), [1], 'only the handshake until the broker answered it');
  h.broker.write(response(17, 1, 1, { ErrorCode: 0, Mechanisms: ['PLAIN'] }));
  await until(() => correlationIds(h.broker.bytes, true).length === 2, 'the SaslAuthenticate');
  for (let i = 0; i < 5; i++) await tick();
  assert.deepEqual(correlationIds(h.broker.bytes, true), [1, 2], 'the CreateTopics waits for the login outcome');
  h.broker.write(response(36, 1, 2, { ErrorCode: 0, ErrorMessage: null, AuthBytes: Buffer.alloc(0), SessionLifetimeMs: 0n }));
  await until(() => correlationIds(h.broker.bytes, true).length === 3, 'the CreateTopics');
  h.broker.write(createTopicsOk('t6', 3));
  await until(() => h.outcomes.length === 1, 'the outcome');
  assert.equal(h.outcomes[0].ops[0].connection?.principal, 'User:alice');
  assert.equal(h.audited.filter((o) => o.method === 'Authentication')[0]?.connection?.principal, 'User:alice');
  assert.ok(!JSON.stringify([h.outcomes, h.audited]).includes('alice-secret'));
  h.conn.close('test over');
});

test('SASL listener: a request before the login closes the connection without reaching the broker', async () => {
  const h = await harness({ config: (c) => { c.listen.securityProtocol = 'SASL_PLAINTEXT'; } });
  h.client.write(createTopics('t7', 1));
  await h.closed;
  assert.equal(h.broker.bytes.length, 0);
  assert.equal(await metricValue(h.metrics, 'kafka_proxy_connection_errors_total', { reason: 'unauthenticated_request' }), 1);
});

test('ShareFetch: the brokers its response names (NodeEndpoints) are rewritten to the proxy\'s listeners', async () => {
  const h = await harness();
  const request = kafkaRequest(78, 1, 4, {
    GroupId: 'g', MemberId: 'm', ShareSessionEpoch: 0, MaxWaitMs: 0, MinBytes: 0, MaxBytes: 0, MaxRecords: 0, BatchSize: 0, Topics: [], ForgottenTopicsData: [],
  });
  h.client.write(request);
  await until(() => h.broker.bytes.length === request.length, 'the ShareFetch at the broker');
  // Response header v1 (flexible): correlation id, then an empty tagged section.
  const head = Buffer.from([0, 0, 0, 4, 0]);
  const body = encodeMessage(apiSchema(78)!.response, 1, {
    ThrottleTimeMs: 0, ErrorCode: 0, ErrorMessage: null, AcquisitionLockTimeoutMs: 0, Responses: [],
    NodeEndpoints: [{ NodeId: 2, Host: 'broker-2.internal', Port: 9092, Rack: null }],
  });
  h.broker.write(sizePrefixed(head, body));
  await until(() => h.client.bytes.length > 0, 'the ShareFetch answer');
  const answer = decodeMessage(apiSchema(78)!.response, 1, h.client.bytes.subarray(9));
  assert.deepEqual(answer.NodeEndpoints.map((e: Decoded) => [e.NodeId, e.Host, e.Port]), [[2, '127.0.0.1', 9202]]);
  h.conn.close('test over');
});

test('trailing bytes after a complete body (librdkafka\'s doubled tag byte): audited as decoded, forwarded whole, counted', async () => {
  const h = await harness();
  // AlterUserScramCredentials v0 (flexible): librdkafka writes the body's final tagged-fields byte twice.
  const exact = kafkaRequest(51, 0, 3, { Deletions: [{ Name: 'alice', Mechanism: 1 }], Upsertions: [] });
  const req = sizePrefixed(exact.subarray(4), Buffer.from([0]));
  h.client.write(req);
  await until(() => h.broker.bytes.length === req.length, 'the request at the broker');
  assert.deepEqual(h.broker.bytes, req, 'forwarded byte for byte, the extra byte included');
  h.broker.write(sizePrefixed(Buffer.from([0, 0, 0, 3, 0]), encodeMessage(apiSchema(51)!.response, 0, {
    ThrottleTimeMs: 0, Results: [{ User: 'alice', ErrorCode: 0, ErrorMessage: null }],
  })));
  await until(() => h.outcomes.length === 1, 'the outcome');
  assert.deepEqual(h.outcomes[0].ops.map((o) => [o.method, o.resource.name, o.result.errorCode]), [['AlterUserScramCredentials', 'alice', 0]]);
  assert.equal(await metricValue(h.metrics, 'kafka_proxy_request_trailing_bytes_total', { api: 'AlterUserScramCredentials', version: '0' }), 1);
  h.conn.close('test over');
});

test('ApiVersions above the known versions is answered by the proxy with UNSUPPORTED_VERSION and its own range, not forwarded', async () => {
  const h = await harness();
  const max = Number(apiSchema(18)!.request.validVersions.split('-')[1]);
  // A v(max+1) request: header v2 (ApiVersions is flexible from v3), a body the proxy cannot know.
  const id = Buffer.alloc(10);
  id.writeInt16BE(18, 0); id.writeInt16BE(max + 1, 2); id.writeInt32BE(77, 4); id.writeInt16BE(-1, 8);
  h.client.write(sizePrefixed(id, Buffer.from([0, 2, 0x61, 2, 0x31, 0, 0])));
  await until(() => h.client.bytes.length > 0, 'the answer');
  assert.equal(h.broker.bytes.length, 0, 'nothing reached the broker');
  const [frame] = frames(h.client.bytes);
  assert.equal(frame.readInt32BE(4), 77, 'correlation id');
  const body = decodeMessage(apiSchema(18)!.response, 0, frame.subarray(8));
  assert.equal(body.ErrorCode, 35, 'UNSUPPORTED_VERSION');
  assert.deepEqual(body.ApiKeys.map((k: Decoded) => [k.ApiKey, k.MinVersion, k.MaxVersion]), [[18, 0, max]]);
  // The client retries at a known version: that one goes to the broker.
  const retry = kafkaRequest(18, max, 78, { ClientSoftwareName: 'a', ClientSoftwareVersion: '1' });
  h.client.write(retry);
  await until(() => h.broker.bytes.length === retry.length, 'the retry at the broker');
  h.conn.close('test over');
});

test('SASL: a client that leaves right after its SaslAuthenticate still gets the broker\'s verdict audited; with none, "closed by the client"', async () => {
  for (const brokerAnswers of [true, false]) {
    const h = await harness({ config: (c) => { c.listen.securityProtocol = 'SASL_PLAINTEXT'; } });
    h.client.write(kafkaRequest(17, 1, 1, { Mechanism: 'PLAIN' }));
    await until(() => h.broker.bytes.length > 0, 'the handshake at the broker');
    h.broker.write(response(17, 1, 1, { ErrorCode: 0, Mechanisms: ['PLAIN'] }));
    h.client.write(kafkaRequest(36, 1, 2, { AuthBytes: Buffer.from('\u0000bob\u0000a-guess') }));
    await until(() => correlationIds(h.broker.bytes, true).length === 2, 'the SaslAuthenticate at the broker');
    h.client.peer.destroy(); // the client's socket closes before the broker answered
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(h.audited.filter((o) => o.method === 'Authentication').length, 0, 'no verdict recorded before the broker gave one');
    if (brokerAnswers) {
      h.broker.write(response(36, 1, 2, { ErrorCode: 58, ErrorMessage: 'Authentication failed: Invalid username or password', AuthBytes: Buffer.alloc(0), SessionLifetimeMs: 0n }));
    }
    const alive = setInterval(() => undefined, 100); // the proxy's wait is an unref'd timer; keep this test's loop alive
    await h.closed;
    clearInterval(alive);
    const logins = h.audited.filter((o) => o.method === 'Authentication');
    assert.equal(logins.length, 1);
    assert.equal(logins[0].connection?.principal, 'User:bob');
    assert.deepEqual([logins[0].clientId, logins[0].correlationId], ['raw-test', 2], 'the login names its SaslAuthenticate request');
    if (brokerAnswers) {
      assert.deepEqual([logins[0].result.errorCode, logins[0].result.errorName], [58, 'SASL_AUTHENTICATION_FAILED']);
    } else {
      assert.equal(logins[0].result.errorCode, undefined);
      assert.match(logins[0].result.message ?? '', /closed by the client during SASL authentication/);
    }
  }
});
