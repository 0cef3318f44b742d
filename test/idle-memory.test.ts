/**
 * Giving back young-generation memory when idle (src/idle-memory.ts): the decision on its own, and the real thing in
 * a child process, where a burst of surviving allocations grows V8's new space and the idle check must shrink it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { IdleMemoryCheck } from '../src/idle-memory.js';

const MiB = 2 ** 20;

/** A check over scripted readings: each call takes the next utilization / size. */
function scripted(utilizations: number[], sizes: number[]) {
  let gcs = 0;
  const check = new IdleMemoryCheck({
    utilization: () => utilizations.shift() ?? 0,
    youngBytes: () => sizes.shift() ?? 1 * MiB,
    gc: () => { gcs++; },
  });
  return { check, gcs: () => gcs };
}

test('idle and grown above the smallest size seen: one minor GC, with the size before and after', () => {
  const s = scripted([0.001], [1 * MiB, 16 * MiB, 1 * MiB]);
  assert.deepEqual(s.check.check(), { before: 16 * MiB, after: 1 * MiB });
  assert.equal(s.gcs(), 1);
});

test('busy: no collection, however large the young generation (a busy process scavenges on its own)', () => {
  const s = scripted([0.01, 0.5], [1 * MiB, 16 * MiB, 16 * MiB]);
  assert.equal(s.check.check(), undefined);
  assert.equal(s.check.check(), undefined);
  assert.equal(s.gcs(), 0);
});

test('idle at the smallest size: nothing to give back, no collection; the mark follows the space down', () => {
  const s = scripted([0, 0, 0], [4 * MiB, 4 * MiB, 1 * MiB, 2 * MiB]);
  assert.equal(s.check.check(), undefined); // 4 MiB, as at start
  assert.equal(s.check.check(), undefined); // shrank to 1 MiB by itself: that is the new mark
  assert.deepEqual(s.check.check(), { before: 2 * MiB, after: 1 * MiB }); // 2 MiB is now above it
  assert.equal(s.gcs(), 1);
});

test('a collection that could not shrink the space is tried again at the next idle check', () => {
  const s = scripted([0, 0], [1 * MiB, 16 * MiB, 16 * MiB, 16 * MiB, 1 * MiB]);
  assert.deepEqual(s.check.check(), { before: 16 * MiB, after: 16 * MiB });
  assert.deepEqual(s.check.check(), { before: 16 * MiB, after: 1 * MiB });
  assert.equal(s.gcs(), 2);
});

// The child starts the checks, grows its new space with a burst of objects it keeps, then idles with checks every 500 ms. V8 shrinks
// the space only once its allocation rate over the last ~5 s is low, so the first checks may not shrink it; the
// child reports every collection the module ran and stops at the first that shrank the space (or after 20 s).
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
  assert.ok(r.grown > r.start, `the burst grew the young generation (${r.start / MiB} -> ${r.grown / MiB} MiB)`);
  const last = r.collections.at(-1);
  assert.ok(last, 'the idle check ran at least one collection');
  assert.ok(last.after < last.before, `a collection shrank the space (${JSON.stringify(r.collections)})`);
  assert.ok(last.after <= r.start, `back to its size at start or below (${r.start / MiB} -> ${last.after / MiB} MiB)`);
});
