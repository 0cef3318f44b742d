/**
 * The decoder fuzz loop: for one message version, random valid messages (round trip encode → decode → encode
 * byte for byte, skipper agrees with the layout) and mutations of their encodings (decodeMessage, skipperTo and
 * taggedEntries may only return or throw DecodeError; whatever still decodes must re-encode and decode again).
 *
 * Runs inside a worker (lib/decoder-worker.ts) so that a hang or a runaway allocation is caught by the
 * watchdog in the test instead of freezing or killing the test process.
 */
import { isDeepStrictEqual } from 'node:util';
import { DecodeError, decodeMessage, encodeMessage, type Decoded } from '../../../protocol/codec.js';
import { skipperTo, taggedEntries } from '../../../protocol/skip.js';
import { inRange, type MessageSchema } from '../../../protocol/schema.js';
import { randomMessage } from './gen.js';
import { layoutOf, topTaggedOffset } from './layout.js';
import { extremeSiteMutations, mutate } from './mutate.js';
import type { Prng } from './prng.js';

/** A decode (plus skip) slower than this is reported: inputs are at most a few KB. */
export const SLOW_DECODE_MS = 250;

export interface Failure { message: string; version: number; kind: string; hex: string; problem: string }

export interface Stats {
  frames: number;
  roundTrips: number;
  mutations: number;
  mutationsDecoded: number;
  decodeErrors: number;
  skipperCalls: number;
  maxMs: number;
  maxCase: string;
  /** Largest heapUsed seen between message versions, MB. */
  peakHeapMb: number;
  failures: Failure[];
  failureCount: number;
}

export function newStats(): Stats {
  return { frames: 0, roundTrips: 0, mutations: 0, mutationsDecoded: 0, decodeErrors: 0, skipperCalls: 0, maxMs: 0, maxCase: '', peakHeapMb: 0, failures: [], failureCount: 0 };
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return `non-Error thrown: ${String(e)}`;
  const frames = (e.stack ?? '').split('\n').slice(1, 6).map((l) => l.trim()).join(' < ');
  return `${e.name}: ${e.message}${frames ? ` [at ${frames}]` : ''}`;
}

/** Re-runs a check with stack traces on (the fuzz workers turn them off: capturing them costs 2/3 of the time). */
function withStacks<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 12;
  try { return fn(); } finally { Error.stackTraceLimit = limit; }
}

/**
 * Checks one (possibly malformed) body. Returns undefined when the codec behaved, else what went wrong.
 * Exported for the regression fixtures.
 */
export function checkBody(schema: MessageSchema, version: number, bytes: Buffer, stopAt?: string): { problem?: string; decoded?: Decoded; error?: DecodeError } {
  let decoded: Decoded | undefined;
  let error: DecodeError | undefined;
  try {
    decoded = decodeMessage(schema, version, bytes);
  } catch (e) {
    if (!(e instanceof DecodeError)) return { problem: `decodeMessage threw ${describe(e)}` };
    error = e;
  }
  if (decoded) {
    // What the proxy decodes it may re-encode (rewrites): that must work and be stable.
    let again: Buffer;
    try {
      again = encodeMessage(schema, version, decoded);
    } catch (e) {
      return { problem: `decoded value does not re-encode: ${describe(e)}`, decoded };
    }
    try {
      const twice = encodeMessage(schema, version, decodeMessage(schema, version, again));
      if (!twice.equals(again)) return { problem: 'decode/encode of a decoded value is not stable', decoded };
    } catch (e) {
      return { problem: `re-encoded value does not decode: ${describe(e)}`, decoded };
    }
  }
  let off: number | undefined;
  try {
    off = skipperTo(schema, version)(bytes, 0);
    if (stopAt !== undefined) skipperTo(schema, version, stopAt)(bytes, 0);
  } catch (e) {
    if (!(e instanceof DecodeError)) return { problem: `skipperTo threw ${describe(e)}`, decoded, error };
    if (decoded) return { problem: `skipperTo rejected a body that decodes: ${describe(e)}`, decoded, error };
  }
  if (off !== undefined && inRange(version, schema.flexibleVersions)) {
    try {
      taggedEntries(bytes, off);
    } catch (e) {
      if (!(e instanceof DecodeError)) return { problem: `taggedEntries threw ${describe(e)}`, decoded, error };
      if (decoded) return { problem: `taggedEntries rejected a body that decodes: ${describe(e)}`, decoded, error };
    }
  }
  return { decoded, error };
}

/** Where the loop reports the input it is about to try, for the watchdog (see decoder-worker.ts). */
export type Beacon = (bytes: Buffer) => void;

function topFieldNames(schema: MessageSchema, version: number): string[] {
  const flexible = inRange(version, schema.flexibleVersions);
  return schema.fields
    .filter((f) => inRange(version, f.versions) && !(f.tag !== undefined && flexible && inRange(version, f.taggedVersions ?? f.versions)))
    .map((f) => f.name);
}

