/**
 * Fixtures for what the fuzzers found (test/fuzz/*.fuzz.test.ts). Each test is the smallest input that showed
 * the problem; none needs a Kafka cluster (the proxy cases use a fake broker that accepts and swallows or answers
 * with fixed bytes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DecodeError, decodeMessage, encodeMessage } from '../../protocol/codec.js';
import { API_SCHEMAS } from '../../protocol/registry.js';
import { FrameError, FrameReader, type FrameMode } from '../../src/proxy/frame-reader.js';
import { startTestProxy, type TestProxy } from '../harness/proxy.js';
import { RawConnection, requestFrame, sizePrefixed } from '../harness/raw.js';

function collect(mode: FrameMode, maxFrameBytes: number, peekBytes: number) {
  const out: { frames: Buffer[]; passthrough: Buffer[]; heads: Buffer[] } = { frames: [], passthrough: [], heads: [] };
  const reader = new FrameReader({
    classify: (_size, head) => { out.heads.push(Buffer.from(head)); return mode; },
    onFrame: (f) => out.frames.push(Buffer.from(f)),
    onPassthrough: (b) => out.passthrough.push(Buffer.from(b)),
  }, maxFrameBytes, peekBytes);
  return { reader, out };
}

describe('frame reader: zero-size frames (found by frame-reader.fuzz: TypeError instead of a frame)', () => {
  // A size prefix of 0 that ends a chunk left no chunk to peek the (empty) head from: peek(0) read
  // this.chunks[0].length of undefined. In the proxy that closed the connection as an "internal_error" with an
  // error-level "unexpected error" log, instead of refusing the frame as malformed.
  for (const mode of ['buffer', 'stream'] as const) {
    test(`fuzz-frame-zero-size-at-chunk-end (${mode})`, () => {
      const { reader, out } = collect(mode, 1000, 64);
      reader.push(Buffer.from([0, 0, 0, 0]));
      assert.equal(out.heads.length, 1);
      assert.equal(out.heads[0].length, 0);
      if (mode === 'buffer') assert.deepEqual(out.frames, [Buffer.alloc(0)]);
      else assert.deepEqual(Buffer.concat(out.passthrough), Buffer.from([0, 0, 0, 0]));
      assert.equal(reader.midFrame, false);
    });

    test(`fuzz-frame-zero-size-runs-and-peek-0 (${mode})`, () => {
      // Several zero-size frames in one chunk, then one split across chunks, with peekBytes 0 as well.
      for (const peek of [0, 1, 1024]) {
        const { reader, out } = collect(mode, 0, peek);
        reader.push(Buffer.alloc(12));
        reader.push(Buffer.alloc(2));
        reader.push(Buffer.alloc(2));
        assert.equal(out.heads.length, 4, `peek ${peek}`);
        const emitted = mode === 'buffer' ? out.frames.length : Buffer.concat(out.passthrough).length;
        assert.equal(emitted, mode === 'buffer' ? 4 : 16);
        assert.throws(() => reader.push(Buffer.from([0, 0, 0, 1])), (e: unknown) => e instanceof FrameError && e.reason === 'oversized');
      }
    });
  }
});

describe('proxy: zero-size frames are refused as malformed, not internal errors (fake broker)', () => {
  let broker: net.Server;
  let proxy: TestProxy;
  const brokerSockets = new Set<net.Socket>();
  /** What the fake broker answers to the n-th chunk of request bytes on a connection (undefined: nothing). */
  let answer: ((n: number, data: Buffer) => Buffer | undefined) | undefined;

  before(async () => {
    broker = net.createServer((s) => {
      brokerSockets.add(s);
      s.on('error', () => undefined);
      let n = 0;
      s.on('data', (data: Buffer) => { const a = answer?.(n++, data); if (a) s.write(a); });
      s.on('close', () => brokerSockets.delete(s));
    });
    await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
    proxy = await startTestProxy(`127.0.0.1:${(broker.address() as net.AddressInfo).port}`);
  });
  after(async () => {
    await proxy?.stop();
    for (const s of brokerSockets) s.destroy();
    await new Promise((r) => broker.close(r));
  });

  async function errors(reason: string): Promise<number> {
    const { values } = await proxy.metrics.connectionErrors.get();
    return values.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
  }

  test('fuzz-proxy-zero-size-request-frame', async () => {
    const before = { malformed: await errors('malformed'), internal: await errors('internal_error') };
    const conn = await RawConnection.open(proxy.server.bootstrapPort);
    conn.write(Buffer.from([0, 0, 0, 0]));
    assert.ok(await conn.until(() => conn.closed, 10_000), 'the proxy closes the connection');
    assert.equal(await errors('malformed'), before.malformed + 1);
    assert.equal(await errors('internal_error'), before.internal);
  });

  test('fuzz-proxy-zero-size-response-frame', async () => {
    const before = { malformed: await errors('malformed'), internal: await errors('internal_error') };
    answer = () => Buffer.from([0, 0, 0, 0]);
    try {
      const conn = await RawConnection.open(proxy.server.bootstrapPort);
      conn.write(requestFrame(18, 0, 1, Buffer.alloc(0), { clientId: 'fuzz' }));
      assert.ok(await conn.until(() => conn.closed, 10_000), 'the proxy closes the connection');
      assert.equal(conn.received, 0, 'nothing of the bad response reaches the client');
      assert.equal(await errors('malformed'), before.malformed + 1);
      assert.equal(await errors('internal_error'), before.internal);
    } finally {
      answer = undefined;
    }
  });

  test('fuzz-proxy-sasl-v0-empty-raw-token', async () => {
    // The same bug on a legitimate path: after SaslHandshake v0, a broker accepts a PLAIN (or OAUTHBEARER) raw
    // token by sending an empty raw token, i.e. the 4 bytes 00 00 00 00, alone. The proxy closed the connection
    // as an internal error instead of relaying it, so pre-KIP-152 (handshake v0) clients could not log in.
    const before = { internal: await errors('internal_error') };
    answer = (n, data) => {
      if (n === 0) {
        const body = encodeMessage(API_SCHEMAS.get(17)!.response, 0, { ErrorCode: 0, Mechanisms: ['PLAIN'] });
        return Buffer.concat([Buffer.from([0, 0, 0, 4 + body.length]), data.subarray(8, 12), body]); // correlation id echoed
      }
      return Buffer.from([0, 0, 0, 0]);
    };
    try {
      const conn = await RawConnection.open(proxy.server.bootstrapPort);
      const mech = Buffer.from('PLAIN');
      conn.write(requestFrame(17, 0, 7, Buffer.concat([Buffer.from([0, mech.length]), mech]), { clientId: 'fuzz' }));
      const handshake = await conn.tryNextFrame(10_000);
      assert.ok(handshake && handshake.readInt32BE(0) === 7, 'handshake answered');
      conn.write(sizePrefixed(Buffer.from('\0alice\0alice-pw!')));
      const token = await conn.tryNextFrame(10_000);
      assert.ok(token !== undefined && token.length === 0, 'the empty raw token reaches the client');
      assert.ok(!conn.closed, 'the connection stays open');
      assert.equal(await errors('internal_error'), before.internal);
      const login = proxy.auditor.ops.find((o) => o.method === 'Authentication' && o.connection?.principal === 'User:alice');
      assert.ok(login && login.result.errorCode === 0, 'the successful login is audited');
      conn.destroy();
    } finally {
      answer = undefined;
    }
  });
});

