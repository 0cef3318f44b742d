import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyMetrics } from '../../src/metrics.js';
import { Spool, SpoolFullError, SpoolLockedError, type SpoolRecord } from '../../src/audit/spool.js';

const rec = (i: number, topic = 'audit'): SpoolRecord => ({ topic, key: 'inst', value: JSON.stringify({ i, pad: 'x'.repeat(100) }), headers: { 'content-type': 'application/cloudevents+json', ce_id: `id-${i}` } });
const idx = (r: SpoolRecord) => (JSON.parse(r.value) as { i: number }).i;

function tmp(): string { return mkdtempSync(join(tmpdir(), 'audit-spool-')); }
const segments = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('seg-')).sort();

async function drain(spool: Spool, batchSize = 7): Promise<SpoolRecord[]> {
  const out: SpoolRecord[] = [];
  await spool.replay(async (b) => { out.push(...b); }, { batchSize });
  return out;
}

test('append then replay returns every record once, in order, across several segments; segments deleted after ack', async () => {
  const dir = tmp();
  const metrics = new ProxyMetrics({ collectDefault: false });
  try {
    const spool = await Spool.open({ dir, fsync: 'always', maxBytes: 10_000_000, segmentBytes: 2_000 }, metrics);
    for (let i = 0; i < 50; i += 5) await spool.append([0, 1, 2, 3, 4].map((k) => rec(i + k)));
    assert.equal(spool.pendingRecords, 50);
    assert.ok(segments(dir).length > 3, 'expected several segments');
    assert.equal((await metrics.auditSpoolBytes.get()).values[0].value, spool.pendingBytes);
    const out = await drain(spool);
    assert.deepEqual(out.map(idx), Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(out[0], rec(0));
    assert.equal(spool.pendingRecords, 0);
    assert.equal(spool.pendingBytes, 0);
    assert.deepEqual(segments(dir), []);
    assert.equal((await metrics.auditSpoolBytes.get()).values[0].value, 0);
    // appending after a full drain works and keeps order
    await spool.append([rec(100), rec(101)]);
    assert.deepEqual((await drain(spool)).map(idx), [100, 101]);
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed delivery keeps the records; the next replay delivers them again, in order', async () => {
  const dir = tmp();
  try {
    const spool = await Spool.open({ dir, fsync: 'never', maxBytes: 1_000_000 });
    await spool.append(Array.from({ length: 20 }, (_, i) => rec(i)));
    let calls = 0;
    const got: number[] = [];
    await assert.rejects(spool.replay(async (b) => {
      if (++calls === 3) throw new Error('broker down');
      got.push(...b.map(idx));
    }, { batchSize: 5 }), /broker down/);
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(spool.pendingRecords, 10);
    assert.deepEqual((await drain(spool)).map(idx), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('records appended during a replay are delivered after the older ones', async () => {
  const dir = tmp();
  try {
    const spool = await Spool.open({ dir, fsync: 'always', maxBytes: 1_000_000, segmentBytes: 1_000 });
    await spool.append(Array.from({ length: 10 }, (_, i) => rec(i)));
    const got: number[] = [];
    let next = 10;
    await spool.replay(async (b) => {
      got.push(...b.map(idx));
      if (next < 30) { await spool.append([rec(next++), rec(next++)]); }
    }, { batchSize: 3 });
    assert.deepEqual(got, Array.from({ length: 30 }, (_, i) => i));
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restart: a new Spool on the same directory replays what is left, from the persisted cursor, in order', async () => {
  const dir = tmp();
  try {
    const s1 = await Spool.open({ dir, fsync: 'always', maxBytes: 1_000_000, segmentBytes: 1_500 });
    await s1.append(Array.from({ length: 30 }, (_, i) => rec(i)));
    // deliver 12 of them, then "crash" (close without replaying the rest)
    let delivered = 0;
    while (delivered < 12) delivered += await s1.replayOnce(async () => {}, 4);
    await s1.close();

    const s2 = await Spool.open({ dir, fsync: 'always', maxBytes: 1_000_000, segmentBytes: 1_500 });
    assert.equal(s2.pendingRecords, 18);
    await s2.append([rec(30), rec(31)]); // new records go behind the old ones
    assert.deepEqual((await drain(s2)).map(idx), Array.from({ length: 20 }, (_, i) => i + 12));
    await s2.close();

    const s3 = await Spool.open({ dir, fsync: 'always', maxBytes: 1_000_000 });
    assert.equal(s3.pendingRecords, 0);
    assert.deepEqual(await drain(s3), []);
    await s3.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('restart after a torn write: the partial last line is cut off, everything before it survives', async () => {
  const dir = tmp();
  try {
    const s1 = await Spool.open({ dir, fsync: 'always', maxBytes: 1_000_000 });
    await s1.append([rec(0), rec(1)]);
    await s1.close();
    appendFileSync(join(dir, segments(dir).at(-1)!), '{"topic":"audit","val'); // crash mid-write
    const s2 = await Spool.open({ dir, fsync: 'always', maxBytes: 1_000_000 });
    assert.equal(s2.pendingRecords, 2);
    await s2.append([rec(2)]);
    assert.deepEqual((await drain(s2)).map(idx), [0, 1, 2]);
    await s2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('size limit: SpoolFullError with a clear message, nothing partial written, counted', async () => {
  const dir = tmp();
  try {
    const spool = await Spool.open({ dir, fsync: 50, maxBytes: 2_000 });
    const size = Buffer.byteLength(JSON.stringify(rec(0)) + '\n');
    const fit = Math.floor(2_000 / size);
    await spool.append(Array.from({ length: fit }, (_, i) => rec(i)));
    await assert.rejects(spool.append([rec(fit), rec(fit + 1)]), (e: Error) => {
      assert.ok(e instanceof SpoolFullError);
      assert.match(e.message, new RegExp(`^audit spool .* is full: ${fit * size} of 2000 bytes used, 2 record\\(s\\) needing ${2 * size} bytes cannot be added`));
      return true;
    });
    assert.equal(spool.fullRejections, 1);
    assert.equal(spool.pendingRecords, fit);
    // draining makes room again
    assert.equal((await drain(spool)).length, fit);
    await spool.append([rec(99)]);
    assert.deepEqual((await drain(spool)).map(idx), [99]);
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one process per spool directory', async () => {
  const dir = tmp();
  try {
    const s1 = await Spool.open({ dir });
    await assert.rejects(Spool.open({ dir }), SpoolLockedError);
    await s1.close();
    const s2 = await Spool.open({ dir });
    await s2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
