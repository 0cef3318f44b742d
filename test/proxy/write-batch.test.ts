/**
 * WriteBatch (src/proxy/write-batch.ts): what one read makes the proxy send leaves in one write or one writev, and
 * the reading side is paused only when the other socket really holds bytes the kernel did not take: on a real
 * loopback socket whose peer stops reading, it is paused, and the bytes Node holds stay bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Socket } from 'node:net';
import { WriteBatch } from '../../src/proxy/write-batch.js';

/**
 * Records the calls a WriteBatch makes. Like Node's Writable: write() says false when the bytes it holds plus the
 * chunk reach the high-water mark, and writableNeedDrain stays true after that; `pending` bytes stay unwritten.
 */
function recorder(opts: { pending?: number } = {}) {
  const calls: string[] = [];
  let length = 0;
  let needDrain = false;
  const socket = {
    cork() { calls.push('cork'); },
    uncork() { calls.push('uncork'); },
    write(b: Buffer) {
      calls.push(`write ${b.length}`);
      const ok = length + b.length < 16384;
      if (!ok) needDrain = true;
      length = opts.pending ?? 0;
      return ok;
    },
    get writableLength() { return length; },
    get writableNeedDrain() { return needDrain; },
  };
  return { socket: socket as unknown as Socket, calls };
}

test('one buffer from a read is one write, without cork; several are one corked writev; outside a read, at once', () => {
  const r = recorder();
  const batch = new WriteBatch(r.socket, () => r.calls.push('behind'));
  batch.begin(); batch.write(Buffer.alloc(100)); batch.end();
  assert.deepEqual(r.calls, ['write 100']);
  r.calls.length = 0;
  batch.begin(); batch.write(Buffer.alloc(1)); batch.write(Buffer.alloc(2)); batch.write(Buffer.alloc(3));
  assert.deepEqual(r.calls, [], 'nothing leaves before the read is handled');
  batch.end();
  assert.deepEqual(r.calls, ['cork', 'write 1', 'write 2', 'write 3', 'uncork']);
  r.calls.length = 0;
  batch.write(Buffer.alloc(7));
  assert.deepEqual(r.calls, ['write 7'], 'outside a read');
  r.calls.length = 0;
  batch.end();
  assert.deepEqual(r.calls, [], 'an empty batch writes nothing');
});

test('a write over the high-water mark that the kernel took whole does not pause the reader; one with bytes left over does', () => {
  const took = recorder({ pending: 0 });
  const b1 = new WriteBatch(took.socket, () => took.calls.push('behind'));
  b1.begin(); b1.write(Buffer.alloc(64 * 1024)); b1.end();
  assert.deepEqual(took.calls, ['write 65536'], 'write() said false, but nothing is left: no pause');
  const left = recorder({ pending: 4096 });
  const b2 = new WriteBatch(left.socket, () => left.calls.push('behind'));
  b2.begin(); b2.write(Buffer.alloc(64 * 1024)); b2.end();
  assert.deepEqual(left.calls, ['write 65536', 'behind']);
});

test('on a real socket whose peer stops reading, the reader is paused and Node holds a bounded amount', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', r));
  const peer = await accepted;
  peer.pause(); // never reads
  let behind = 0;
  const batch = new WriteBatch(client, () => { behind++; });
  const chunk = Buffer.alloc(64 * 1024, 1);
  let sent = 0;
  // Keep "reading" 64 KiB chunks while not paused, as the connection would, up to 256 MiB.
  while (behind === 0 && sent < 256 * 1024 * 1024) {
    batch.begin(); batch.write(chunk); batch.end();
    sent += chunk.length;
    if (sent % (4 * 1024 * 1024) === 0) await new Promise((r) => setImmediate(r));
  }
  assert.equal(behind, 1, `paused after ${sent} bytes`);
  assert.ok(client.writableLength <= 2 * chunk.length, `Node holds ${client.writableLength} bytes when the reader pauses`);
  client.destroy(); peer.destroy(); server.close();
});
