/**
 * The audited APIs' descriptors (src/audit/apis/) as a whole: every audited key has a schema; every management
 * API can be refused, in every version its schema knows, with a response that encodes and decodes and carries the
 * refusal; a management descriptor without a refusal does not compile (checked by test/typecheck.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, type Decoded } from '../../protocol/codec.js';
import { API_KEY, API_SCHEMAS, apiSchema } from '../../protocol/registry.js';
import { inRange, isArrayType, isStructType, parseRange, type FieldSchema } from '../../protocol/schema.js';
import { defineApi } from '../../src/audit/apis/api.js';
import { AUDITED_API_KEYS, DATA_API_KEYS, REFUSABLE_API_KEYS, auditedApi, categoryOf } from '../../src/audit/extract.js';
import { REFUSAL_CODE, refusalBody } from '../../src/proxy/reject.js';

// @ts-expect-error a management API must say how it is refused: without `refusal` this does not compile
defineApi({ apiKey: API_KEY.CreateTopics, category: 'management', operations() {} });

/** A request of `version` with every field at its simplest value (empty lists, zeros, empty or null strings). */
function emptyValue(fields: readonly FieldSchema[], version: number): Decoded {
  const out: Decoded = {};
  for (const f of fields) {
    if (!inRange(version, f.versions)) continue;
    const nullable = inRange(version, f.nullableVersions);
    if (isArrayType(f.type)) out[f.name] = [];
    else if (isStructType(f.type)) out[f.name] = nullable ? null : emptyValue(f.fields ?? [], version);
    else if (f.type === 'string') out[f.name] = nullable ? null : '';
    else if (f.type === 'bytes' || f.type === 'records') out[f.name] = nullable ? null : Buffer.alloc(0);
    else if (f.type === 'bool') out[f.name] = false;
    else if (f.type === 'int64') out[f.name] = 0n;
    else if (f.type === 'uuid') out[f.name] = 'AAAAAAAAAAAAAAAAAAAAAA';
    else out[f.name] = 0;
  }
  return out;
}

/** Every ErrorCode in a decoded value. */
function errorCodes(v: unknown, out: number[] = []): number[] {
  if (Array.isArray(v)) for (const x of v) errorCodes(x, out);
  else if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
    for (const [k, x] of Object.entries(v)) if (k === 'ErrorCode' && typeof x === 'number') out.push(x); else errorCodes(x, out);
  }
  return out;
}

test('every audited API has a schema, and the tables agree with the descriptors', () => {
  for (const k of [...AUDITED_API_KEYS, ...DATA_API_KEYS]) assert.ok(API_SCHEMAS.has(k), `no schema for audited key ${k}`);
  for (const k of REFUSABLE_API_KEYS) assert.equal(categoryOf(k), 'management', `refusable key ${k} is a management API`);
  for (const k of AUDITED_API_KEYS) {
    if (categoryOf(k) === 'management') assert.ok(REFUSABLE_API_KEYS.has(k), `management key ${k} can be refused`);
  }
});

test('every management API can be refused in every version: the response encodes, decodes, and carries POLICY_VIOLATION', () => {
  let checked = 0;
  for (const apiKey of REFUSABLE_API_KEYS) {
    const schema = apiSchema(apiKey)!;
    const { min, max } = parseRange(schema.request.validVersions)!;
    for (let v = min; v <= max; v++) {
      const request = emptyValue(schema.request.fields, v);
      const body = refusalBody(apiKey, v, request, { code: REFUSAL_CODE, message: 'refused by the test' });
      assert.ok(body, `${schema.name} v${v}: a refusal body`);
      const decoded = decodeMessage(schema.response, v, body);
      const codes = errorCodes(decoded);
      // A response without a top-level error code refuses through its per-resource results; with an empty request
      // there are none, so only the encoding is checked there.
      if (schema.response.fields.some((f) => f.name === 'ErrorCode' && inRange(v, f.versions))) {
        assert.ok(codes.includes(REFUSAL_CODE), `${schema.name} v${v}: the top-level ErrorCode is the refusal (${codes})`);
      }
      checked++;
    }
    assert.ok(auditedApi(apiKey)!.refusal, `${schema.name}: its descriptor says how it is refused`);
  }
  assert.ok(checked > 100, `only ${checked} API versions checked`);
});

test('a refused CreateTopics mirrors its topics, each with the refusal', () => {
  const v = 5;
  const request = { Topics: [{ Name: 'a', NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] }, { Name: 'b', NumPartitions: 1, ReplicationFactor: 1, Assignments: [], Configs: [] }], timeoutMs: 1, validateOnly: false };
  const decoded = decodeMessage(apiSchema(19)!.response, v, refusalBody(19, v, request, { code: REFUSAL_CODE, message: 'no' })!);
  assert.deepEqual((decoded.Topics as Decoded[]).map((t) => [t.Name, t.ErrorCode, t.ErrorMessage]), [['a', 44, 'no'], ['b', 44, 'no']]);
});
