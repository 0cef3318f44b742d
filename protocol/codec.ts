/**
 * Decoders and encoders built from the declarative message schemas (protocol/schema.ts).
 *
 * Decoders are binary-parser parsers compiled once per (message, version) and cached. The reusable pieces
 * are the unsigned varint, the (compact) nullable string / bytes / array, and the tagged-field section;
 * everything else is assembled from the schema, so no parser is written by hand for any API version.
 * The encoder walks the same schema and writes exactly the layout the decoder reads, so a decoded message
 * re-encodes byte for byte (unknown tagged fields are carried through as raw bytes).
 */
import { isUtf8 } from 'node:buffer';
import { javaUtf8 } from './java-utf8.js';
import { Parser } from 'binary-parser';
import {
  type FieldSchema, type MessageSchema, inRange, isArrayType, elementType, isStructType, PRIMITIVES,
} from './schema.js';

/**
 * A decoded struct: field name → value, plus unknown tagged fields kept for re-encoding. The generated types
 * (protocol/messages/*.ts, e.g. CreateTopicsRequest) say which fields and value types each message has:
 * bool → boolean; int8-int32, uint16, uint32, float64 → number; int64 → bigint; string → string; uuid → string
 * (Kafka's base64url form); bytes and records → Buffer; arrays → arrays; structs → objects; nullable → | null.
 */
export type Decoded = Record<string, any>;
export interface UnknownTag { tag: number; data: Buffer }
export const UNKNOWN_TAGS = '_unknownTags';

export class DecodeError extends Error {
  constructor(message: string) { super(message); this.name = 'DecodeError'; }
}

// ---------------------------------------------------------------------------------------------------------
// Reusable decoder pieces

/** Unsigned varint: bytes until one without the continuation bit; Kafka allows at most 5 for 32-bit values. */
const uvarintBytes = new Parser().array('b', {
  type: 'uint8',
  readUntil: function (item: number) { return (item & 0x80) === 0; },
});

function varintValue(o: { b: number[] }): number {
  const bytes = o.b;
  if (bytes.length > 5) throw new DecodeError('unsigned varint longer than 5 bytes');
  let value = 0;
  for (let i = 0; i < bytes.length; i++) value += (bytes[i] & 0x7f) * 2 ** (7 * i);
  if (value > 0xffffffff) throw new DecodeError('unsigned varint exceeds 32 bits');
  return value;
}

function uvarint(): Parser {
  return new Parser().nest('n', { type: uvarintBytes, formatter: varintValue as (o: any) => any });
}

type LengthKind = 'int16' | 'int32' | 'uvarint';

/** A length prefix in field "n": int16/int32 use -1 for null, uvarint stores length + 1 (0 for null). */
function lengthPrefix(kind: LengthKind): Parser {
  if (kind === 'int16') return new Parser().int16be('n');
  if (kind === 'int32') return new Parser().int32be('n');
  return new Parser().nest('n', { type: uvarintBytes, formatter: (o: any) => varintValue(o) - 1 });
}

/** Length of the input being parsed: a count is checked against the bytes left (see checkedCount). */
let inputEnd = 0;

/** Runs a parse of `buf` with inputEnd set to its length (parses nest: tagged fields are parsed inside a parse). */
function parseWithin(parser: Parser, buf: Buffer): any {
  const outer = inputEnd;
  inputEnd = buf.length;
  try {
    return parser.parse(buf);
  } finally {
    inputEnd = outer;
  }
}

function checkedCount(n: number, offset: number, what: string): number {
  if (n > inputEnd - offset) throw new DecodeError(`${what} has ${n} elements but only ${Math.max(inputEnd - offset, 0)} bytes are left`);
  return n > 0 ? n : 0;
}

function nullCheck(n: number, nullable: boolean, what: string): boolean {
  if (n >= 0) return false;
  if (n === -1 && nullable) return true;
  throw new DecodeError(n === -1 ? `${what} is null but not nullable in this version` : `${what} has negative length ${n}`);
}

