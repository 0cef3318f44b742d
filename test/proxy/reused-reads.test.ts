/**
 * deliverReads (src/proxy/reused-reads.ts) on real loopback sockets, no broker: every byte arrives once and in
 * order across the switch from 'data' events to the reused buffer; the buffer really is reused while the caller
 * says it may be, and a chunk the caller keeps is never overwritten; pause() stops reads on the reused-buffer path
 * and resume() restarts them; a larger buffer is read into in full; the budget (MAX_REUSED_BYTES) holds and
 * release() returns a buffer to it; a TLS socket keeps its 'data' events; many small reads in a second switch too
 * (a producer's broker socket), with a 64 KiB buffer, and as many spread out do not.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { deliverReads, reusedReadBuffers, reusedReadBufferBytes, MAX_REUSED_BYTES, READ_BYTES, RESPONSE_READ_BYTES, SWITCH_AFTER_BYTES, SWITCH_AFTER_READS } from '../../src/proxy/reused-reads.js';
import { makeTestCerts, type TestCerts } from '../harness/tls.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connected pair on loopback: `server` is the accepted end (as the proxy's client sockets are). */
async function socketPair(): Promise<{ client: net.Socket; server: net.Socket; close(): void }> {
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => listener.once('connection', r));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r, j) => { client.once('connect', r); client.once('error', j); });
  const server = await accepted;
  listener.close();
  cleanups.push(() => { client.destroy(); server.destroy(); });
  return { client, server, close() { client.destroy(); server.destroy(); } };
}

/** Writes `data` in pieces of random size (1 byte to 256 KiB), respecting backpressure. */
async function writeInPieces(socket: net.Socket, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length;) {
    const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * 256 * 1024));
    if (!socket.write(data.subarray(off, off + n))) await new Promise((r) => socket.once('drain', r));
    off += n;
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Counts and hashes what a socket delivers (pass `take` to deliverReads); `ended` resolves on the socket's 'end'. */
function receiver(socket: net.Socket) {
  const hash = createHash('sha256');
  let bytes = 0;
  const ended = new Promise<void>((r) => socket.on('end', r));
  return {
    take(chunk: Buffer) { hash.update(chunk); bytes += chunk.length; },
    get bytes() { return bytes; },
    digest: () => hash.digest('hex'),
    ended,
  };
}

/** Everything a test opened, released after it even when it fails, so each test starts with no buffer held. */
const cleanups: Array<() => void> = [];
function track<T extends { release(): void }>(reads: T): T { cleanups.push(() => reads.release()); return reads; }

