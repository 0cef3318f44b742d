/**
 * Skippers: walk a message's layout from the schema without building any values, to find where a field or
 * the top-level tagged section starts. Used on the hot path (Produce acks, leader hints in Produce/Fetch
 * responses) where decoding whole bodies would cost allocations per partition.
 */
import { DecodeError } from './codec.js';
import { readUvarint } from './header.js';
import { type FieldSchema, type MessageSchema, inRange, isArrayType, elementType, isStructType } from './schema.js';

type Skip = (buf: Buffer, off: number) => number;
interface Ctx { version: number; flexible: boolean }

function need(buf: Buffer, off: number): number {
  if (off > buf.length) throw new DecodeError('truncated body');
  return off;
}

const FIXED: Record<string, number> = { bool: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, float64: 8, uuid: 16 };

function lengthOf(buf: Buffer, off: number, flex: boolean, wide: boolean): [number, number] {
  if (flex) { const [n, o] = readUvarint(buf, off); return [n - 1, o]; }
  need(buf, off + (wide ? 4 : 2));
  return wide ? [buf.readInt32BE(off), off + 4] : [buf.readInt16BE(off), off + 2];
}

function isTagged(f: FieldSchema, ctx: Ctx): boolean {
  return f.tag !== undefined && ctx.flexible && inRange(ctx.version, f.taggedVersions ?? f.versions);
}

function valueSkipper(f: FieldSchema, type: string, ctx: Ctx): Skip {
  const flex = f.flexibleVersions !== undefined ? inRange(ctx.version, f.flexibleVersions) : ctx.flexible;
  const fixed = FIXED[type];
  if (fixed) return (buf, off) => need(buf, off + fixed);
  if (type === 'string' || type === 'bytes' || type === 'records') {
    const wide = type !== 'string';
    return (buf, off) => { const [n, o] = lengthOf(buf, off, flex, wide); return need(buf, o + Math.max(n, 0)); };
  }
  if (isArrayType(type)) {
    const et = elementType(type);
    const elem = FIXED[et] === undefined && isStructType(et) ? structSkipper(f.fields ?? [], ctx) : valueSkipper(f, et, ctx);
    const fixedElem = FIXED[et];
    return (buf, off) => {
      const [n, o] = lengthOf(buf, off, flex, true);
      if (fixedElem) return need(buf, o + Math.max(n, 0) * fixedElem);
      let p = o;
      for (let i = 0; i < n; i++) p = elem(buf, p);
      return p;
    };
  }
  if (isStructType(type)) {
    const inner = structSkipper(f.fields ?? [], ctx);
    if (!inRange(ctx.version, f.nullableVersions)) return inner;
    return (buf, off) => { need(buf, off + 1); return buf.readInt8(off) === -1 ? off + 1 : inner(buf, off + 1); };
  }
  throw new Error(`schema field ${f.name}: unknown type "${type}"`);
}

function skipTagged(buf: Buffer, off: number): number {
  let count: number, size: number;
  [count, off] = readUvarint(buf, off);
  for (let i = 0; i < count; i++) {
    [, off] = readUvarint(buf, off);
    [size, off] = readUvarint(buf, off);
    off = need(buf, off + size);
  }
  return off;
}

function fieldSkippers(fields: FieldSchema[], ctx: Ctx): Skip[] {
  return fields.filter((f) => inRange(ctx.version, f.versions) && !isTagged(f, ctx)).map((f) => valueSkipper(f, f.type, ctx));
}

function structSkipper(fields: FieldSchema[], ctx: Ctx): Skip {
  const parts = fieldSkippers(fields, ctx);
  const flexible = ctx.flexible;
  return (buf, off) => {
    for (const s of parts) off = s(buf, off);
    return flexible ? skipTagged(buf, off) : off;
  };
}

const cache = new WeakMap<MessageSchema, Map<string, Skip>>();

/**
 * A function returning the offset just after the top-level non-tagged fields listed before `stopAt`
 * (or all of them when stopAt is undefined), starting at `off`.
 */
export function skipperTo(schema: MessageSchema, version: number, stopAt?: string): Skip {
  let m = cache.get(schema);
  if (!m) { m = new Map(); cache.set(schema, m); }
  const key = `${version}:${stopAt ?? ''}`;
  let s = m.get(key);
  if (s) return s;
  const ctx: Ctx = { version, flexible: inRange(version, schema.flexibleVersions) };
  const fields = schema.fields.filter((f) => inRange(version, f.versions) && !isTagged(f, ctx));
  const idx = stopAt === undefined ? fields.length : fields.findIndex((f) => f.name === stopAt);
  if (idx < 0) throw new Error(`${schema.name} v${version} has no field ${stopAt}`);
  const parts = fields.slice(0, idx).map((f) => valueSkipper(f, f.type, ctx));
  s = (buf, off) => { for (const p of parts) off = p(buf, off); return off; };
  m.set(key, s);
  return s;
}

/** Tags present in the tagged section at `off` (top level of a flexible body). */
export function tagsAt(buf: Buffer, off: number): number[] {
  const tags: number[] = [];
  let count: number, tag: number, size: number;
  [count, off] = readUvarint(buf, off);
  for (let i = 0; i < count; i++) {
    [tag, off] = readUvarint(buf, off);
    [size, off] = readUvarint(buf, off);
    off = need(buf, off + size);
    tags.push(tag);
  }
  return tags;
}
