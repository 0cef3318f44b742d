/**
 * StreamWalk follows a message layout over bytes in chunks. Its one job is to stop exactly where the
 * buffer skipper (skipperTo) says the top-level fields end, however the bytes are split, and to reject
 * counts and lengths that run past the frame instead of looping or waiting.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DecodeError, encodeMessage, type Decoded } from '../../protocol/codec.js';
import { requestHeaderVersion, responseHeaderVersion } from '../../protocol/facts.js';
import { readRequestHeader, responseBodyOffset } from '../../protocol/header.js';
import { Fetch } from '../../protocol/messages/fetch.js';
import { Produce } from '../../protocol/messages/produce.js';
import { API_SCHEMAS } from '../../protocol/registry.js';
import { inRange, parseRange, type MessageSchema } from '../../protocol/schema.js';
import { layoutTo, skipperTo } from '../../protocol/skip.js';
import { StreamWalk } from '../../protocol/stream-walk.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'captured.json');
interface Captured { client: string; side: 'request' | 'response'; apiKey: number; apiVersion: number; hex: string }

/** A small seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

/** Splits `buf` into chunks: whole, byte by byte, or random sizes. */
function splits(buf: Buffer, rand: () => number): Buffer[][] {
  const out: Buffer[][] = [[buf], [...buf].map((_, i) => buf.subarray(i, i + 1))];
  for (let n = 0; n < 4; n++) {
    const chunks: Buffer[] = [];
    for (let p = 0; p < buf.length;) { const k = 1 + Math.floor(rand() * 64); chunks.push(buf.subarray(p, p + k)); p += k; }
    out.push(chunks);
  }
  return out;
}

/** Where the walk ends (bytes consumed) when fed `chunks`, or undefined if it never ends. */
function walkEnd(schema: MessageSchema, version: number, chunks: Buffer[], frameBytes: number): number | undefined {
  const walk = new StreamWalk(layoutTo(schema, version), frameBytes);
  let consumed = 0;
  for (const c of chunks) {
    if (walk.finished) break;
    consumed += walk.feed(c);
  }
  return walk.finished ? consumed : undefined;
}

function assertSameEnd(schema: MessageSchema, version: number, body: Buffer, rand: () => number, what: string): void {
  const expected = skipperTo(schema, version)(body, 0);
  for (const chunks of splits(body, rand)) {
    assert.equal(walkEnd(schema, version, chunks, body.length), expected, `${what}: ${chunks.length} chunks`);
  }
}

const uuid = (rand: () => number) => Buffer.from(Array.from({ length: 16 }, () => Math.floor(rand() * 256))).toString('base64url');
const bytes = (rand: () => number, max: number) => Buffer.from(Array.from({ length: Math.floor(rand() * max) }, () => Math.floor(rand() * 256)));

function fetchResponse(version: number, rand: () => number): Decoded {
  return {
    ThrottleTimeMs: 0, ErrorCode: 0, SessionId: 7,
    Responses: Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, t) => ({
      Topic: `topic-${t}`, TopicId: uuid(rand),
      Partitions: Array.from({ length: Math.floor(rand() * 4) }, (_, p) => ({
        PartitionIndex: p, ErrorCode: rand() < 0.3 ? 6 : 0, HighWatermark: 100n, LastStableOffset: 100n, LogStartOffset: 0n,
        ...(rand() < 0.5 ? { CurrentLeader: { LeaderId: 2, LeaderEpoch: 5 } } : {}),
        ...(rand() < 0.3 ? { DivergingEpoch: { Epoch: 1, EndOffset: 9n } } : {}),
        AbortedTransactions: rand() < 0.5 ? null : [{ ProducerId: 1n, FirstOffset: 2n }],
        PreferredReadReplica: -1,
        Records: rand() < 0.2 ? null : bytes(rand, 3000),
      })),
    })),
    ...(rand() < 0.5 ? { NodeEndpoints: [{ NodeId: 2, Host: 'broker-2', Port: 9092, Rack: null }] } : {}),
  };
}

function produceResponse(version: number, rand: () => number): Decoded {
  return {
    Responses: Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, t) => ({
      Name: `topic-${t}`, TopicId: uuid(rand),
      PartitionResponses: Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, p) => ({
        Index: p, ErrorCode: rand() < 0.3 ? 6 : 0, BaseOffset: 5n, LogAppendTimeMs: -1n, LogStartOffset: 0n,
        RecordErrors: [], ErrorMessage: rand() < 0.5 ? null : 'not the leader',
        ...(rand() < 0.5 ? { CurrentLeader: { LeaderId: 2, LeaderEpoch: 5 } } : {}),
      })),
    })),
    ThrottleTimeMs: 0,
    ...(rand() < 0.5 ? { NodeEndpoints: [{ NodeId: 2, Host: 'broker-2', Port: 9092, Rack: 'rack-a' }] } : {}),
  };
}

