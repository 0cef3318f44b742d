/**
 * Header fuzz (protocol/header.ts, read on every frame): request headers v1/v2 and response headers v0/v1, valid
 * ones read back exactly, mutated ones (truncated, flipped, client id length corrupted, tagged-section count /
 * sizes corrupted, 6-byte varints, random bytes) only ever return or throw DecodeError.
 */
import { isDeepStrictEqual } from 'node:util';
import { DecodeError } from '../../../protocol/codec.js';
import { readRequestHeader, responseBodyOffset } from '../../../protocol/header.js';
import { randomString } from './gen.js';
import { randomBody } from './mutate.js';
import type { Prng } from './prng.js';

function uvarint(v: number): Buffer {
  const out: number[] = [];
  do { let b = v % 128; v = Math.floor(v / 128); if (v > 0) b |= 0x80; out.push(b); } while (v > 0);
  return Buffer.from(out);
}

function taggedSection(rng: Prng): Buffer {
  const n = rng.weighted<number>([[6, 0], [3, rng.range(1, 3)]]);
  const parts: Buffer[] = [uvarint(n)];
  let tag = 0;
  for (let i = 0; i < n; i++) {
    tag += rng.range(0, 5);
    const data = rng.bytes(rng.weighted<number>([[5, rng.int(8)], [1, rng.range(120, 200)]]));
    parts.push(uvarint(tag), uvarint(data.length), data);
    tag++;
  }
  return Buffer.concat(parts);
}

export interface HeaderStats { frames: number; valid: number; errors: number; failures: string[] }

export function fuzzHeaders(rng: Prng, frames: number): HeaderStats {
  const stats: HeaderStats = { frames: 0, valid: 0, errors: 0, failures: [] };
  const fail = (what: string, bytes: Buffer, problem: string) => {
    if (stats.failures.length < 10) stats.failures.push(`${what}: ${problem} [${bytes.toString('hex').slice(0, 200)}]`);
  };
  const tryIt = (what: string, bytes: Buffer, fn: () => unknown) => {
    stats.frames++;
    try { fn(); } catch (e) {
      if (e instanceof DecodeError) stats.errors++;
      else fail(what, bytes, `threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
  };
  while (stats.frames < frames) {
    // A valid request header and body.
    const hv = rng.chance(0.5) ? 2 : 1;
    const apiKey = rng.range(-2, 100);
    const apiVersion = rng.range(-1, 20);
    const correlationId = rng.u32() | 0;
    const clientId = rng.chance(0.1) ? null : randomString(rng, 30);
    const id = clientId === null ? null : Buffer.from(clientId, 'utf8');
    const fixed = Buffer.alloc(10);
    fixed.writeInt16BE(apiKey, 0); fixed.writeInt16BE(apiVersion, 2); fixed.writeInt32BE(correlationId, 4); fixed.writeInt16BE(id ? id.length : -1, 8);
    const tags = hv === 2 ? taggedSection(rng) : Buffer.alloc(0);
    const header = Buffer.concat([fixed, id ?? Buffer.alloc(0), tags]);
    const frame = Buffer.concat([header, randomBody(rng, rng.int(40))]);
    stats.frames++;
    stats.valid++;
    try {
      const h = readRequestHeader(frame, hv as 1 | 2);
      if (!isDeepStrictEqual(h, { apiKey, apiVersion, correlationId, clientId, bodyOffset: header.length })) fail('request header', frame, `read ${JSON.stringify(h)}`);
    } catch (e) {
      fail('request header', frame, `valid header threw ${(e as Error)?.message}`);
    }
    // Mutations of it.
    for (let i = 0; i < 6; i++) {
      const m = Buffer.from(frame);
      const kind = rng.int(6);
      let bytes: Buffer = m;
      if (kind === 0) bytes = m.subarray(0, rng.int(m.length));
      else if (kind === 1) { for (let k = rng.range(1, 3); k > 0; k--) m[rng.int(m.length)] ^= rng.range(1, 255); }
      else if (kind === 2) m.writeInt16BE(rng.pick([-1, -2, -0x8000, 0x7fff, (id?.length ?? 0) + 1, rng.int(0x8000)]), 8);
      else if (kind === 3 && hv === 2) {
        const at = 10 + (id?.length ?? 0);
        bytes = Buffer.concat([m.subarray(0, at), rng.pick([uvarint(0xffffffff), uvarint(2 ** 31), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]), Buffer.from([1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f])]), m.subarray(at + 1)]);
      } else if (kind === 4) bytes = randomBody(rng, rng.int(24));
      else bytes = Buffer.concat([m.subarray(0, rng.int(m.length)), randomBody(rng, rng.range(1, 16))]);
      tryIt('request header', bytes, () => readRequestHeader(bytes, rng.chance(0.5) ? 1 : 2));
    }
    // Response headers: correlation id, then (v1) a tagged section.
    const resp = Buffer.concat([Buffer.alloc(4, 7), rng.chance(0.5) ? taggedSection(rng) : Buffer.alloc(0), randomBody(rng, rng.int(20))]);
    for (let i = 0; i < 3; i++) {
      const bytes = i === 0 ? resp : i === 1 ? resp.subarray(0, rng.int(resp.length)) : Buffer.concat([resp.subarray(0, 4), randomBody(rng, rng.int(12))]);
      tryIt('response header', bytes, () => responseBodyOffset(bytes, rng.chance(0.5) ? 0 : 1));
    }
  }
  return stats;
}
