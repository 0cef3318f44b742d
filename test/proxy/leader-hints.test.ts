/**
 * Leader hints (NodeEndpoints) in streamed Produce/Fetch responses are rewritten in place: the output frame
 * keeps its length (its size prefix went out first), decodes with Kafka's layout, names only proxy
 * addresses, and carries every other field unchanged. Frames are built from the schemas; BrokerMap is
 * the proxy's own, with a listener factory that records what it was asked to open.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, UNKNOWN_TAGS, type Decoded } from '../../protocol/codec.js';
import { readUvarint } from '../../protocol/header.js';
import { Fetch } from '../../protocol/messages/fetch.js';
import { Produce } from '../../protocol/messages/produce.js';
import type { ApiSchema } from '../../protocol/schema.js';
import { BrokerMap } from '../../src/proxy/broker-map.js';
import { LeaderHintScan, padSection } from '../../src/proxy/leader-hints.js';

function brokers(host: string): { map: BrokerMap; opened: number[] } {
  const opened: number[] = [];
  return { map: new BrokerMap(host, 30000, { openBrokerListener: (id) => { opened.push(id); } }), opened };
}

/** A response frame, size prefix included: correlation id 42, header v1 (empty tagged section), body. */
function frameOf(api: ApiSchema, version: number, value: Decoded): Buffer {
  const body = encodeMessage(api.response, version, value);
  const out = Buffer.alloc(4 + 4 + 1 + body.length);
  out.writeInt32BE(out.length - 4, 0);
  out.writeInt32BE(42, 4);
  body.copy(out, 9);
  return out;
}

/** Runs a frame through a LeaderHintScan in chunks of `chunk` bytes; returns what the client would get. */
function stream(api: ApiSchema, version: number, frame: Buffer, map: BrokerMap, chunk: number) {
  const errors: Error[] = [];
  const scan = new LeaderHintScan(api.response, version, frame.length - 4, map, (e) => errors.push(e));
  const out: Buffer[] = [];
  for (let p = 0; p < frame.length; p += chunk) out.push(scan.push(frame.subarray(p, p + chunk)));
  const end = scan.finish();
  out.push(end.bytes);
  return { bytes: Buffer.concat(out), outcome: end.outcome, errors, writes: out.filter((b) => b.length > 0).length };
}

const records = Buffer.alloc(200_000, 0x5a);

function fetchWithHints(host: string): Decoded {
  return {
    ThrottleTimeMs: 0, ErrorCode: 0, SessionId: 0,
    Responses: [{ TopicId: 'AAAAAAAAAAAAAAAAAAAAAQ', Partitions: [
      { PartitionIndex: 0, ErrorCode: 0, HighWatermark: 10n, LastStableOffset: 10n, LogStartOffset: 0n, AbortedTransactions: null, PreferredReadReplica: -1, Records: records },
      { PartitionIndex: 1, ErrorCode: 6, HighWatermark: -1n, LastStableOffset: -1n, LogStartOffset: -1n, CurrentLeader: { LeaderId: 2, LeaderEpoch: 3 }, AbortedTransactions: null, PreferredReadReplica: -1, Records: null },
    ] }],
    NodeEndpoints: [{ NodeId: 2, Host: host, Port: 9094, Rack: 'rack-b' }],
  };
}

function produceWithHints(host: string): Decoded {
  return {
    Responses: [{ Name: 'orders', PartitionResponses: [
      { Index: 0, ErrorCode: 6, BaseOffset: -1n, LogAppendTimeMs: -1n, LogStartOffset: -1n, RecordErrors: [], ErrorMessage: null, CurrentLeader: { LeaderId: 2, LeaderEpoch: 3 } },
    ] }],
    ThrottleTimeMs: 0,
    NodeEndpoints: [{ NodeId: 2, Host: host, Port: 9094, Rack: null }],
  };
}

const decodeFrame = (api: ApiSchema, version: number, frame: Buffer) => decodeMessage(api.response, version, frame.subarray(9));
const withoutHints = (d: Decoded) => { const { NodeEndpoints: _n, [UNKNOWN_TAGS]: _u, ...rest } = d; return rest; };