describe('StreamWalk', () => {
  test('ends where the buffer skipper does on every frame captured from real clients, however it is split', () => {
    const captured = JSON.parse(readFileSync(FIXTURES, 'utf8')) as Captured[];
    const rand = rng(1);
    let checked = 0;
    for (const c of captured) {
      const api = API_SCHEMAS.get(c.apiKey);
      if (!api) continue;
      const frame = Buffer.from(c.hex, 'hex');
      const schema = c.side === 'request' ? api.request : api.response;
      const body = c.side === 'request'
        ? frame.subarray(readRequestHeader(frame, requestHeaderVersion(c.apiKey, c.apiVersion) === 2 ? 2 : 1).bodyOffset)
        : frame.subarray(responseBodyOffset(frame, responseHeaderVersion(c.apiKey, c.apiVersion) ?? 0));
      assertSameEnd(schema, c.apiVersion, body, rand, `${c.client} ${c.side} ${api.name} v${c.apiVersion}`);
      checked++;
    }
    assert.ok(checked >= 60, `only ${checked} captured frames checked`);
  });

  for (const [api, build] of [[Fetch, fetchResponse], [Produce, produceResponse]] as const) {
    test(`ends where the buffer skipper does on generated ${api.name} responses of every version`, () => {
      const { min, max } = parseRange(api.response.validVersions)!;
      const rand = rng(api.apiKey + 11);
      for (let v = min; v <= max; v++) {
        for (let i = 0; i < 20; i++) {
          const body = encodeMessage(api.response, v, build(v, rand));
          assertSameEnd(api.response, v, body, rand, `${api.name} v${v} #${i}`);
        }
      }
    });
  }

  test('a Fetch response frame streams: only the top-level tagged section is left after the walk', () => {
    const rand = rng(5);
    const value = fetchResponse(16, rand);
    value.Responses[0].Partitions = [{ PartitionIndex: 0, ErrorCode: 0, HighWatermark: 1n, LastStableOffset: 1n, LogStartOffset: 0n,
      AbortedTransactions: null, PreferredReadReplica: -1, Records: Buffer.alloc(1_000_000, 7) }];
    value.NodeEndpoints = [{ NodeId: 2, Host: 'broker-2', Port: 9092, Rack: null }];
    const body = encodeMessage(Fetch.response, 16, value);
    const end = skipperTo(Fetch.response, 16)(body, 0);
    assert.ok(body.length - end < 40, `tagged section of ${body.length - end} bytes`);
    // Fed in 64 KiB chunks, the walk covers every chunk whole until the one holding the tagged section.
    const walk = new StreamWalk(layoutTo(Fetch.response, 16), body.length);
    let consumed = 0;
    for (let p = 0; p < body.length; p += 65536) {
      const chunk = body.subarray(p, p + 65536);
      const n = walk.feed(chunk);
      consumed += n;
      if (p + chunk.length <= end) assert.equal(n, chunk.length);
    }
    assert.ok(walk.finished);
    assert.equal(consumed, end);
  });

  test('rejects counts and lengths that run past the frame, without looping', () => {
    // Fetch v16 body: throttle, error, session, then a topic count of about 2^28 in 20 bytes.
    const huge = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0]);
    assert.throws(() => new StreamWalk(layoutTo(Fetch.response, 16), huge.length).feed(huge), DecodeError);
    // A records length beyond the frame.
    const value = fetchResponse(16, rng(9));
    value.Responses = [{ TopicId: uuid(rng(2)), Partitions: [{ PartitionIndex: 0, ErrorCode: 0, HighWatermark: 1n, LastStableOffset: 1n,
      LogStartOffset: 0n, AbortedTransactions: null, PreferredReadReplica: -1, Records: Buffer.alloc(500) }] }];
    const body = encodeMessage(Fetch.response, 16, value);
    assert.throws(() => new StreamWalk(layoutTo(Fetch.response, 16), body.length - 100).feed(body), DecodeError);
    // An int32 count (non-flexible v11) beyond the frame.
    const v11 = Buffer.alloc(20);
    v11.writeInt32BE(0x7fffffff, 10);
    assert.throws(() => new StreamWalk(layoutTo(Fetch.response, 11), v11.length).feed(v11), DecodeError);
    // A varint longer than 5 bytes.
    const longVarint = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0]);
    assert.throws(() => new StreamWalk(layoutTo(Fetch.response, 16), 1000).feed(longVarint), DecodeError);
  });

  test('a frame cut short leaves the walk unfinished', () => {
    const body = encodeMessage(Fetch.response, 17, fetchResponse(17, rng(3)));
    const end = skipperTo(Fetch.response, 17)(body, 0);
    const walk = new StreamWalk(layoutTo(Fetch.response, 17), body.length);
    assert.equal(walk.feed(body.subarray(0, end - 1)), end - 1);
    assert.equal(walk.finished, false);
  });
});
