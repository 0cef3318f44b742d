/**
 * Schema-driven random values: for a MessageSchema and version, a random Decoded value that the encoder can
 * write and the decoder reads back identically (every field present in the version, nullables sometimes null,
 * tagged fields sometimes present, unknown tagged fields sometimes added, edge-case numbers and lengths that
 * cross the varint / int16 boundaries).
 */
import { UNKNOWN_TAGS, type Decoded, type UnknownTag } from '../../../protocol/codec.js';
import {
  type FieldSchema, type MessageSchema, inRange, isArrayType, elementType, isStructType, PRIMITIVES,
} from '../../../protocol/schema.js';
import type { Prng } from './prng.js';

export interface Ctx { version: number; flexible: boolean }

/** Same rule as protocol/codec.ts: tagged only in flexible versions, within taggedVersions (or versions). */
export function isTagged(f: FieldSchema, ctx: Ctx): boolean {
  return f.tag !== undefined && ctx.flexible && inRange(ctx.version, f.taggedVersions ?? f.versions);
}

export function fieldFlexible(f: FieldSchema, ctx: Ctx): boolean {
  return f.flexibleVersions !== undefined ? inRange(ctx.version, f.flexibleVersions) : ctx.flexible;
}

export function ctxFor(schema: MessageSchema, version: number): Ctx {
  return { version, flexible: inRange(version, schema.flexibleVersions) };
}

const ASCII = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/= '];
/** Multi-byte UTF-8 (2, 3 and 4 bytes, surrogate pairs kept whole) and NUL. */
const WIDE = ['\u0000', 'é', 'ß', '日本', '€', '😀', '\u{10ffff}'];

/** Budget of elements per message, so nested arrays stay small. */
interface GenState { rng: Prng; budget: number }

function edgeInt(rng: Prng, bits: 8 | 16 | 32, signed: boolean): number {
  const min = signed ? -(2 ** (bits - 1)) : 0;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  return rng.weighted<() => number>([
    [4, () => rng.range(Math.max(min, -2), Math.min(max, 300))],
    [2, () => rng.pick([min, max, min + 1, max - 1, 0, signed ? -1 : 1])],
    [3, () => min + Math.floor((rng.u32() / 0x1_0000_0000) * (max - min + 1))],
  ])();
}

function edgeInt64(rng: Prng): bigint {
  return rng.weighted<() => bigint>([
    [4, () => BigInt(rng.range(-2, 100_000))],
    [2, () => rng.pick([-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n, 2n ** 32n, -(2n ** 31n) - 1n])],
    [3, () => BigInt.asIntN(64, (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()))],
  ])();
}

function randomDouble(rng: Prng): number {
  for (;;) {
    const b = rng.bytes(8);
    const v = rng.chance(0.5) ? b.readDoubleBE(0) : rng.pick([0, -0, 1.5, -1e300, Infinity, -Infinity, Number.MIN_VALUE, 0.1]);
    if (!Number.isNaN(v)) return v;
  }
}

export function randomString(rng: Prng, maxLen = 12): string {
  const len = rng.weighted<() => number>([
    [8, () => rng.int(maxLen + 1)],
    [1, () => 0],
    [1, () => rng.range(120, 140)], // crosses the 1-byte compact length boundary (127)
  ])();
  let s = '';
  while (s.length < len) s += rng.chance(0.85) ? rng.pick(ASCII) : rng.pick(WIDE);
  return s;
}

function randomLength(st: GenState, typical: number): number {
  const { rng } = st;
  let n = rng.weighted<() => number>([[6, () => rng.int(typical + 1)], [1, () => rng.range(typical, typical * 3)]])();
  n = Math.min(n, st.budget);
  st.budget -= n;
  return n;
}

function genValue(st: GenState, f: FieldSchema, type: string, ctx: Ctx, asElement = false): any {
  const { rng } = st;
  const nullable = !asElement && inRange(ctx.version, f.nullableVersions);
  switch (type) {
    case 'bool': return rng.chance(0.5);
    case 'int8': return edgeInt(rng, 8, true);
    case 'int16': return edgeInt(rng, 16, true);
    case 'uint16': return edgeInt(rng, 16, false);
    case 'int32': return edgeInt(rng, 32, true);
    case 'uint32': return edgeInt(rng, 32, false);
    case 'int64': return edgeInt64(rng);
    case 'float64': return randomDouble(rng);
    case 'uuid': return rng.bytes(16).toString('base64url');
    case 'string': return nullable && rng.chance(0.15) ? null : randomString(rng);
    case 'bytes': case 'records':
      return nullable && rng.chance(0.15) ? null : rng.bytes(rng.weighted<() => number>([[8, () => rng.int(24)], [1, () => rng.range(120, 300)]])());
  }
  if (isArrayType(type)) {
    if (nullable && rng.chance(0.15)) return null;
    const et = elementType(type);
    const n = randomLength(st, 3);
    const out: any[] = [];
    for (let i = 0; i < n; i++) {
      out.push(PRIMITIVES.has(et) ? genValue(st, f, et, ctx, true) : genStruct(st, f.fields ?? [], ctx));
    }
    return out;
  }
  if (isStructType(type)) {
    if (nullable && rng.chance(0.2)) return null;
    return genStruct(st, f.fields ?? [], ctx);
  }
  throw new Error(`unknown type ${type}`);
}

function genStruct(st: GenState, fields: FieldSchema[], ctx: Ctx): Decoded {
  const { rng } = st;
  const out: Decoded = {};
  const knownTags = new Set<number>();
  for (const f of fields) {
    if (isTagged(f, ctx)) {
      knownTags.add(f.tag!);
      if (rng.chance(0.5)) out[f.name] = genValue(st, f, f.type, ctx);
    } else if (inRange(ctx.version, f.versions)) {
      out[f.name] = genValue(st, f, f.type, ctx);
    }
  }
  if (ctx.flexible && rng.chance(0.15)) {
    const tags = new Set<number>();
    const n = rng.range(1, 3);
    for (let i = 0; i < n; i++) {
      const t = rng.weighted<() => number>([[4, () => rng.int(16)], [1, () => rng.int(2 ** 31)], [1, () => 0xffffffff]])();
      if (!knownTags.has(t)) tags.add(t);
    }
    if (tags.size > 0) {
      out[UNKNOWN_TAGS] = [...tags].sort((a, b) => a - b)
        .map((tag): UnknownTag => ({ tag, data: rng.bytes(rng.weighted<() => number>([[6, () => rng.int(8)], [1, () => rng.range(127, 200)]])()) }));
    }
  }
  return out;
}

/** A random valid value of `schema` at `version`. */
export function randomMessage(rng: Prng, schema: MessageSchema, version: number, budget = 24): Decoded {
  return genStruct({ rng, budget }, schema.fields, ctxFor(schema, version));
}