/**
 * A string field as Kafka's broker reads it: at most 32767 bytes, compact or not (its generated readers refuse
 * longer ones), decoded the way the JDK decodes UTF-8, so a malformed name reads as the same string the broker
 * acts on.
 */
function kafkaString(bytes: Buffer, length: number, what: string): string {
  if (length > 0x7fff) throw new DecodeError(`${what} is a string of ${length} bytes; Kafka refuses strings over 32767 bytes`);
  return isUtf8(bytes) ? bytes.toString('utf8') : javaUtf8(bytes);
}

function sizedParser(kind: LengthKind, body: 'string' | 'buffer'): Parser {
  const p = lengthPrefix(kind);
  const length = function (this: any) { return this.n > 0 ? this.n : 0; };
  return body === 'string' ? p.string('v', { length, encoding: 'utf8' }) : p.buffer('v', { length });
}

const sizedCache = new Map<string, Parser>();
function sized(kind: LengthKind, body: 'string' | 'buffer'): Parser {
  const key = kind + body;
  let p = sizedCache.get(key);
  if (!p) { p = sizedParser(kind, body); sizedCache.set(key, p); }
  return p;
}

/** Tagged-field section: a uvarint count, then (tag, size, bytes) entries in ascending tag order. */
const taggedSection = new Parser()
  .nest('count', { type: uvarintBytes, formatter: varintValue as (o: any) => any })
  .array('entries', {
    length: 'count',
    type: new Parser()
      .nest('tag', { type: uvarintBytes, formatter: varintValue as (o: any) => any })
      .nest('size', { type: uvarintBytes, formatter: varintValue as (o: any) => any })
      .buffer('data', { length: 'size' }),
  });

// ---------------------------------------------------------------------------------------------------------
// Compiling a schema into a parser

interface Ctx { version: number; flexible: boolean }

function fieldFlexible(field: FieldSchema, ctx: Ctx): boolean {
  return field.flexibleVersions !== undefined ? inRange(ctx.version, field.flexibleVersions) : ctx.flexible;
}

function isTagged(field: FieldSchema, ctx: Ctx): boolean {
  return field.tag !== undefined && ctx.flexible && inRange(ctx.version, field.taggedVersions ?? field.versions);
}

function present(field: FieldSchema, ctx: Ctx): boolean {
  return inRange(ctx.version, field.versions) || isTagged(field, ctx);
}

const fixedWidth: Record<string, (p: Parser, name: string) => Parser> = {
  bool: (p, n) => p.uint8(n, { formatter: (v: number) => v !== 0 }),
  int8: (p, n) => p.int8(n),
  int16: (p, n) => p.int16be(n),
  uint16: (p, n) => p.uint16be(n),
  int32: (p, n) => p.int32be(n),
  uint32: (p, n) => p.uint32be(n),
  int64: (p, n) => p.int64be(n),
  float64: (p, n) => p.doublebe(n),
  uuid: (p, n) => p.buffer(n, { length: 16, formatter: (b: Buffer) => uuidToString(b) }),
};