/** Fuzzes one message version for `frames` inputs. */
export function fuzzMessageVersion(rng: Prng, schema: MessageSchema, version: number, frames: number, stats: Stats, beacon: Beacon): void {
  const flexible = inRange(version, schema.flexibleVersions);
  const fields = topFieldNames(schema, version);
  const fail = (kind: string, bytes: Buffer, problem: string) => {
    stats.failureCount++;
    if (stats.failures.length < 25) stats.failures.push({ message: schema.name, version, kind, hex: bytes.toString('hex'), problem });
  };
  const timed = (kind: string, bytes: Buffer, stopAt?: string) => {
    beacon(bytes);
    let t0 = performance.now();
    const r = checkBody(schema, version, bytes, stopAt);
    let ms = performance.now() - t0;
    stats.frames++;
    stats.skipperCalls++;
    // A slow input is timed again: the minimum of three runs filters out GC pauses and a busy machine.
    for (let i = 0; i < 2 && ms > SLOW_DECODE_MS / 5; i++) {
      t0 = performance.now();
      checkBody(schema, version, bytes, stopAt);
      ms = Math.min(ms, performance.now() - t0);
    }
    if (ms > stats.maxMs) { stats.maxMs = ms; stats.maxCase = `${schema.name} v${version} ${kind} (${bytes.length} bytes)`; }
    if (ms > SLOW_DECODE_MS) fail(kind, bytes, `took ${ms.toFixed(0)} ms`);
    if (r.problem) fail(kind, bytes, withStacks(() => checkBody(schema, version, bytes, stopAt)).problem ?? r.problem);
    return r;
  };

  const count = (r: { decoded?: Decoded }) => { stats.mutations++; if (r.decoded) stats.mutationsDecoded++; else stats.decodeErrors++; };
  let first = true;
  const end = stats.frames + frames;
  while (stats.frames < end) {
    // (a) a valid random message: byte-identical round trip, and the skipper agrees with the layout. The first
    //     message of a version is the richest of a few candidates (most length sites), for the sweeps below.
    let value = randomMessage(rng, schema, version);
    if (first) {
      let best = -1;
      for (let i = 0; i < 6; i++) {
        const candidate = i === 0 ? value : randomMessage(rng, schema, version);
        try {
          const n = layoutOf(schema, version, Buffer.from(encodeMessage(schema, version, candidate))).length;
          if (n > best) { best = n; value = candidate; }
        } catch { /* reported by the round trip below */ }
      }
    }
    let bytes: Buffer;
    try {
      bytes = Buffer.from(encodeMessage(schema, version, value));
    } catch (e) {
      fail('encode-valid', Buffer.alloc(0), `generated value does not encode: ${describe(e)}`);
      stats.frames++;
      continue;
    }
    beacon(bytes);
    stats.roundTrips++;
    stats.frames++;
    let sites;
    try {
      const back = decodeMessage(schema, version, bytes);
      const again = encodeMessage(schema, version, back);
      if (!again.equals(bytes)) fail('round-trip', bytes, 'encode(decode(bytes)) differs from bytes');
      else if ((stats.roundTrips & 7) === 0 && !isDeepStrictEqual(back, value)) fail('round-trip', bytes, 'decode(encode(value)) differs from value');
      sites = layoutOf(schema, version, bytes);
      const top = topTaggedOffset(schema, version, bytes);
      const skipped = skipperTo(schema, version)(bytes, 0);
      if (skipped !== (flexible ? top : bytes.length)) fail('skip-valid', bytes, `skipperTo ends at ${skipped}, the layout says ${flexible ? top : bytes.length}`);
      if (flexible) {
        const tags = taggedEntries(bytes, skipped).map((e) => e.tag);
        const expected = [...tags].sort((a, b) => a - b);
        if (!isDeepStrictEqual(tags, expected)) fail('tags-valid', bytes, 'taggedEntries out of order on a valid body');
      }
    } catch (e) {
      fail('round-trip', bytes, `valid body failed: ${describe(e)}`);
      continue;
    }

    // (b) mutations. The first message of each version is also cut at every point, and every one of its length
    //     sites gets every extreme value (negative, 0x7fffffff, 2^32 - 1, off by one, 6-byte varint).
    if (first) {
      first = false;
      const cuts = Math.min(bytes.length, 2048);
      for (let at = 0; at < cuts && stats.frames < end; at++) count(timed(`truncate@${at}`, bytes.subarray(0, at)));
      for (const site of sites) {
        for (const m of extremeSiteMutations(bytes, site)) {
          if (stats.frames >= end) break;
          count(timed(m.kind, m.bytes));
        }
      }
    }
    const n = rng.range(8, 24);
    for (let i = 0; i < n && stats.frames < end; i++) {
      const m = mutate(rng, bytes, sites);
      count(timed(m.kind, m.bytes, rng.chance(0.2) ? rng.pick(fields) : undefined));
    }
  }
}
