/**
 * Layout of a VALID encoding: walks the bytes by the schema (independently of the codec) and records where
 * every length prefix, array count, tagged-section count / tag / size and nullable-struct marker sits, so
 * the mutator can corrupt exactly those fields (negative, huge, off by one, invalid varints).
 */
import type { FieldSchema, MessageSchema } from '../../../protocol/schema.js';
import { inRange, isArrayType, elementType, isStructType, PRIMITIVES } from '../../../protocol/schema.js';
import { ctxFor, fieldFlexible, isTagged, type Ctx } from './gen.js';

export type SiteEnc = 'int16' | 'int32' | 'uvarint' | 'int8';
export type SiteRole = 'string' | 'bytes' | 'array' | 'tag-count' | 'tag-id' | 'tag-size' | 'null-marker';
export interface Site { off: number; width: number; enc: SiteEnc; role: SiteRole; value: number; field: string }

const FIXED: Record<string, number> = { bool: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, float64: 8, uuid: 16 };

class Walker {
  readonly sites: Site[] = [];
  constructor(readonly buf: Buffer) {}

  uvarint(off: number): [number, number] {
    let v = 0;
    for (let i = 0; ; i++) {
      if (i >= 5 || off + i >= this.buf.length) throw new Error(`layout: bad varint at ${off} (input must be a valid encoding)`);
      const b = this.buf[off + i];
      v += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) return [v, i + 1];
    }
  }

  /** Reads a length prefix, records it, returns [length (-1 = null), offset after it]. */
  length(off: number, flex: boolean, wide: boolean, role: SiteRole, field: string): [number, number] {
    if (flex) {
      const [v, w] = this.uvarint(off);
      this.sites.push({ off, width: w, enc: 'uvarint', role, value: v - 1, field });
      return [v - 1, off + w];
    }
    const n = wide ? this.buf.readInt32BE(off) : this.buf.readInt16BE(off);
    this.sites.push({ off, width: wide ? 4 : 2, enc: wide ? 'int32' : 'int16', role, value: n, field });
    return [n, off + (wide ? 4 : 2)];
  }

  value(f: FieldSchema, type: string, ctx: Ctx, off: number, asElement = false): number {
    const flex = fieldFlexible(f, ctx);
    const fixed = FIXED[type];
    if (fixed) return off + fixed;
    if (type === 'string' || type === 'bytes' || type === 'records') {
      const [n, o] = this.length(off, flex, type !== 'string', type === 'string' ? 'string' : 'bytes', f.name);
      return o + Math.max(n, 0);
    }
    if (isArrayType(type)) {
      const et = elementType(type);
      let [n, o] = this.length(off, flex, true, 'array', f.name);
      for (let i = 0; i < n; i++) o = PRIMITIVES.has(et) ? this.value(f, et, ctx, o, true) : this.struct(f.fields ?? [], ctx, o);
      return o;
    }
    if (isStructType(type)) {
      if (!asElement && inRange(ctx.version, f.nullableVersions)) {
        const m = this.buf.readInt8(off);
        this.sites.push({ off, width: 1, enc: 'int8', role: 'null-marker', value: m, field: f.name });
        return m === -1 ? off + 1 : this.struct(f.fields ?? [], ctx, off + 1);
      }
      return this.struct(f.fields ?? [], ctx, off);
    }
    throw new Error(`layout: unknown type ${type}`);
  }

  struct(fields: FieldSchema[], ctx: Ctx, off: number): number {
    for (const f of fields) {
      if (!inRange(ctx.version, f.versions) || isTagged(f, ctx)) continue;
      off = this.value(f, f.type, ctx, off);
    }
    if (!ctx.flexible) return off;
    const byTag = new Map(fields.filter((f) => isTagged(f, ctx)).map((f) => [f.tag!, f]));
    const [count, w] = this.uvarint(off);
    this.sites.push({ off, width: w, enc: 'uvarint', role: 'tag-count', value: count, field: '(tags)' });
    off += w;
    for (let i = 0; i < count; i++) {
      const [tag, tw] = this.uvarint(off);
      this.sites.push({ off, width: tw, enc: 'uvarint', role: 'tag-id', value: tag, field: `(tag ${tag})` });
      off += tw;
      const [size, sw] = this.uvarint(off);
      this.sites.push({ off, width: sw, enc: 'uvarint', role: 'tag-size', value: size, field: `(tag ${tag})` });
      off += sw;
      const known = byTag.get(tag);
      if (known) {
        const end = this.value(known, known.type, ctx, off);
        if (end !== off + size) throw new Error(`layout: tagged field ${tag} size mismatch`);
      }
      off += size;
    }
    return off;
  }
}

/** Sites of a valid encoding of `schema` at `version`; throws if the bytes are not exactly one valid body. */
export function layoutOf(schema: MessageSchema, version: number, buf: Buffer): Site[] {
  const w = new Walker(buf);
  const end = w.struct(schema.fields, ctxFor(schema, version), 0);
  if (end !== buf.length) throw new Error(`layout: walked ${end} of ${buf.length} bytes`);
  return w.sites;
}

/** Offset of the top-level tagged section of a valid flexible encoding (what skipperTo(schema, v) returns). */
export function topTaggedOffset(schema: MessageSchema, version: number, buf: Buffer): number {
  const ctx = ctxFor(schema, version);
  const w = new Walker(buf);
  let off = 0;
  for (const f of schema.fields) {
    if (!inRange(ctx.version, f.versions) || isTagged(f, ctx)) continue;
    off = w.value(f, f.type, ctx, off);
  }
  return off;
}
