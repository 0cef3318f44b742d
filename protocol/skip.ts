/**
 * Skippers: walk a message's layout from the schema without building any values, to find where a field or
 * the top-level tagged section starts. Used on the hot path (Produce acks, leader hints in Produce/Fetch
 * responses) where decoding whole bodies would cost allocations per partition.
 *
 * The schema is first reduced to a layout (`Step`s: fixed widths, length-prefixed runs, arrays, structs,
 * tagged sections); `skipperTo` turns a layout into closures over one buffer, and stream-walk.ts walks the
 * same layout over bytes that arrive in chunks.
 */
import { DecodeError } from './codec.js';
import { readUvarint, skipTaggedSection } from './header.js';
import { type FieldSchema, type MessageSchema, inRange, isArrayType, elementType, isStructType } from './schema.js';

/** One element of a message layout, as far as skipping it is concerned. */
export type Step =
  | { k: 'fixed'; n: number }
  /** string / bytes / records: a length (varint n+1 when flexible, else int16 for strings, int32 for bytes) */
  | { k: 'sized'; flex: boolean; wide: boolean }
  /** an array: a count (varint n+1 when flexible, else int32), then elements of `fixed` bytes or `elem` */
  | { k: 'array'; flex: boolean; fixed?: number; elem: Step[] }
  | { k: 'struct'; nullable: boolean; body: Step[] }
  /** a tagged-field section: a count, then (tag, size, bytes) entries */
  | { k: 'tags' };

interface Ctx { version: number; flexible: boolean }

const FIXED: Record<string, number> = { bool: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, float64: 8, uuid: 16 };

function isTagged(f: FieldSchema, ctx: Ctx): boolean {
  return f.tag !== undefined && ctx.flexible && inRange(ctx.version, f.taggedVersions ?? f.versions);
}

function valueStep(f: FieldSchema, type: string, ctx: Ctx): Step {
  const flex = f.flexibleVersions !== undefined ? inRange(ctx.version, f.flexibleVersions) : ctx.flexible;
  const fixed = FIXED[type];
  if (fixed) return { k: 'fixed', n: fixed };
  if (type === 'string' || type === 'bytes' || type === 'records') return { k: 'sized', flex, wide: type !== 'string' };
  if (isArrayType(type)) {
    const et = elementType(type);
    if (FIXED[et]) return { k: 'array', flex, fixed: FIXED[et], elem: [] };
    return { k: 'array', flex, elem: isStructType(et) ? structSteps(f.fields ?? [], ctx) : [valueStep(f, et, ctx)] };
  }
  if (isStructType(type)) return { k: 'struct', nullable: inRange(ctx.version, f.nullableVersions), body: structSteps(f.fields ?? [], ctx) };
  throw new Error(`schema field ${f.name}: unknown type "${type}"`);
}

function fieldSteps(fields: FieldSchema[], ctx: Ctx): Step[] {
  return fields.filter((f) => inRange(ctx.version, f.versions) && !isTagged(f, ctx)).map((f) => valueStep(f, f.type, ctx));
}

function structSteps(fields: FieldSchema[], ctx: Ctx): Step[] {
  const steps = fieldSteps(fields, ctx);
  return ctx.flexible ? [...steps, { k: 'tags' }] : steps;
}

/**
 * The layout of a message's top-level non-tagged fields listed before `stopAt` (all of them when stopAt is
 * undefined). The top-level tagged section, if any, follows the last of them.
 */
export function layoutTo(schema: MessageSchema, version: number, stopAt?: string): Step[] {
  const ctx: Ctx = { version, flexible: inRange(version, schema.flexibleVersions) };
  const fields = schema.fields.filter((f) => inRange(version, f.versions) && !isTagged(f, ctx));
  const idx = stopAt === undefined ? fields.length : fields.findIndex((f) => f.name === stopAt);
  if (idx < 0) throw new Error(`${schema.name} v${version} has no field ${stopAt}`);
  return fields.slice(0, idx).map((f) => valueStep(f, f.type, ctx));
}

// -----------------------------------------------------------------------------------------------------
// Skipping over one buffer

type Skip = (buf: Buffer, off: number) => number;

function need(buf: Buffer, off: number): number {
  if (off > buf.length) throw new DecodeError('truncated body');
  return off;
}

function lengthOf(buf: Buffer, off: number, flex: boolean, wide: boolean): [number, number] {
  if (flex) { const [n, o] = readUvarint(buf, off); return [n - 1, o]; }
  need(buf, off + (wide ? 4 : 2));
  return wide ? [buf.readInt32BE(off), off + 4] : [buf.readInt16BE(off), off + 2];
}

function compile(step: Step): Skip {
  switch (step.k) {
    case 'fixed': { const n = step.n; return (buf, off) => need(buf, off + n); }
    case 'sized': {
      const { flex, wide } = step;
      return (buf, off) => { const [n, o] = lengthOf(buf, off, flex, wide); return need(buf, o + Math.max(n, 0)); };
    }
    case 'array': {
      const { flex, fixed } = step;
      const elem = compileAll(step.elem);
      return (buf, off) => {
        const [n, o] = lengthOf(buf, off, flex, true);
        if (fixed) return need(buf, o + Math.max(n, 0) * fixed);
        // Every element takes at least one byte, so a count beyond the bytes left is corrupt (not a long loop).
        if (n > buf.length - o) throw new DecodeError(`array of ${n} elements in ${buf.length - o} bytes`);
        let p = o;
        for (let i = 0; i < n; i++) p = elem(buf, p);
        return p;
      };
    }
    case 'struct': {
      const inner = compileAll(step.body);
      if (!step.nullable) return inner;
      return (buf, off) => { need(buf, off + 1); return buf.readInt8(off) === -1 ? off + 1 : inner(buf, off + 1); };
    }
    case 'tags': return skipTaggedSection;
  }
}

function compileAll(steps: Step[]): Skip {
  const parts = steps.map(compile);
  return (buf, off) => { for (const p of parts) off = p(buf, off); return off; };
}

const cache = new WeakMap<MessageSchema, Map<string | undefined, Skip[]>>();

/**
 * A function returning the offset just after the top-level non-tagged fields listed before `stopAt`
 * (or all of them when stopAt is undefined), starting at `off`.
 */
export function skipperTo(schema: MessageSchema, version: number, stopAt?: string): Skip {
  // Looked up per Produce request (acks) and response (leader hints): no key string is built per call.
  let byStop = cache.get(schema);
  if (!byStop) { byStop = new Map(); cache.set(schema, byStop); }
  let byVersion = byStop.get(stopAt);
  if (!byVersion) { byVersion = []; byStop.set(stopAt, byVersion); }
  let s = byVersion[version];
  if (!s) { s = compileAll(layoutTo(schema, version, stopAt)); byVersion[version] = s; }
  return s;
}

/** One entry of a tagged section: its tag, and where the entry (tag and size prefix included) starts and ends. */
export interface TaggedEntry { tag: number; start: number; end: number }

/** The entries of the tagged section at `off`, in the order they appear (ascending tags in a valid body). */
export function taggedEntries(buf: Buffer, off: number): TaggedEntry[] {
  const entries: TaggedEntry[] = [];
  let count: number, tag: number, size: number;
  [count, off] = readUvarint(buf, off);
  for (let i = 0; i < count; i++) {
    const start = off;
    [tag, off] = readUvarint(buf, off);
    [size, off] = readUvarint(buf, off);
    off = need(buf, off + size);
    entries.push({ tag, start, end: off });
  }
  return entries;
}
