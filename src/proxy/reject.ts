/**
 * Error responses the proxy answers itself, without forwarding (fail-closed mode, audit.unknownPrincipal: refuse): when an audited
 * operation's event could not be made durable, the operation is refused with a Kafka error the client
 * understands. The response is built from the API's response schema: every field gets its default
 * (0, "", empty array; null where nullable), every ErrorCode/ErrorMessage the refusal, and the per-resource
 * result lists mirror the request's resources so clients match results to what they asked for.
 */
import { encodeMessage, ZERO_UUID, type Decoded } from '../../protocol/codec.js';
import { auditedApi } from '../audit/extract.js';
import { apiSchema } from '../../protocol/registry.js';
import { type FieldSchema, inRange, isArrayType, elementType, isStructType, PRIMITIVES } from '../../protocol/schema.js';

/** POLICY_VIOLATION: not retriable, so clients surface the refusal instead of retrying blindly. */
export const REFUSAL_CODE = 44;

interface Refusal { code: number; message: string }

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

/**
 * Encoded response body refusing `request`, or undefined when this API cannot be refused with a response. The
 * resource results come from the API's descriptor (src/audit/apis/: every management API has one).
 */
export function refusalBody(apiKey: number, version: number, request: Decoded, refusal: Refusal): Buffer | undefined {
  const results = auditedApi(apiKey)?.refusal;
  const schema = apiSchema(apiKey);
  if (!results || !schema) return undefined;
  return encodeMessage(schema.response, version, fill(schema.response.fields, results(request, version), version, refusal));
}