/** Appends one (non-tagged) field of the given type to parser p under `name`. */
function appendValue(p: Parser, name: string, field: FieldSchema, type: string, ctx: Ctx): Parser {
  const nullable = inRange(ctx.version, field.nullableVersions);
  const flex = fieldFlexible(field, ctx);
  const fixed = fixedWidth[type];
  if (fixed) return fixed(p, name);
  const what = field.name;
  if (type === 'string') {
    return p.nest(name, { type: sized(flex ? 'uvarint' : 'int16', 'buffer'), formatter: (o: any) => (nullCheck(o.n, nullable, what) ? null : kafkaString(o.v, o.n, what)) });
  }
  if (type === 'bytes' || type === 'records') {
    return p.nest(name, { type: sized(flex ? 'uvarint' : 'int32', 'buffer'), formatter: (o: any) => (nullCheck(o.n, nullable, what) ? null : o.v) });
  }
  if (isArrayType(type)) {
    const elemType = elementType(type);
    const elem = PRIMITIVES.has(elemType)
      ? appendValue(new Parser(), 'v', field, elemType, { ...ctx, version: ctx.version })
      : structParser(field.fields ?? [], ctx);
    // Like Kafka's readers, a count beyond the bytes left is corrupt: without this check an array of elements
    // binary-parser reads without bounds checks (uuids, empty structs) would loop and allocate up to 2^32 times.
    const arr = lengthPrefix(flex ? 'uvarint' : 'int32').saveOffset('o')
      .array('v', { type: elem, length: function (this: any) { return checkedCount(this.n, this.o, what); } });
    const unwrap = PRIMITIVES.has(elemType) ? (e: any) => e.v : (e: any) => unwrapStruct(e, ctx);
    return p.nest(name, {
      type: arr,
      formatter: (o: any) => (nullCheck(o.n, nullable, what) ? null : o.v.map(unwrap)),
    });
  }
  if (isStructType(type)) {
    const struct = structParser(field.fields ?? [], ctx);
    if (!nullable) return p.nest(name, { type: struct, formatter: (o: any) => unwrapStruct(o, ctx) });
    // A nullable struct is preceded by a marker byte: -1 null, 1 present.
    const marked = new Parser().int8('m').choice('v', {
      tag: 'm', choices: { [-1]: new Parser(), 1: struct },
      defaultChoice: new Parser().seek(function () { throw new DecodeError(`${what}: invalid null marker`); }),
    });
    return p.nest(name, { type: marked, formatter: (o: any) => (o.m === -1 ? null : unwrapStruct(o.v, ctx)) });
  }
  throw new Error(`schema field ${field.name}: unknown type "${type}"`);
}

/** Decoders for a struct's tagged fields, by tag number. */
function taggedDecoders(fields: FieldSchema[], ctx: Ctx): Map<number, { field: FieldSchema; parser: Parser }> {
  const m = new Map<number, { field: FieldSchema; parser: Parser }>();
  for (const f of fields) {
    if (!isTagged(f, ctx)) continue;
    m.set(f.tag!, { field: f, parser: appendValue(new Parser(), 'v', f, f.type, ctx).saveOffset('end') });
  }
  return m;
}

function structParser(fields: FieldSchema[], ctx: Ctx): Parser {
  let p = new Parser();
  for (const f of fields) {
    if (!inRange(ctx.version, f.versions) || isTagged(f, ctx)) continue;
    p = appendValue(p, f.name, f, f.type, ctx);
  }
  if (!ctx.flexible) return p;
  return wrapTagged(p, taggedDecoders(fields, ctx));
}

/** Flexible structs come out of their parser wrapped as {r: struct} (see wrapTagged). */
function unwrapStruct(o: any, ctx: Ctx): Decoded { return ctx.flexible ? o.r : o; }

/** Struct with a trailing tagged section; known tags are decoded into their fields, unknown ones kept raw. */
function wrapTagged(body: Parser, tagged: Map<number, { field: FieldSchema; parser: Parser }>): Parser {
  const whole = new Parser().nest('s', { type: body }).nest('t', { type: taggedSection });
  return new Parser().nest('r', {
    type: whole,
    formatter: (o: any) => {
      const out = o.s as Decoded;
      let last = -1;
      for (const e of o.t.entries as { tag: number; size: number; data: Buffer }[]) {
        if (e.tag <= last) throw new DecodeError(`tagged fields out of order (tag ${e.tag} after ${last})`);
        last = e.tag;
        const known = tagged.get(e.tag);
        if (known) {
          const r = parseWithin(known.parser, e.data);
          if (r.end > e.data.length) throw new DecodeError(`tagged field ${e.tag} (${known.field.name}) is truncated: its value needs ${r.end - e.data.length} bytes more than the ${e.data.length} it has`);
          if (r.end !== e.data.length) throw new DecodeError(`tagged field ${e.tag} (${known.field.name}) has ${e.data.length - r.end} bytes beyond its value`);
          out[known.field.name] = r.v;
        } else {
          (out[UNKNOWN_TAGS] ??= [] as UnknownTag[]).push({ tag: e.tag, data: Buffer.from(e.data) });
        }
      }
      return out;
    },
  });
}