describe('leader hints in streamed responses', () => {
  const cases = [[Fetch, 16, fetchWithHints], [Fetch, 17, fetchWithHints], [Produce, 10, produceWithHints], [Produce, 11, produceWithHints]] as const;
  for (const [api, version, build] of cases) {
    test(`${api.name} v${version}: hints rewritten to the proxy at the original length, the rest unchanged`, () => {
      for (const [brokerHost, proxyHost] of [['broker-2.kafka.internal', 'proxy.local'], ['127.0.0.1', 'localhost'], ['broker-2.kafka.internal', 'p']]) {
        const original = frameOf(api, version, build(brokerHost));
        for (const chunk of [1, 7, 1000, 65536, original.length]) {
          const { map, opened } = brokers(proxyHost);
          const r = stream(api, version, original, map, chunk);
          assert.deepEqual(r.errors, []);
          assert.equal(r.outcome, 'rewritten');
          assert.equal(r.bytes.length, original.length, 'frame length kept');
          assert.equal(r.bytes.readInt32BE(0), original.readInt32BE(0));
          const before = decodeFrame(api, version, original);
          const after = decodeFrame(api, version, r.bytes);
          assert.deepEqual(after.NodeEndpoints, [{ NodeId: 2, Host: proxyHost, Port: 30002, Rack: before.NodeEndpoints[0].Rack }]);
          assert.deepEqual(withoutHints(after), withoutHints(before));
          assert.deepEqual(opened, [2], 'the listener for the hinted broker is opened');
          assert.deepEqual(map.upstreamOf(2), { host: brokerHost, port: 9094 });
        }
      }
    });

    test(`${api.name} v${version}: hints removed when the proxy address does not fit, the rest unchanged`, () => {
      const original = frameOf(api, version, build('b2'));
      const { map } = brokers('kafka-audit-proxy.example.com');
      const r = stream(api, version, original, map, 4096);
      assert.equal(r.outcome, 'dropped');
      assert.equal(r.bytes.length, original.length);
      const after = decodeFrame(api, version, r.bytes);
      assert.equal(after.NodeEndpoints, undefined, 'no broker address reaches the client');
      assert.deepEqual(withoutHints(after), withoutHints(decodeFrame(api, version, original)));
    });
  }

  test('a response without hints passes byte for byte', () => {
    const value = fetchWithHints('x');
    delete value.NodeEndpoints;
    const original = frameOf(Fetch, 16, value);
    for (const chunk of [1, 333, original.length]) {
      const r = stream(Fetch, 16, original, brokers('proxy.local').map, chunk);
      assert.equal(r.outcome, 'none');
      assert.ok(r.bytes.equals(original));
      if (chunk === original.length) assert.equal(r.writes, 1, 'a response that arrived in one chunk leaves in one write');
    }
  });

  test('a response whose body breaks the layout streams unchanged and is reported', () => {
    const original = frameOf(Fetch, 16, fetchWithHints('broker'));
    // The topic count (offset 19: size prefix, correlation id, header tags, throttle, error, session) becomes ~2^31.
    const corrupt = Buffer.concat([original.subarray(0, 19), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07]), original.subarray(24)]);
    for (const chunk of [100, corrupt.length]) { // walked chunk by chunk, and skipped in one piece
      const r = stream(Fetch, 16, corrupt, brokers('p').map, chunk);
      assert.equal(r.errors.length, 1);
      assert.equal(r.outcome, 'none');
      assert.ok(r.bytes.equals(corrupt));
    }
  });

  test('padSection reaches every length from the entries alone up to 400 bytes beyond, unless the room is too small for a tag', () => {
    const entry = (tag: number, size: number) => {
      const head: number[] = [tag, size];
      return { tag, bytes: Buffer.concat([Buffer.from(head), Buffer.alloc(size, 1)]) };
    };
    for (const entries of [[], [entry(0, 20)], [entry(0, 5), entry(3, 2)], [entry(0, 100), entry(127, 1)]]) {
      const used = entries.reduce((n, e) => n + e.bytes.length, 0);
      const minimal = 1 + used;
      const padTag = Math.max(0, ...entries.map((e) => e.tag)) + 1; // unknownFrom 1: tag 0 is known
      const tagBytes = padTag < 128 ? 1 : 2;
      for (let length = minimal; length <= minimal + 400; length++) {
        const s = padSection(entries, length, 1);
        // The padding entry needs its tag and a size byte; the count grows by one (still one byte here).
        if (length > minimal && length - minimal < tagBytes + 1) { assert.equal(s, undefined, `${length - minimal} spare bytes`); continue; }
        assert.ok(s, `no section of ${length} bytes for ${entries.length} entries`);
        assert.equal(s.length, length);
        // It parses: count, then the original entries in order, then at most one padding tag above them all.
        let [count, off] = readUvarint(s, 0);
        const tags: number[] = [];
        for (let i = 0; i < count; i++) {
          let tag: number, size: number;
          [tag, off] = readUvarint(s, off);
          [size, off] = readUvarint(s, off);
          off += size;
          tags.push(tag);
        }
        assert.equal(off, length);
        assert.deepEqual(tags.slice(0, entries.length), entries.map((e) => e.tag));
        assert.ok(count === entries.length || (count === entries.length + 1 && tags[count - 1] >= padTag), `tags ${tags}`);
      }
    }
  });
});
