/**
 * Decoder fuzz: every ApiSchema in API_SCHEMAS, request and response, every valid version.
 *
 * (a) random valid messages from the schema: encode → decode → encode is byte-identical, the decoded value
 *     equals the generated one, and skipperTo / tagsAt agree with an independent layout walk;
 * (b) mutations of those encodings: truncation (every point for one message per version, then random), byte
 *     flips, length fields and counts set to negative / huge / 0x7fffffff / off by one, invalid varints (6+
 *     continuation bytes, > 32 bits, cut off), trailing bytes, random tails, inserted / deleted bytes, random
 *     bodies; and, for one message per version, every length site with every extreme value. decodeMessage,
 *     skipperTo and tagsAt may only return or throw DecodeError; whatever still decodes must re-encode and decode
 *     again (the proxy re-encodes the responses it rewrites).
 * (c) request headers v1/v2 and response headers v0/v1 (protocol/header.ts), valid and mutated (HEADER_SHARE of
 *     this file's frames, in this process).
 *
 * The loop runs in worker threads under a watchdog (lib/watchdog.ts): no progress for STALL_MS fails the test
 * with the input being decoded, and so does a worker exceeding its heap limit, so a huge count in a tiny input
 * must fail fast without allocating. Every input is timed; one slower than SLOW_DECODE_MS is a failure.
 *
 * Seeded: FUZZ_SEED reproduces a run, FUZZ_FRAMES sets the total frames of this file and the frame reader
 * fuzz (this file runs DECODER_SHARE of it). FUZZ_WORKERS sets the worker count (default: 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_SCHEMAS } from '../../protocol/registry.js';
import { parseRange } from '../../protocol/schema.js';
import type { DecoderJob } from './lib/decoder-worker.js';
import { SLOW_DECODE_MS, type Stats } from './lib/decoder-fuzz.js';
import { DECODER_SHARE, describeSeed, fuzzSeed, mix, Prng, totalFrames } from './lib/prng.js';
import { fuzzHeaders } from './lib/header-fuzz.js';
import { runWatched, timeoutFor } from './lib/watchdog.js';

const STALL_MS = 20_000;
/** Share of this file's frames that go to the request / response header readers (protocol/header.ts). */
const HEADER_SHARE = 0.05;
const WORKER_HEAP_MB = 384;

function allJobs(): DecoderJob[] {
  const jobs: DecoderJob[] = [];
  for (const api of API_SCHEMAS.values()) {
    for (const side of ['request', 'response'] as const) {
      const r = parseRange(api[side].validVersions)!;
      for (let v = r.min; v <= r.max; v++) jobs.push({ apiKey: api.apiKey, side, version: v });
    }
  }
  return jobs;
}

test('decoders: every API, side and version, valid round trips and mutations', { timeout: timeoutFor(totalFrames()) }, async (t) => {
  const seed = fuzzSeed();
  const target = Math.round(totalFrames() * DECODER_SHARE * (1 - HEADER_SHARE));
  const jobs = allJobs();
  const framesPerJob = Math.ceil(target / jobs.length);
  const workers = Math.max(1, Number(process.env.FUZZ_WORKERS ?? 2));
  t.diagnostic(`decoder fuzz: ${describeSeed(seed)}; ${jobs.length} message versions x ${framesPerJob} frames, ${workers} workers`);
  console.log(`[fuzz] decoders seed: ${describeSeed(seed)}`);

  const shares: DecoderJob[][] = Array.from({ length: workers }, () => []);
  jobs.forEach((j, i) => shares[i % workers].push(j));
  const t0 = performance.now();
  const results = await Promise.all(shares.map((share) => runWatched<{ stats: Stats; perJob: { job: string; frames: number; ms: number }[] }>(
    new URL('./lib/decoder-worker.ts', import.meta.url),
    { seed, jobs: share, framesPerJob },
    { stallMs: STALL_MS, maxHeapMb: WORKER_HEAP_MB },
  )));
  const seconds = (performance.now() - t0) / 1000;

  const total = { frames: 0, roundTrips: 0, mutations: 0, mutationsDecoded: 0, decodeErrors: 0, failureCount: 0, maxMs: 0, maxCase: '', peakHeapMb: 0 };
  const failures = results.flatMap((r) => r.stats.failures);
  for (const { stats } of results) {
    total.frames += stats.frames; total.roundTrips += stats.roundTrips; total.mutations += stats.mutations;
    total.mutationsDecoded += stats.mutationsDecoded; total.decodeErrors += stats.decodeErrors; total.failureCount += stats.failureCount;
    if (stats.maxMs > total.maxMs) { total.maxMs = stats.maxMs; total.maxCase = stats.maxCase; }
    total.peakHeapMb = Math.max(total.peakHeapMb, stats.peakHeapMb);
  }
  const slowest = results.flatMap((r) => r.perJob).sort((a, b) => b.ms - a.ms).slice(0, 3)
    .map((j) => `${j.job} ${(j.frames / (j.ms / 1000)).toFixed(0)}/s`).join(', ');
  const summary = `decoder fuzz: ${total.frames} frames in ${seconds.toFixed(1)} s (${(total.frames / seconds).toFixed(0)} frames/s); `
    + `${total.roundTrips} valid round trips, ${total.mutations} mutations (${total.decodeErrors} DecodeError, ${total.mutationsDecoded} still decoded); `
    + `slowest single input ${total.maxMs.toFixed(1)} ms (${total.maxCase}); worker heap peak ${total.peakHeapMb.toFixed(0)} MB `
    + `(limit ${WORKER_HEAP_MB}); slowest versions: ${slowest}`;
  t.diagnostic(summary);
  console.log(`[fuzz] ${summary}`);

  if (failures.length > 0) {
    const shown = failures.slice(0, 10).map((f) => `  ${f.message} v${f.version} [${f.kind}] ${f.problem}\n    body: ${f.hex.slice(0, 400)}`).join('\n');
    assert.fail(`${total.failureCount} failing inputs (${describeSeed(seed)}), first ${Math.min(10, failures.length)}:\n${shown}`);
  }
  assert.ok(total.frames >= target, `generated ${total.frames} frames, target ${target}`);
  assert.ok(total.maxMs < SLOW_DECODE_MS);
});

test('headers: request headers v1/v2 and response headers v0/v1, valid and mutated', (t) => {
  const seed = fuzzSeed();
  const target = Math.round(totalFrames() * DECODER_SHARE * HEADER_SHARE);
  const t0 = performance.now();
  const stats = fuzzHeaders(new Prng(mix(seed, 'headers')), target);
  const seconds = (performance.now() - t0) / 1000;
  const summary = `header fuzz: ${stats.frames} frames in ${seconds.toFixed(1)} s (${(stats.frames / seconds).toFixed(0)} frames/s); `
    + `${stats.valid} valid request headers read back exactly, ${stats.errors} DecodeError`;
  t.diagnostic(summary);
  console.log(`[fuzz] ${summary}`);
  assert.deepEqual(stats.failures, [], describeSeed(seed));
  assert.ok(stats.frames >= target);
});