describe('reused socket reads', () => {
  afterEach(() => { for (const c of cleanups.splice(0)) c(); });
  test('every byte once and in order; the buffer is reused when allowed; kept chunks stay intact', async () => {
    const pair = await socketPair();
    const data = randomBytes(24 * MiB);
    const rx = receiver(pair.server);
    const views = new Set<ArrayBufferLike>(); // distinct memory read into after the switch
    let afterSwitch = 0;
    const kept: Array<{ view: Buffer; copy: Buffer }> = [];
    let keepNext = false;
    let switchedAt = -1;
    const reads = track(deliverReads(pair.server, (chunk) => {
      rx.take(chunk);
      if (reusedReadBuffers() > 0 && switchedAt < 0) switchedAt = rx.bytes - chunk.length;
      if (switchedAt >= 0) {
        afterSwitch++;
        views.add(chunk.buffer);
        assert.ok(chunk.length <= READ_BYTES, `a read of ${chunk.length} bytes on the reused buffer`);
        // Keep every 50th chunk as the proxy keeps a buffered frame: it must never be read into again.
        keepNext = afterSwitch % 50 === 0;
        if (keepNext) kept.push({ view: chunk, copy: Buffer.from(chunk) });
      }
    }, () => !keepNext));
    await writeInPieces(pair.client, data);
    pair.client.end();
    await rx.ended;
    assert.equal(rx.bytes, data.length);
    assert.equal(rx.digest(), sha(data), 'the bytes delivered are the bytes sent, in order');
    assert.ok(switchedAt >= SWITCH_AFTER_BYTES && switchedAt < SWITCH_AFTER_BYTES + 4 * MiB,
      `switched after ${switchedAt} bytes (threshold ${SWITCH_AFTER_BYTES})`);
    assert.ok(afterSwitch > 100, `${afterSwitch} reads on the reused buffer`);
    // One buffer, plus one new buffer after each kept chunk: far fewer than one per read.
    assert.ok(views.size <= kept.length + 1, `${views.size} buffers for ${afterSwitch} reads with ${kept.length} kept`);
    for (const [i, k] of kept.entries()) assert.ok(k.view.equals(k.copy), `kept chunk ${i} was overwritten`);
    assert.equal(reusedReadBuffers(), 1);
    reads.release();
    assert.equal(reusedReadBuffers(), 0);
    pair.close();
  });

  test('pause() stops reads into the reused buffer and resume() restarts them, losing nothing', async () => {
    const pair = await socketPair();
    const data = randomBytes(16 * MiB);
    const rx = receiver(pair.server);
    let paused = false;
    let pausedOnce = false;
    let readWhilePaused = 0;
    const reads = track(deliverReads(pair.server, (chunk) => {
      rx.take(chunk);
      if (paused) readWhilePaused += chunk.length;
      if (!pausedOnce && reusedReadBuffers() > 0 && rx.bytes > 4 * MiB) {
        paused = pausedOnce = true;
        pair.server.pause(); // as the proxy does when the other side's socket is full
      }
    }, () => true));
    const writing = writeInPieces(pair.client, data).then(() => pair.client.end());
    while (!paused) await sleep(5);
    const at = rx.bytes;
    await sleep(300);
    assert.equal(readWhilePaused, 0, `${readWhilePaused} bytes read while paused`);
    assert.equal(rx.bytes, at);
    assert.ok(pair.client.writableLength > 0 || pair.client.bytesWritten - at > 0, 'the sender has more for the paused reader');
    paused = false;
    pair.server.resume();
    await writing;
    await rx.ended;
    assert.equal(rx.bytes, data.length);
    assert.equal(rx.digest(), sha(data));
    reads.release();
    pair.close();
  });

  test('a socket paused before the switch stays paused after it', async () => {
    const pair = await socketPair();
    let bytes = 0;
    let stop = false;
    const reads = track(deliverReads(pair.server, (chunk) => {
      bytes += chunk.length;
      // Crossing the threshold schedules the switch; pausing in the same read means the switch finds it paused.
      if (!stop && bytes >= SWITCH_AFTER_BYTES) { stop = true; pair.server.pause(); }
    }, () => true));
    const data = randomBytes(8 * MiB);
    const writing = writeInPieces(pair.client, data).then(() => pair.client.end());
    while (!stop) await sleep(5);
    await sleep(100);
    assert.equal(reusedReadBuffers(), 1, 'switched while paused');
    const at = bytes;
    await sleep(300);
    assert.ok(bytes - at === 0, `${bytes - at} bytes read while paused`);
    const done = new Promise<void>((r) => pair.server.on('end', r));
    pair.server.resume();
    await writing;
    await done;
    assert.equal(bytes, data.length);
    reads.release();
    pair.close();
  });

  test('a larger buffer: reads use its whole size and never more, every byte once and in order', async () => {
    const pair = await socketPair();
    const data = randomBytes(8 * MiB);
    const rx = receiver(pair.server);
    let largest = 0;
    const reads = track(deliverReads(pair.server, (chunk) => {
      rx.take(chunk);
      if (reusedReadBuffers() > 0) largest = Math.max(largest, chunk.length);
      assert.ok(chunk.length <= RESPONSE_READ_BYTES, `a read of ${chunk.length} bytes`);
    }, () => true, RESPONSE_READ_BYTES));
    // Switch first, then let the rest queue up in the kernel while the reader is paused: the reads that follow
    // fill the buffer, more than Node's 64 KiB.
    await writeInPieces(pair.client, data.subarray(0, 2 * SWITCH_AFTER_BYTES));
    while (reusedReadBuffers() === 0) await sleep(5);
    pair.server.pause();
    const writing = writeInPieces(pair.client, data.subarray(2 * SWITCH_AFTER_BYTES));
    await sleep(200);
    pair.server.resume();
    await writing;
    pair.client.end();
    await rx.ended;
    assert.equal(rx.bytes, data.length);
    assert.equal(rx.digest(), sha(data), 'the bytes delivered are the bytes sent, in order');
    assert.ok(largest > READ_BYTES, `largest read ${largest} bytes with a ${RESPONSE_READ_BYTES}-byte buffer`);
    reads.release();
    pair.close();
  });

  /** Writes `count` frames of `size` bytes, `gapMs` apart, each its own read on the other end (no Nagle, a pause between). */
  async function smallWrites(socket: net.Socket, count: number, size: number, gapMs: number): Promise<Buffer> {
    socket.setNoDelay(true);
    const all: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const b = randomBytes(size);
      all.push(b);
      socket.write(b);
      await sleep(gapMs);
    }
    return Buffer.concat(all);
  }

  test('many small reads within a second switch a socket to a buffer of its own, of 64 KiB even where 256 KiB was asked', async () => {
    const pair = await socketPair();
    const rx = receiver(pair.server);
    let readsBeforeSwitch = 0;
    const reads = track(deliverReads(pair.server, (chunk) => {
      rx.take(chunk);
      if (reusedReadBuffers() === 0) readsBeforeSwitch++;
    }, () => true, RESPONSE_READ_BYTES));
    const sent = await smallWrites(pair.client, 3 * SWITCH_AFTER_READS, 100, 2);
    pair.client.end();
    await rx.ended;
    assert.equal(rx.digest(), sha(sent), 'every byte once and in order across the switch');
    assert.equal(reusedReadBuffers(), 1, `switched after ${readsBeforeSwitch} reads of 100 bytes (${rx.bytes} bytes in all, under ${SWITCH_AFTER_BYTES})`);
    assert.ok(readsBeforeSwitch >= SWITCH_AFTER_READS && readsBeforeSwitch < 2 * SWITCH_AFTER_READS, `switched after ${readsBeforeSwitch} reads`);
    assert.equal(reusedReadBufferBytes(), READ_BYTES, 'a socket of small reads gets 64 KiB, not the 256 KiB asked for bulk reads');
    reads.release();
    assert.equal(reusedReadBufferBytes(), 0);
  });

  test('small reads spread out (fewer than the threshold in any second) keep their data events', async () => {
    const pair = await socketPair();
    const rx = receiver(pair.server);
    track(deliverReads(pair.server, (chunk) => rx.take(chunk), () => true, RESPONSE_READ_BYTES));
    // SWITCH_AFTER_READS + 8 reads over about 1.5 s: never SWITCH_AFTER_READS of them within one second.
    const gap = Math.ceil(1500 / SWITCH_AFTER_READS);
    const sent = await smallWrites(pair.client, SWITCH_AFTER_READS + 8, 100, gap);
    pair.client.end();
    await rx.ended;
    assert.equal(rx.digest(), sha(sent));
    assert.equal(reusedReadBuffers(), 0, 'an admin-like socket does not take a buffer');
  });

  test('the buffers of a process stay within MAX_REUSED_BYTES; sockets beyond it keep data events and lose nothing', async () => {
    const fit = MAX_REUSED_BYTES / RESPONSE_READ_BYTES;
    const pairs = await Promise.all(Array.from({ length: fit + 4 }, () => socketPair()));
    const sent = pairs.map(() => randomBytes(SWITCH_AFTER_BYTES + 64 * 1024));
    const got = pairs.map(() => [] as Buffer[]);
    const reads = pairs.map((p, i) => track(deliverReads(p.server, (chunk) => { got[i].push(Buffer.from(chunk)); }, () => true, RESPONSE_READ_BYTES)));
    const ended = pairs.map((p) => new Promise<void>((r) => p.server.on('end', r)));
    await Promise.all(pairs.map((p, i) => writeInPieces(p.client, sent[i])));
    for (let i = 0; i < 50 && reusedReadBuffers() < fit; i++) await sleep(20);
    await sleep(100); // switches beyond the budget would have happened by now
    assert.equal(reusedReadBuffers(), fit, `sockets holding a ${RESPONSE_READ_BYTES}-byte buffer`);
    for (const p of pairs) p.client.end();
    await Promise.all(ended);
    for (const [i, chunks] of got.entries()) assert.ok(Buffer.concat(chunks).equals(sent[i]), `socket ${i}: bytes delivered intact`);
    reads[0].release();
    assert.equal(reusedReadBuffers(), fit - 1, 'release() gives the budget back');
    for (const r of reads) r.release();
    assert.equal(reusedReadBuffers(), 0);
    for (const p of pairs) p.close();
  });

  test('idle sockets never take a buffer', async () => {
    const pairs = await Promise.all(Array.from({ length: 20 }, () => socketPair()));
    const reads = pairs.map((p) => track(deliverReads(p.server, () => undefined, () => true)));
    await Promise.all(pairs.map((p) => writeInPieces(p.client, randomBytes(SWITCH_AFTER_BYTES / 4))));
    await sleep(100);
    assert.equal(reusedReadBuffers(), 0);
    for (const r of reads) r.release();
    for (const p of pairs) p.close();
  });

  describe('TLS', () => {
    let certs: TestCerts;
    let dir: string;
    before(async () => { dir = mkdtempSync(join(tmpdir(), 'kap-reads-')); certs = await makeTestCerts(dir); });
    after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

    test('a TLS socket keeps its data events and delivers every byte', async () => {
      const server = tls.createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const accepted = new Promise<tls.TLSSocket>((r) => server.once('secureConnection', r));
      const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', ca: readFileSync(certs.caCert), servername: 'localhost' });
      const socket = await accepted;
      const data = randomBytes(4 * MiB);
      const rx = receiver(socket);
      const reads = track(deliverReads(socket, rx.take, () => true));
      await writeInPieces(client as unknown as net.Socket, data);
      client.end();
      await rx.ended;
      assert.equal(rx.bytes, data.length);
      assert.equal(rx.digest(), sha(data));
      assert.equal(reusedReadBuffers(), 0, 'TLS sockets are not switched');
      reads.release();
      client.destroy();
      socket.destroy();
      server.close();
    });
  });
});