// ---------------------------------------------------------------------------------------------------------
// Public decoder API

export interface CompiledDecoder {
  /** The whole buffer must be the message: bytes left after it are an error. */
  decode(buf: Buffer): Decoded;
  /**
   * The message at the start of the buffer and how many bytes follow it. Kafka's brokers read a request the same
   * way and ignore what follows (librdkafka writes some requests' last tagged-fields byte twice).
   */
  decodePrefix(buf: Buffer): { value: Decoded; trailing: number };
}

const decoderCache = new WeakMap<MessageSchema, Map<number, CompiledDecoder>>();

export function isFlexibleVersion(schema: MessageSchema, version: number): boolean {
  return inRange(version, schema.flexibleVersions);
}

export function supportsVersion(schema: MessageSchema, version: number): boolean {
  return inRange(version, schema.validVersions);
}

/** The decoder of one message version, compiled on first use. The whole buffer must be consumed. */
export function decoderFor(schema: MessageSchema, version: number): CompiledDecoder {
  let byVersion = decoderCache.get(schema);
  if (!byVersion) { byVersion = new Map(); decoderCache.set(schema, byVersion); }
  let d = byVersion.get(version);
  if (d) return d;
  if (!supportsVersion(schema, version)) throw new DecodeError(`${schema.name} v${version} is not in the schema (valid ${schema.validVersions})`);
  const ctx: Ctx = { version, flexible: isFlexibleVersion(schema, version) };
  const top = new Parser().nest('m', { type: structParser(schema.fields, ctx) }).saveOffset('end');
  const name = schema.name;
  const parse = (buf: Buffer): { value: Decoded; end: number } => {
    let r: any;
    try {
      r = parseWithin(top, buf);
    } catch (e) {
      if (e instanceof DecodeError) throw new DecodeError(`${name} v${version}: ${e.message}`);
      throw new DecodeError(`${name} v${version}: truncated or malformed body (${(e as Error).message})`);
    }
    // binary-parser does not bounds-check string / buffer lengths (it cuts them at the end of the input), so a
    // length running past the end shows up here as an end offset beyond the input.
    if (r.end > buf.length) throw new DecodeError(`${name} v${version}: truncated body (a length field runs ${r.end - buf.length} bytes past the end of the ${buf.length}-byte body)`);
    return { value: unwrapStruct(r.m, ctx), end: r.end };
  };
  d = {
    decode(buf: Buffer): Decoded {
      const { value, end } = parse(buf);
      if (end !== buf.length) throw new DecodeError(`${name} v${version}: ${buf.length - end} trailing bytes after the body`);
      return value;
    },
    decodePrefix(buf: Buffer): { value: Decoded; trailing: number } {
      const { value, end } = parse(buf);
      return { value, trailing: buf.length - end };
    },
  };
  byVersion.set(version, d);
  return d;
}

export function decodeMessage(schema: MessageSchema, version: number, buf: Buffer): Decoded {
  return decoderFor(schema, version).decode(buf);
}

/** {@link CompiledDecoder.decodePrefix}: for requests, which the broker reads up to their end and no further. */
export function decodeMessagePrefix(schema: MessageSchema, version: number, buf: Buffer): { value: Decoded; trailing: number } {
  return decoderFor(schema, version).decodePrefix(buf);
}

// ---------------------------------------------------------------------------------------------------------
// Encoder

