/**
 * Giving back young-generation memory when idle (src/idle-memory.ts): the decision on its own, and the real thing in
 * a child process, where a burst of surviving allocations grows V8's new space and the idle check must shrink it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { IdleMemoryCheck, SMALL_YOUNG_BYTES } from '../src/idle-memory.js';

const MiB = 2 ** 20;

/** A check over scripted readings: each call takes the next utilization / size. */
function scripted(utilizations: number[], sizes: number[]) {
  let gcs = 0;
  const check = new IdleMemoryCheck({
    utilization: () => utilizations.shift() ?? 0,
    youngBytes: () => { assert.ok(sizes.length > 0, 'the check read more sizes than scripted'); return sizes.shift()!; },
    gc: () => { gcs++; },
  });
  return { check, gcs: () => gcs };
}

test('idle with a grown young generation: one minor GC, with the size before and after', () => {
  const s = scripted([0.001], [16 * MiB, 1 * MiB]);
  assert.deepEqual(s.check.check(), { before: 16 * MiB, after: 1 * MiB });
  assert.equal(s.gcs(), 1);
});

test('busy: no collection, however large the young generation (a busy process scavenges on its own)', () => {
  const s = scripted([0.01, 0.5], [16 * MiB, 16 * MiB]);
  assert.equal(s.check.check(), undefined);
  assert.equal(s.check.check(), undefined);
  assert.equal(s.gcs(), 0);
});

test('idle and small (at most SMALL_YOUNG_BYTES): nothing to give back', () => {
  const s = scripted([0, 0], [SMALL_YOUNG_BYTES, 1 * MiB]);
  assert.equal(s.check.check(), undefined);
  assert.equal(s.check.check(), undefined);
  assert.equal(s.gcs(), 0);
});

test('after a collection that shrank the space, only growth beyond the new size sets off another', () => {
  const s = scripted([0, 0, 0], [16 * MiB, 3 * MiB, 3 * MiB, 8 * MiB, 3 * MiB]);
  assert.deepEqual(s.check.check(), { before: 16 * MiB, after: 3 * MiB });
  assert.equal(s.check.check(), undefined, 'still 3 MiB: as small as V8 would make it');
  assert.deepEqual(s.check.check(), { before: 8 * MiB, after: 3 * MiB });
  assert.equal(s.gcs(), 2);
});

test('a collection that did not shrink the space is tried again at the next idle check', () => {
  const s = scripted([0, 0.2, 0], [16 * MiB, 16 * MiB, 16 * MiB, 16 * MiB, 1 * MiB]);
  assert.deepEqual(s.check.check(), { before: 16 * MiB, after: 16 * MiB });
  assert.equal(s.check.check(), undefined, 'busy meanwhile');
  assert.deepEqual(s.check.check(), { before: 16 * MiB, after: 1 * MiB });
  assert.equal(s.gcs(), 2);
});

// The child starts the checks, grows its new space with a burst of objects it keeps, then idles with checks every
// 500 ms. V8 keeps the space at the first collections after a burst (here it let go about 6 s after), so the child
// reports every collection the module ran and stops at the first that shrank the space (or after 20 s).
const CHILD = `
import { startIdleMemoryReturn, youngGenerationBytes } from ${JSON.stringify(fileURLToPath(new URL('../src/idle-memory.ts', import.meta.url)))};
const collections = [];
const done = () => { process.stdout.write(JSON.stringify({ start, grown, collections, kept: keep.length })); process.exit(0); };
const start = youngGenerationBytes();
startIdleMemoryReturn(500, (r) => { collections.push(r); if (r.after < r.before) done(); });
const keep = [];
for (let i = 0; i < 20000; i++) keep.push({ a: new Array(50).fill(i), s: 'x'.repeat(40) + i });
const grown = youngGenerationBytes();
setTimeout(done, 20000);
`;

test('in a real process: after a burst, an idle check shrinks the young generation V8 grew', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], { timeout: 30_000 });
  const r = JSON.parse(stdout) as { start: number; grown: number; collections: Array<{ before: number; after: number }>; kept: number };
  assert.ok(r.grown > SMALL_YOUNG_BYTES, `the burst left a grown young generation (${r.start / MiB} -> ${r.grown / MiB} MiB)`);
  const last = r.collections.at(-1);
  assert.ok(last, 'the idle check ran at least one collection');
  assert.ok(last.after < last.before, `a collection shrank the space (${JSON.stringify(r.collections)})`);
  assert.ok(last.after <= SMALL_YOUNG_BYTES, `back to a small young generation (${last.after / MiB} MiB)`);
});
