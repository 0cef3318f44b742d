/**
 * src/audit/denials.ts on decoded answers, as Kafka 3.9/4.1 brokers write them when they deny a principal: which
 * resource each *_AUTHORIZATION_FAILED code names, taken from the response where it says, else from the request.
 * test/audit/denials.e2e.test.ts checks the same against a real broker's answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, type Decoded } from '../../protocol/codec.js';
import { API_SCHEMAS } from '../../protocol/registry.js';
import { parseRange } from '../../protocol/schema.js';
import { denialsWalked, extractDenials, mayCarryDenial } from '../../src/audit/denials.js';
import { randomMessage } from '../fuzz/lib/gen.js';
import { Prng } from '../fuzz/lib/prng.js';
import type { ExtractContext } from '../../src/audit/apis/shared.js';

const ctx: ExtractContext = {
  apiVersion: 0, correlationId: 1, clientId: 'c', timeMs: 0, clusterId: 'cluster-1',
  connection: { connectionId: 'x', clientAddress: '127.0.0.1:1', principal: 'User:alice', securityProtocol: 'SASL_PLAINTEXT' },
  topicName: (id) => (id === 'AAAAAAAAAAAAAAAAAAAAAQ' ? 'by-id' : undefined),
};

const summary = (apiKey: number, req: Decoded | undefined, res: Decoded) =>
  extractDenials(apiKey, req, res, ctx).map((o) => `${o.category} ${o.method} ${o.operation} ${o.resource.type}:${o.resource.name} ${o.result.errorName}`);

test('InitProducerId: a transactional id from the request, the cluster for the idempotent producer', () => {
  assert.deepEqual(summary(22, { TransactionalId: 'tx-1', TransactionTimeoutMs: 1 }, { ThrottleTimeMs: 0, ErrorCode: 53, ProducerId: -1n, ProducerEpoch: -1 }),
    ['produce InitProducerId Write TransactionalId:tx-1 TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);
  assert.deepEqual(summary(22, { TransactionalId: null, TransactionTimeoutMs: 1 }, { ThrottleTimeMs: 0, ErrorCode: 31, ProducerId: -1n, ProducerEpoch: -1 }),
    ['produce InitProducerId Write Cluster:cluster-1 CLUSTER_AUTHORIZATION_FAILED']);
});

test('AddPartitionsToTxn v3: partition codes under a topic name, the transactional id from the request, one operation', () => {
  const req = { V3AndBelowTransactionalId: 'tx-2', V3AndBelowProducerId: 1n, V3AndBelowProducerEpoch: 0, V3AndBelowTopics: [{ Name: 't', Partitions: [0, 1] }] };
  const res = { ThrottleTimeMs: 0, ResultsByTopicV3AndBelow: [{ Name: 't', ResultsByPartition: [{ PartitionIndex: 0, PartitionErrorCode: 53 }, { PartitionIndex: 1, PartitionErrorCode: 53 }] }] };
  assert.deepEqual(summary(24, req, res), ['produce AddPartitionsToTxn Write TransactionalId:tx-2 TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);
});

test('Metadata and ListOffsets: each denied topic once, by name or by id; allowed topics are not events', () => {
  const md = { Brokers: [], Topics: [
    { ErrorCode: 29, Name: 'secret', TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', Partitions: [] },
    { ErrorCode: 0, Name: 'open', Partitions: [{ ErrorCode: 0 }] },
  ] };
  assert.deepEqual(summary(3, { Topics: [{ Name: 'secret' }, { Name: 'open' }] }, md), ['describe Metadata Describe Topic:secret TOPIC_AUTHORIZATION_FAILED']);
  const lo = { Topics: [{ Name: 'a', Partitions: [{ ErrorCode: 29 }, { ErrorCode: 29 }] }, { Name: 'b', Partitions: [{ ErrorCode: 0 }] }] };
  assert.deepEqual(summary(2, undefined, lo), ['consume ListOffsets Describe Topic:a TOPIC_AUTHORIZATION_FAILED']);
  const byId = { Topics: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAQ', Partitions: [{ ErrorCode: 29 }] }] };
  assert.deepEqual(summary(23, undefined, byId), ['consume OffsetForLeaderEpoch Describe Topic:by-id TOPIC_AUTHORIZATION_FAILED']);
});

test('Group APIs: the group from the request when the answer has none; FindCoordinator keys by key type', () => {
  assert.deepEqual(summary(11, { GroupId: 'g1', ProtocolType: 'consumer' }, { ErrorCode: 30, MemberId: '', Members: [] }),
    ['consume JoinGroup Read Group:g1 GROUP_AUTHORIZATION_FAILED']);
  const oc = { Topics: [{ Name: 't', Partitions: [{ PartitionIndex: 0, ErrorCode: 30 }, { PartitionIndex: 1, ErrorCode: 30 }] }] };
  assert.deepEqual(summary(8, { GroupId: 'g2', Topics: [] }, oc), ['consume OffsetCommit Read Group:g2 GROUP_AUTHORIZATION_FAILED']);
  const fc = { Coordinators: [{ Key: 'g3', ErrorCode: 30, ErrorMessage: 'denied g3' }, { Key: 'g4', ErrorCode: 0 }] };
  assert.deepEqual(extractDenials(10, { KeyType: 0, CoordinatorKeys: ['g3', 'g4'] }, fc, ctx).map((o) => [o.resource.name, o.result.message]), [['g3', 'denied g3']]);
  assert.deepEqual(summary(10, { KeyType: 1, CoordinatorKeys: ['tx'] }, { Coordinators: [{ Key: 'tx', ErrorCode: 53 }] }),
    ['describe FindCoordinator Describe TransactionalId:tx TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);
});

test('DescribeClientQuotas: the cluster; other errors and success are not denials', () => {
  assert.deepEqual(summary(48, { Components: [], Strict: false }, { ThrottleTimeMs: 0, ErrorCode: 31, ErrorMessage: null, Entries: null }),
    ['describe DescribeClientQuotas DescribeConfigs Cluster:cluster-1 CLUSTER_AUTHORIZATION_FAILED']);
  assert.deepEqual(summary(48, { Components: [], Strict: false }, { ThrottleTimeMs: 0, ErrorCode: 0, ErrorMessage: null, Entries: [] }), []);
  assert.deepEqual(summary(22, { TransactionalId: 'tx' }, { ErrorCode: 51 }), [], 'CONCURRENT_TRANSACTIONS is no denial');
});

test('walked: every API but the data path and those whose descriptors record each resource themselves', () => {
  const all = () => true;
  assert.equal(denialsWalked(0, all), false, 'Produce');
  assert.equal(denialsWalked(1, () => false), false, 'Fetch, even when its descriptor is off');
  assert.equal(denialsWalked(78, all), false, 'ShareFetch');
  assert.equal(denialsWalked(19, all), false, 'CreateTopics has its descriptor');
  assert.equal(denialsWalked(3, all), true, 'Metadata: its descriptor covers auto-creation only');
  assert.equal(denialsWalked(8, all), false, 'OffsetCommit, when the consume category has its descriptor decode it');
  assert.equal(denialsWalked(8, (k) => k !== 8), true, 'OffsetCommit, consume category off');
  assert.equal(denialsWalked(28, all), false, 'TxnOffsetCommit, when the consume category has its descriptor decode it');
  assert.equal(denialsWalked(28, (k) => k !== 28), true, 'TxnOffsetCommit, consume category off');
  for (const k of [2, 9, 10, 11, 22, 24, 25, 26, 48, 79]) assert.equal(denialsWalked(k, all), true, `API ${k}`);
});

/** Sets every *ErrorCode field of a decoded message, at any depth, to a code drawn from `codes`. */
function setErrorCodes(v: unknown, rng: Prng, codes: number[]): void {
  if (Array.isArray(v)) { for (const e of v) setErrorCodes(e, rng, codes); return; }
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k.endsWith('ErrorCode') && typeof x === 'number') (v as Record<string, unknown>)[k] = codes[rng.int(codes.length)];
    else setErrorCodes(x, rng, codes);
  }
}

