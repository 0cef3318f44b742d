/**
 * Declarative Kafka message schemas: the single source of truth from which decoders and encoders are built.
 *
 * The shape follows Kafka's own message definitions (clients/src/main/resources/common/message/*.json); the
 * schemas in protocol/messages/ are generated from those of kafka-clients 3.9.1 and 4.1.1 by
 * scripts/gen-protocol.ts. A field has a name, a type, the versions it exists in, optionally the versions in
 * which it may be null, and optionally a tag (tagged fields in flexible versions).
 *
 * Types:
 *   primitives: bool int8 int16 uint16 int32 uint32 int64 float64 string bytes records uuid
 *   "[]<primitive>"  an array of primitives, e.g. "[]int32", "[]string"
 *   "[]<Name>"       an array of structs; `fields` gives the struct's fields
 *   "<Name>"         a nested struct (capitalised name); `fields` gives its fields
 * Compact encodings (uvarint lengths) apply automatically in the message's flexible versions.
 */

/** A version range as Kafka writes it: "3+", "0-4", "5" or "none". */
export type VersionRange = string;

export type PrimitiveType =
  | 'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64'
  | 'string' | 'bytes' | 'records' | 'uuid';

export interface FieldSchema {
  name: string;
  /** A primitive, "[]primitive", "[]StructName" or "StructName" (see the file comment). */
  type: string;
  versions: VersionRange;
  nullableVersions?: VersionRange;
  /** Present for tagged fields (flexible versions only). */
  tag?: number;
  taggedVersions?: VersionRange;
  /** Overrides the message's flexible versions for this field (RequestHeader.ClientId is "none"). */
  flexibleVersions?: VersionRange;
  /** What the value names, in Kafka's words: "topicName", "groupId", "transactionalId", "producerId", "brokerId". */
  entityType?: string;
  /**
   * Kafka's default for the field, as a value of its type: number (int8-int32, uint16/32, float64), bigint
   * (int64), boolean, string, or null ("null" in Kafka's JSON). Kafka writes it when the field is absent.
   */
  default?: number | bigint | boolean | string | null;
  /** Kafka may leave the field out when writing a version that does not have it (instead of failing). */
  ignorable?: boolean;
  /** The field is the key of the array of structs it is in (Kafka generates a map for such arrays). */
  mapKey?: boolean;
  fields?: FieldSchema[];
}

/**
 * One message (request, response or header). The TypeScript type of its decoded value is generated beside it
 * (protocol/messages/create-topics.ts: CreateTopicsRequest); registry.ts's decodeRequest / decodeResponse return it.
 */
export interface MessageSchema {
  apiKey: number;
  /** Kafka's message name, e.g. "CreateTopicsRequest". */
  name: string;
  type: 'request' | 'response';
  validVersions: VersionRange;
  flexibleVersions: VersionRange;
  fields: FieldSchema[];
}

/** Request and response schemas of one API. */
export interface ApiSchema {
  apiKey: number;
  /** The API name used in metrics and audit method names, e.g. "CreateTopics". */
  name: string;
  /** Kafka's listeners taking the API ("broker", "controller", and "zkBroker" for Kafka 3.9's ZooKeeper mode). */
  listeners?: readonly string[];
  request: MessageSchema;
  response: MessageSchema;
}

export interface ParsedRange { min: number; max: number }

const rangeCache = new Map<string, ParsedRange | null>();

/** Parses "3+", "0-4", "5" or "none" (null). Throws on anything else so a typo in a schema fails loudly. */
export function parseRange(range: VersionRange): ParsedRange | null {
  const cached = rangeCache.get(range);
  if (cached !== undefined) return cached;
  let parsed: ParsedRange | null;
  if (range === 'none') parsed = null;
  else if (/^\d+\+$/.test(range)) parsed = { min: Number(range.slice(0, -1)), max: Number.MAX_SAFE_INTEGER };
  else if (/^\d+-\d+$/.test(range)) {
    const [a, b] = range.split('-').map(Number);
    parsed = { min: a, max: b };
  } else if (/^\d+$/.test(range)) parsed = { min: Number(range), max: Number(range) };
  else throw new Error(`invalid version range "${range}" in a message schema: use "N+", "A-B", "N" or "none"`);
  rangeCache.set(range, parsed);
  return parsed;
}

export function inRange(version: number, range: VersionRange | undefined): boolean {
  if (range === undefined) return false;
  const r = parseRange(range);
  return r !== null && version >= r.min && version <= r.max;
}

export const PRIMITIVES: ReadonlySet<string> = new Set<PrimitiveType>([
  'bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'records', 'uuid',
]);

export function isArrayType(type: string): boolean { return type.startsWith('[]'); }
export function elementType(type: string): string { return type.slice(2); }
export function isStructType(type: string): boolean { return !isArrayType(type) && !PRIMITIVES.has(type); }