/** A growable output buffer. */
export class Writer {
  private buf: Buffer;
  private pos = 0;
  constructor(size = 256) { this.buf = Buffer.allocUnsafe(size); }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  int8(v: number): void { this.ensure(1); this.buf.writeInt8(v, this.pos); this.pos += 1; }
  uint8(v: number): void { this.ensure(1); this.buf.writeUInt8(v, this.pos); this.pos += 1; }
  int16(v: number): void { this.ensure(2); this.buf.writeInt16BE(v, this.pos); this.pos += 2; }
  uint16(v: number): void { this.ensure(2); this.buf.writeUInt16BE(v, this.pos); this.pos += 2; }
  int32(v: number): void { this.ensure(4); this.buf.writeInt32BE(v, this.pos); this.pos += 4; }
  uint32(v: number): void { this.ensure(4); this.buf.writeUInt32BE(v, this.pos); this.pos += 4; }
  int64(v: bigint): void { this.ensure(8); this.buf.writeBigInt64BE(BigInt(v), this.pos); this.pos += 8; }
  float64(v: number): void { this.ensure(8); this.buf.writeDoubleBE(v, this.pos); this.pos += 8; }
  uvarint(v: number): void {
    if (v < 0 || v > 0xffffffff) throw new RangeError(`uvarint out of range: ${v}`);
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) b |= 0x80;
      this.uint8(b);
    } while (v > 0);
  }
  bytes(b: Uint8Array): void { this.ensure(b.length); this.buf.set(b, this.pos); this.pos += b.length; }
  finish(): Buffer { return this.buf.subarray(0, this.pos); }
}

function writeLength(w: Writer, flex: boolean, kind: 'int16' | 'int32', n: number | null): void {
  if (flex) w.uvarint(n === null ? 0 : n + 1);
  else if (kind === 'int16') w.int16(n === null ? -1 : n);
  else w.int32(n === null ? -1 : n);
}

/**
 * The encoder's view of one field at one version, resolved once per (message, version) as the decoder is: which
 * fields are written, flexibility and nullability. Every plan object has the same shape whatever the schema's
 * field objects look like, so the encoder's property reads stay monomorphic.
 */
interface EncField {
  name: string;
  type: string;
  /** Element type of an array, else undefined. */
  elem: string | undefined;
  elemPrimitive: boolean;
  /** The struct of a struct or array-of-structs field. */
  struct: EncStruct | undefined;
  nullable: boolean;
  flex: boolean;
  tag: number;
  version: number;
}

interface EncStruct {
  /** Present, non-tagged fields, in order. */
  fields: EncField[];
  /** Fields tagged at this version. */
  tagged: EncField[];
  flexible: boolean;
}

function encField(f: FieldSchema, ctx: Ctx): EncField {
  const elem = isArrayType(f.type) ? elementType(f.type) : undefined;
  const structFields = isStructType(f.type) || (elem !== undefined && !PRIMITIVES.has(elem)) ? f.fields ?? [] : undefined;
  return {
    name: f.name,
    type: f.type,
    elem,
    elemPrimitive: elem !== undefined && PRIMITIVES.has(elem),
    struct: structFields ? encPlan(structFields, ctx) : undefined,
    nullable: inRange(ctx.version, f.nullableVersions),
    flex: fieldFlexible(f, ctx),
    tag: f.tag ?? -1,
    version: ctx.version,
  };
}

function encPlan(fields: FieldSchema[], ctx: Ctx): EncStruct {
  return {
    fields: fields.filter((f) => inRange(ctx.version, f.versions) && !isTagged(f, ctx)).map((f) => encField(f, ctx)),
    tagged: ctx.flexible ? fields.filter((f) => isTagged(f, ctx)).map((f) => encField(f, ctx)) : [],
    flexible: ctx.flexible,
  };
}

