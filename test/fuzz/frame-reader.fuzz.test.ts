/**
 * Frame reader fuzz: random streams (valid frames split at random chunk boundaries, interleaved with garbage,
 * negative and oversized size prefixes, cut off mid-frame) through FrameReader with random buffer/stream
 * decisions, checked against a reference parse (see lib/frame-fuzz.ts for the exact properties). Runs in worker
 * threads under the watchdog (a reader that loops forever fails the test instead of freezing it).
 *
 * Seeded: FUZZ_SEED reproduces a run; this file runs (1 - DECODER_SHARE) of FUZZ_FRAMES.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DECODER_SHARE, describeSeed, fuzzSeed, totalFrames } from './lib/prng.js';
import type { FrameStats } from './lib/frame-fuzz.js';
import { runWatched, timeoutFor } from './lib/watchdog.js';

test('frame reader: random streams, chunkings and classify decisions', { timeout: timeoutFor(totalFrames()) }, async (t) => {
  const seed = fuzzSeed();
  const target = totalFrames() - Math.round(totalFrames() * DECODER_SHARE);
  const workers = Math.max(1, Number(process.env.FUZZ_WORKERS ?? 2));
  console.log(`[fuzz] frame reader seed: ${describeSeed(seed)}`);
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: workers }, (_, index) => runWatched<FrameStats>(
    new URL('./lib/frame-worker.ts', import.meta.url),
    { seed, index, frames: Math.ceil(target / workers) },
    { stallMs: 20_000, maxHeapMb: 256 },
  )));
  const seconds = (performance.now() - t0) / 1000;
  const sum = (k: keyof Omit<FrameStats, 'failures'>) => results.reduce((n, r) => n + r[k], 0);
  const frames = sum('frames');
  const summary = `frame reader fuzz: ${frames} frames in ${seconds.toFixed(1)} s (${(frames / seconds).toFixed(0)} frames/s); `
    + `${sum('streams')} streams, ${sum('chunks')} chunks, ${(sum('bytes') / 1e6).toFixed(1)} MB; ${sum('buffered')} buffered, `
    + `${sum('streamed')} streamed, ${sum('negative')} negative sizes, ${sum('oversized')} oversized`;
  t.diagnostic(summary);
  console.log(`[fuzz] ${summary}`);
  const failures = results.flatMap((r) => r.failures);
  if (failures.length > 0) {
    const shown = failures.slice(0, 8).map((f) => `  case ${f.seedCase}: ${f.problem}\n    ${f.detail}`).join('\n');
    assert.fail(`${sum('failureCount')} failing streams (${describeSeed(seed)}), first ${Math.min(8, failures.length)}:\n${shown}`);
  }
  assert.ok(frames >= target, `generated ${frames} frames, target ${target}`);
  if (target >= 10_000) {
    assert.ok(sum('negative') > 0 && sum('oversized') > 0 && sum('buffered') > 0 && sum('streamed') > 0, 'every outcome was exercised');
  }
});
