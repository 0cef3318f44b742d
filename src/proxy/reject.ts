/**
 * Error responses the proxy answers itself, without forwarding, in fail-closed mode: when an audited
 * operation's event could not be made durable, the operation is refused with a Kafka error the client
 * understands. The response is built from the API's response schema: every field gets its default
 * (0, "", empty array; null where nullable), every ErrorCode/ErrorMessage the refusal, and the per-resource
 * result lists mirror the request's resources so clients match results to what they asked for.
 */
import { encodeMessage, ZERO_UUID, type Decoded } from '../../protocol/codec.js';
import { apiSchema } from '../../protocol/registry.js';
import { type FieldSchema, inRange, isArrayType, elementType, isStructType, PRIMITIVES } from '../../protocol/schema.js';

/** POLICY_VIOLATION: not retriable, so clients surface the refusal instead of retrying blindly. */
export const REFUSAL_CODE = 44;

interface Refusal { code: number; message: string }

/** Per API: the resource results of a response, mirrored from the request. */
const RESULTS: Record<number, (req: Decoded, v: number) => Decoded> = {
  19: (r) => ({ Topics: (r.Topics ?? []).map((t: Decoded) => ({ Name: t.Name, NumPartitions: -1, ReplicationFactor: -1, Configs: null })) }),
  20: (r, v) => ({ Responses: v < 6
    ? (r.TopicNames ?? []).map((n: string) => ({ Name: n }))
    : (r.Topics ?? []).map((t: Decoded) => ({ Name: t.Name, TopicId: t.TopicId ?? ZERO_UUID })) }),
  21: (r) => ({ Topics: (r.Topics ?? []).map((t: Decoded) => ({ Name: t.Name, Partitions: (t.Partitions ?? []).map((p: Decoded) => ({ PartitionIndex: p.PartitionIndex, LowWatermark: -1n })) })) }),
  30: (r) => ({ Results: (r.Creations ?? []).map(() => ({})) }),
  31: (r) => ({ FilterResults: (r.Filters ?? []).map(() => ({ MatchingAcls: [] })) }),
  33: (r) => ({ Responses: (r.Resources ?? []).map((x: Decoded) => ({ ResourceType: x.ResourceType, ResourceName: x.ResourceName })) }),
  37: (r) => ({ Results: (r.Topics ?? []).map((t: Decoded) => ({ Name: t.Name })) }),
  38: () => ({}),
  39: () => ({}),
  40: () => ({}),
  42: (r) => ({ Results: (r.GroupsNames ?? []).map((g: string) => ({ GroupId: g })) }),
  43: () => ({ ReplicaElectionResults: [] }),
  44: (r) => ({ Responses: (r.Resources ?? []).map((x: Decoded) => ({ ResourceType: x.ResourceType, ResourceName: x.ResourceName })) }),
  45: () => ({ Responses: [] }),
  47: () => ({ Topics: [] }),
  49: (r) => ({ Entries: (r.Entries ?? []).map((e: Decoded) => ({ Entity: (e.Entity ?? []).map((x: Decoded) => ({ EntityType: x.EntityType, EntityName: x.EntityName })) })) }),
  51: (r) => ({ Results: [...(r.Deletions ?? []), ...(r.Upsertions ?? [])].map((u: Decoded) => ({ User: u.Name })) }),
  91: () => ({ Responses: [] }),
  92: () => ({ Responses: [] }),
};

/** API keys the proxy can refuse with a proper response (the audited management APIs). */
export const REFUSABLE_API_KEYS: ReadonlySet<number> = new Set(Object.keys(RESULTS).map(Number));

function defaultOf(f: FieldSchema, type: string, version: number, refusal: Refusal): unknown {
  if (f.name === 'ErrorCode') return refusal.code;
  if (f.name === 'ErrorMessage') return refusal.message;
  if (inRange(version, f.nullableVersions) && !isArrayType(type) && !PRIMITIVES.has(type)) return null;
  if (isArrayType(type)) return [];
  if (isStructType(type)) return fill(f.fields ?? [], {}, version, refusal);
  switch (type) {
    case 'bool': return false;
    case 'int64': return 0n;
    case 'string': return inRange(version, f.nullableVersions) ? null : '';
    case 'bytes': case 'records': return inRange(version, f.nullableVersions) ? null : Buffer.alloc(0);
    case 'uuid': return ZERO_UUID;
    default: return 0;
  }
}

function fill(fields: FieldSchema[], given: Decoded, version: number, refusal: Refusal): Decoded {
  const out: Decoded = {};
  for (const f of fields) {
    const present = inRange(version, f.versions);
    if (!present || (f.tag !== undefined && given[f.name] === undefined)) continue; // tagged fields: omitted = default
    const v = given[f.name];
    if (v === undefined) { out[f.name] = defaultOf(f, f.type, version, refusal); continue; }
    if (isArrayType(f.type) && !PRIMITIVES.has(elementType(f.type)) && Array.isArray(v)) {
      out[f.name] = v.map((e: Decoded) => fill(f.fields ?? [], e, version, refusal));
    } else if (isStructType(f.type) && v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
      out[f.name] = fill(f.fields ?? [], v, version, refusal);
    } else out[f.name] = v;
  }
  return out;
}

/** Encoded response body refusing `request`, or undefined when this API cannot be refused with a response. */
export function refusalBody(apiKey: number, version: number, request: Decoded, refusal: Refusal): Buffer | undefined {
  const results = RESULTS[apiKey];
  const schema = apiSchema(apiKey);
  if (!results || !schema) return undefined;
  return encodeMessage(schema.response, version, fill(schema.response.fields, results(request, version), version, refusal));
}