describe('codec: a length running past the end of the body is reported as truncation (found by decoders.fuzz)', () => {
  // binary-parser cuts strings and buffers at the end of the input without an error, so the only sign of a
  // length running past the end is an end offset beyond the input; it was reported as "-95 trailing bytes after
  // the body" / "has -4 bytes beyond its value", which is what operators read in the undecodable-frame logs.
  test('fuzz-codec-length-past-end-of-body', () => {
    const schema = API_SCHEMAS.get(36)!.request; // SaslAuthenticateRequest v0: AuthBytes (int32 length) only
    const body = Buffer.from([0, 0, 0, 100, 1, 2, 3, 4, 5]);
    assert.throws(() => decodeMessage(schema, 0, body),
      (e: unknown) => e instanceof DecodeError && /truncated body/.test(e.message) && !/-\d+ trailing/.test(e.message));
  });

  test('fuzz-codec-tagged-value-past-its-size', () => {
    const schema = API_SCHEMAS.get(1)!.request; // FetchRequest v12; top-level tag 0 = ClusterId (compact string)
    const valid = encodeMessage(schema, 12, {
      ReplicaId: -1, MaxWaitMs: 500, MinBytes: 1, MaxBytes: 1024, IsolationLevel: 0, SessionId: 0, SessionEpoch: -1,
      Topics: [], ForgottenTopicsData: [], RackId: '',
    });
    assert.equal(valid[valid.length - 1], 0, 'no tagged fields');
    // One tagged field: tag 0, size 4, holding a compact string that claims 6 bytes and has 3.
    const cut = Buffer.concat([valid.subarray(0, valid.length - 1), Buffer.from([1, 0, 4, 7]), Buffer.from('abc')]);
    assert.throws(() => decodeMessage(schema, 12, cut),
      (e: unknown) => e instanceof DecodeError && /tagged field 0 \(ClusterId\) is truncated/.test(e.message));
  });
});

describe('proxy: one big audited request must not take the process down (found while fuzzing)', () => {
  // A DeleteGroups v2 request whose GroupsNames array holds one empty name per byte is valid, and the proxy
  // buffers and decodes audited requests up to limits.maxFrameBytes (100 MiB by default). Decoding builds ~80
  // bytes of JS objects per input byte and blocks the event loop for ~0.7 s per MiB: with the defaults, one
  // unauthenticated 99 MiB request blocked every connection for ~2 minutes and then killed the proxy (V8 heap
  // out of memory at its 4.3 GB limit). This fixture scales that down: a 4 MiB request under a 160 MB heap.
  // Fixed by limits.maxAuditedRequestBytes (1 MiB by default): larger audited requests are refused before
  // any decoding, with the connection closed as too_large_to_audit.
  test('fuzz-proxy-big-audited-request-out-of-memory', { timeout: 120_000 }, () => {
    const child = fileURLToPath(new URL('./lib/big-frame-child.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--max-old-space-size=160', '--import', 'tsx', child, '4'], { encoding: 'utf8', timeout: 110_000 });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    assert.equal(r.status, 0, `the proxy process died (status ${r.status}, signal ${r.signal}): ${r.stderr.split('\n').find((l) => /FATAL|heap/.test(l)) ?? r.stderr.slice(-300)}`);
    const report = JSON.parse(last) as { survived: boolean; maxLoopStallMs: number };
    assert.ok(report.survived);
    assert.ok(report.maxLoopStallMs < 1000, `one request blocked the event loop for ${report.maxLoopStallMs} ms`);
  });
});