test('mayCarryDenial: every answer with a denial is scanned as one (each walked API and version, random answers)', () => {
  // The proxy decodes and walks a walked API's answer only when mayCarryDenial says it may hold a denial: a false
  // negative would lose the denial's event. Random answers, every *ErrorCode set to a denial, another code or 0.
  const rng = new Prng(0x5eed);
  const codes = [0, 0, 0, 3, 25, 29, 30, 31, 53, 65, 87];
  let denied = 0;
  let skipped = 0;
  for (const [apiKey, schema] of API_SCHEMAS) {
    if (!denialsWalked(apiKey, () => false)) continue;
    const range = parseRange(schema.response.validVersions);
    if (!range) continue;
    for (let version = range.min; version <= range.max; version++) {
      for (let n = 0; n < 12; n++) {
        const body = randomMessage(rng, schema.response, version);
        setErrorCodes(body, rng, codes);
        let bytes: Buffer;
        try { bytes = encodeMessage(schema.response, version, body); } catch { continue; } // a value the encoder refuses
        const frame = Buffer.concat([Buffer.from([0, 0, 0, 7, 0]), bytes]); // correlation id and an empty header tag section
        const found = extractDenials(apiKey, undefined, decodeMessage(schema.response, version, bytes), ctx);
        if (found.length > 0) {
          denied++;
          assert.ok(mayCarryDenial(frame), `${schema.name} v${version}: ${found.map((o) => o.result.errorName).join(', ')} in an answer the scan passed over`);
        } else if (!mayCarryDenial(frame)) skipped++;
      }
    }
  }
  assert.ok(denied > 300, `${denied} answers with denials checked`);
  assert.ok(skipped > 300, `${skipped} answers without one skipped: the scan saves work`);
});

test('mayCarryDenial: the bytes of a denial code anywhere after the correlation id; none, no scan', () => {
  for (const code of [29, 30, 31, 53, 65]) {
    assert.equal(mayCarryDenial(Buffer.from([0, 0, 0, 1, 0, 0, 0, code])), true, `code ${code} at the end`);
    assert.equal(mayCarryDenial(Buffer.from([0, 0, 0, 1, 0, code, 9, 9])), true, `code ${code} first`);
  }
  assert.equal(mayCarryDenial(Buffer.from([0, 29, 0, 30, 0, 0, 0, 0, 0, 25, 1, 29])), false, 'in the correlation id, after a non-zero byte, or another code');
  assert.equal(mayCarryDenial(Buffer.from([0, 0, 0, 1, 0])), false);
});