function encodeValue(w: Writer, f: EncField, type: string, value: any): void {
  const flex = f.flex;
  if ((value === null || value === undefined) && !f.nullable && !fixedWidth[type] && type !== 'bool') {
    throw new Error(`cannot encode ${f.name}: null but not nullable in v${f.version}`);
  }
  switch (type) {
    case 'bool': w.uint8(value ? 1 : 0); return;
    case 'int8': w.int8(value); return;
    case 'int16': w.int16(value); return;
    case 'uint16': w.uint16(value); return;
    case 'int32': w.int32(value); return;
    case 'uint32': w.uint32(value); return;
    case 'int64': w.int64(value); return;
    case 'float64': w.float64(value); return;
    case 'uuid': w.bytes(uuidFromString(value)); return;
    case 'string': {
      if (value === null) { writeLength(w, flex, 'int16', null); return; }
      const b = Buffer.from(value as string, 'utf8');
      writeLength(w, flex, 'int16', b.length); w.bytes(b); return;
    }
    case 'bytes': case 'records': {
      if (value === null) { writeLength(w, flex, 'int32', null); return; }
      writeLength(w, flex, 'int32', (value as Buffer).length); w.bytes(value); return;
    }
  }
  if (f.elem !== undefined && type === f.type) {
    if (value === null) { writeLength(w, flex, 'int32', null); return; }
    const arr = value as any[];
    writeLength(w, flex, 'int32', arr.length);
    if (f.elemPrimitive) for (const e of arr) encodeValue(w, f, f.elem, e);
    else for (const e of arr) encodeStruct(w, f.struct!, e);
    return;
  }
  if (f.struct !== undefined) {
    if (f.nullable) {
      if (value === null) { w.int8(-1); return; }
      w.int8(1);
    }
    encodeStruct(w, f.struct, value);
    return;
  }
  throw new Error(`schema field ${f.name}: unknown type "${type}"`);
}

function encodeStruct(w: Writer, s: EncStruct, value: Decoded): void {
  for (const f of s.fields) encodeValue(w, f, f.type, value[f.name]);
  if (!s.flexible) return;
  const entries: UnknownTag[] = [];
  for (const f of s.tagged) {
    if (value[f.name] === undefined) continue;
    const inner = new Writer(32);
    encodeValue(inner, f, f.type, value[f.name]);
    entries.push({ tag: f.tag, data: inner.finish() });
  }
  const unknown = value[UNKNOWN_TAGS] as UnknownTag[] | undefined;
  if (unknown) entries.push(...unknown);
  entries.sort((a, b) => a.tag - b.tag);
  w.uvarint(entries.length);
  for (const e of entries) { w.uvarint(e.tag); w.uvarint(e.data.length); w.bytes(e.data); }
}

const encoderCache = new WeakMap<MessageSchema, Map<number, EncStruct>>();

/** The encoder plan of one message version, built on first use. */
function encoderFor(schema: MessageSchema, version: number): EncStruct {
  let byVersion = encoderCache.get(schema);
  if (!byVersion) { byVersion = new Map(); encoderCache.set(schema, byVersion); }
  let plan = byVersion.get(version);
  if (!plan) {
    plan = encPlan(schema.fields, { version, flexible: isFlexibleVersion(schema, version) });
    byVersion.set(version, plan);
  }
  return plan;
}

/** Encodes a message body (no header) at the given version. */
export function encodeMessage(schema: MessageSchema, version: number, value: Decoded, w = new Writer()): Buffer {
  if (!supportsVersion(schema, version)) throw new Error(`${schema.name} v${version} is not in the schema (valid ${schema.validVersions})`);
  encodeStruct(w, encoderFor(schema, version), value);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------------------
// UUIDs: Kafka prints them as URL-safe base64 without padding (org.apache.kafka.common.Uuid#toString).

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

export function uuidToString(b: Buffer): string { return b.toString('base64url'); }
export function uuidFromString(s: string): Buffer {
  const b = Buffer.from(s, 'base64url');
  if (b.length !== 16) throw new Error(`invalid Kafka UUID "${s}": must be 16 bytes in base64url`);
  return b;
}
