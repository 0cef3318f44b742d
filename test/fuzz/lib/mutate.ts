/**
 * Mutations of a valid encoding: truncation, byte flips, corrupted length fields (negative, huge, off by one,
 * 0x7fffffff counts), invalid varints, trailing bytes, random tails, inserted / deleted bytes.
 */
import type { Prng } from './prng.js';
import type { Site } from './layout.js';

export interface Mutation { kind: string; bytes: Buffer }

function uvarintBytes(v: number): Buffer {
  const out: number[] = [];
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return Buffer.from(out);
}

/** Replaces buf[off, off+width) with `rep`. */
function splice(buf: Buffer, off: number, width: number, rep: Buffer): Buffer {
  return Buffer.concat([buf.subarray(0, off), rep, buf.subarray(off + width)]);
}

/** Invalid or extreme unsigned varints (the encoded value, as a compact length, is value - 1). */
const BAD_UVARINTS: readonly Buffer[] = [
  Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // 6 continuation bytes
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), // 9 continuation bytes
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f]), // 5 bytes, beyond 32 bits
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f]), // 5 bytes, beyond 32 bits
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), // 0xffffffff: a length of 2^32 - 2
  Buffer.from([0x80, 0x80, 0x80, 0x80, 0x08]), // 2^31: a length of 0x7fffffff
  Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x07]), // 0x7ffffffe
  Buffer.from([0x80, 0x00]), // non-minimal 0 (null)
  Buffer.from([0x81, 0x80, 0x00]), // non-minimal 1 (empty)
  Buffer.from([0x80]), // continuation then whatever follows
];

function intLengthValues(site: Site): number[] {
  const v = site.value;
  const common = [-1, -2, -0x8000, v + 1, v - 1, v + 2, 0, 1];
  return site.enc === 'int16'
    ? [...common, 0x7fff, 0x4000]
    : [...common, -0x80000000, 0x7fffffff, 0x7ffffffe, 0x10000000, 0xffff];
}

function corruptSite(rng: Prng, buf: Buffer, site: Site): Mutation {
  const kind = `${site.role}:${site.field}`;
  if (site.enc === 'int8') {
    const b = Buffer.from([rng.pick([0, 2, 0xfe, 0x7f, 0x80, rng.int(256)])]);
    return { kind: `marker ${kind}`, bytes: splice(buf, site.off, 1, b) };
  }
  if (site.enc === 'int16' || site.enc === 'int32') {
    const v = rng.chance(0.85) ? rng.pick(intLengthValues(site)) : (rng.u32() | 0);
    const b = Buffer.alloc(site.enc === 'int16' ? 2 : 4);
    if (site.enc === 'int16') b.writeInt16BE(((v << 16) >> 16), 0); else b.writeInt32BE(v | 0, 0);
    return { kind: `${site.enc}=${site.enc === 'int16' ? (v << 16) >> 16 : v | 0} ${kind}`, bytes: splice(buf, site.off, site.width, b) };
  }
  // uvarint
  const choice = rng.int(10);
  if (choice < 4) {
    const rep = rng.pick(BAD_UVARINTS);
    return { kind: `uvarint=${rep.toString('hex')} ${kind}`, bytes: splice(buf, site.off, site.width, rep) };
  }
  if (choice < 5) {
    // The varint cut off by the end of the buffer.
    return { kind: `uvarint-truncated ${kind}`, bytes: Buffer.concat([buf.subarray(0, site.off), Buffer.from([0x80 | rng.int(128)])]) };
  }
  const raw = site.role === 'tag-count' || site.role === 'tag-id' || site.role === 'tag-size' ? site.value : site.value + 1;
  const v = rng.pick([0, 1, raw + 1, raw - 1, raw + 2, 0x7fffffff, 0xffffffff, 0x80000000, raw + 128]);
  const nv = Math.min(Math.max(v, 0), 0xffffffff);
  return { kind: `uvarint=${nv} ${kind}`, bytes: splice(buf, site.off, site.width, uvarintBytes(nv)) };
}

/** One random mutation of `buf` (a valid encoding whose layout is `sites`). */
export function mutate(rng: Prng, buf: Buffer, sites: readonly Site[]): Mutation {
  const kind = rng.weighted<string>([
    [5, 'truncate'], [4, 'flip'], [sites.length > 0 ? 10 : 0, 'site'], [2, 'trailing'],
    [2, 'random-tail'], [1, 'insert'], [1, 'delete'], [1, 'random'], [1, 'duplicate'],
  ]);
  switch (kind) {
    case 'truncate': {
      const at = rng.int(buf.length);
      return { kind: `truncate@${at}`, bytes: buf.subarray(0, at) };
    }
    case 'flip': {
      const out = Buffer.from(buf);
      const n = rng.range(1, 4);
      for (let i = 0; i < n && out.length > 0; i++) out[rng.int(out.length)] ^= rng.range(1, 255);
      return { kind: `flip x${n}`, bytes: out };
    }
    case 'site': return corruptSite(rng, buf, rng.pick(sites));
    case 'trailing': return { kind: 'trailing', bytes: Buffer.concat([buf, rng.bytes(rng.range(1, 16))]) };
    case 'random-tail': {
      const at = rng.int(buf.length + 1);
      return { kind: `random-tail@${at}`, bytes: Buffer.concat([buf.subarray(0, at), rng.bytes(rng.range(1, 64))]) };
    }
    case 'insert': {
      const at = rng.int(buf.length + 1);
      return { kind: `insert@${at}`, bytes: Buffer.concat([buf.subarray(0, at), rng.bytes(rng.range(1, 4)), buf.subarray(at)]) };
    }
    case 'delete': {
      const at = rng.int(buf.length);
      return { kind: `delete@${at}`, bytes: Buffer.concat([buf.subarray(0, at), buf.subarray(at + rng.range(1, 4))]) };
    }
    case 'duplicate': return { kind: 'duplicate', bytes: Buffer.concat([buf, buf]) };
    default: return { kind: 'random', bytes: rng.bytes(rng.int(96)) };
  }
}

/** Random bytes with a bias towards the values that matter to length fields (0x00, 0xff, 0x7f, 0x80). */
export function randomBody(rng: Prng, n: number): Buffer {
  const b = rng.bytes(n);
  for (let i = 0; i < n; i++) if (rng.chance(0.3)) b[i] = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x01]);
  return b;
}

/**
 * Every extreme value for one length site (not random): what the decoder must reject fast, or accept, without
 * allocating for the claimed length. Used on one message per version so every site sees every value.
 */
export function extremeSiteMutations(buf: Buffer, site: Site): Mutation[] {
  const out: Mutation[] = [];
  const kind = `${site.role}:${site.field}`;
  if (site.enc === 'int8') {
    for (const v of [0, 2, -2, 127]) out.push({ kind: `marker=${v} ${kind}`, bytes: splice(buf, site.off, 1, Buffer.from([v & 0xff])) });
  } else if (site.enc === 'int16' || site.enc === 'int32') {
    const values = site.enc === 'int16' ? [-1, -2, -0x8000, 0x7fff, site.value + 1, site.value - 1] : [-1, -2, -0x80000000, 0x7fffffff, site.value + 1, site.value - 1];
    for (const v of values) {
      const b = Buffer.alloc(site.width);
      if (site.enc === 'int16') b.writeInt16BE((v << 16) >> 16, 0); else b.writeInt32BE(v | 0, 0);
      out.push({ kind: `${site.enc}=${v} ${kind}`, bytes: splice(buf, site.off, site.width, b) });
    }
  } else {
    const raw = site.role === 'tag-count' || site.role === 'tag-id' || site.role === 'tag-size' ? site.value : site.value + 1;
    for (const v of [0, 0x80000000, 0xffffffff, raw + 1, Math.max(raw - 1, 0)]) {
      out.push({ kind: `uvarint=${v} ${kind}`, bytes: splice(buf, site.off, site.width, uvarintBytes(v)) });
    }
    out.push({ kind: `uvarint=6-continuation ${kind}`, bytes: splice(buf, site.off, site.width, BAD_UVARINTS[0]) });
  }
  return out;
}
