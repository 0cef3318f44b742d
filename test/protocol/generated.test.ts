/**
 * The generated protocol code (protocol/messages/, from scripts/gen-protocol.ts):
 *
 * - is up to date: the generator, run in memory on the kafka-clients jars, produces exactly the checked-in files,
 *   and protocol/messages/ holds nothing else (run `npm run gen:protocol` after changing the generator or the jars);
 * - types what the decoder returns: for every API, side and version, random valid messages are encoded and decoded,
 *   and every decoded value is checked against the generated interfaces' model (required properties present,
 *   null only where nullable, no unknown properties, int64 a bigint, uuid a base64url string, bytes and records
 *   Buffers, ...). The TypeScript side is checked by tsc on the typed uses below.
 *
 * test/protocol/schema-vs-kafka.test.ts checks the generated schemas against the jars' JSON independently.
 *
 * Run: node --test --import tsx test/protocol/generated.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATED_MARKER, OUT_DIR, TS_TYPE, generate, staleFiles, typeModel, type TsInterface } from '../../scripts/gen-protocol.js';
import { decodeMessage, encodeMessage, UNKNOWN_TAGS, type Decoded } from '../../protocol/codec.js';
import { inRange, parseRange, type MessageSchema } from '../../protocol/schema.js';
import {
  API_KEY, API_SCHEMAS, apiName, decodeRequest, decodeResponse, encodeRequest, encodeResponse,
} from '../../protocol/registry.js';
import {
  API_NAMES, FORMER_API_NAMES, UNSTABLE_ONLY_API_KEYS,
  type CreateTopicsRequest, type CreateTopicsResponse, type FetchResponse, type ProduceResponse,
} from '../../protocol/messages/index.js';
import {
  LEADER_HINTS_FROM, NODE_ENDPOINTS, carriesNodeEndpoints, requestHeaderVersion, responseHeaderVersion,
} from '../../protocol/facts.js';
import { Prng } from '../fuzz/lib/prng.js';
import { randomMessage } from '../fuzz/lib/gen.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const generation = generate(ROOT);

test('the checked-in generated files are what scripts/gen-protocol.ts generates', () => {
  const differing: string[] = [];
  for (const [path, content] of generation.files) {
    const full = join(ROOT, path);
    if (!existsSync(full)) { differing.push(`${path} (missing)`); continue; }
    const onDisk = readFileSync(full, 'utf8');
    if (onDisk !== content) {
      const a = onDisk.split('\n'), b = content.split('\n');
      const i = a.findIndex((line, n) => line !== b[n]);
      differing.push(`${path} (line ${i + 1}: checked in "${a[i]}", generated "${b[i]}")`);
    }
  }
  const stale = staleFiles(generation, ROOT).map((p) => `${p} (not generated)`);
  assert.deepEqual([...differing, ...stale], [], `stale: run \`npm run gen:protocol\` (npx tsx scripts/gen-protocol.ts)`);
  for (const [path, content] of generation.files) assert.ok(content.startsWith(GENERATED_MARKER), `${path}: header`);
  assert.ok([...generation.files.keys()].every((p) => p.startsWith(`${OUT_DIR}/`)));
});

test('the generation covers every API with a stable version, merges without conflicts and reports renames', () => {
  assert.equal(generation.apis.length, API_SCHEMAS.size);
  assert.deepEqual(generation.apis.map((a) => a.apiKey), [...API_SCHEMAS.keys()]);
  assert.deepEqual(generation.unstableOnly.map((u) => u.apiKey), [...UNSTABLE_ONLY_API_KEYS]);
  assert.deepEqual(Object.fromEntries(generation.renamed), { ...FORMER_API_NAMES });
  const versions = generation.apis.reduce((n, a) => { const r = parseRange(a.request.validVersions)!; return n + r.max - r.min + 1; }, 0);
  console.log(`${generation.apis.length} APIs, ${versions} API versions; named only: ${generation.unstableOnly.map((u) => u.name).join(', ')}; `
    + `warnings: ${generation.warnings.length ? generation.warnings.join('; ') : 'none'}; notes: ${generation.notes.length}`);
});

test('API_KEY, API_NAMES and apiName name every API key of both jars', () => {
  for (const [key, name] of Object.entries(API_NAMES)) {
    assert.equal((API_KEY as Record<string, number>)[name], Number(key));
    assert.equal(apiName(Number(key)), name);
  }
  for (const api of API_SCHEMAS.values()) assert.equal(apiName(api.apiKey), api.name);
  assert.equal(API_KEY.ListConfigResources, 74);
  assert.equal(FORMER_API_NAMES[74], 'ListClientMetricsResources');
  assert.equal(apiName(API_KEY.StreamsGroupHeartbeat), 'StreamsGroupHeartbeat');
  assert.equal(API_SCHEMAS.has(API_KEY.StreamsGroupHeartbeat), false);
  assert.equal(apiName(999), 'Api999');
});

// ---- decoded values against the generated types ------------------------------------------------------------------

type Models = Map<string, TsInterface>;
const modelCache = new WeakMap<MessageSchema, Models>();
function modelsOf(schema: MessageSchema): Models {
  let m = modelCache.get(schema);
  if (!m) {
    const { message, structs } = typeModel(schema);
    m = new Map([[schema.name, message], ...structs.map((s): [string, TsInterface] => [`${schema.name}.${s.name}`, s])]);
    modelCache.set(schema, m);
  }
  return m;
}

/** Whether a decoded primitive value has the JavaScript type the generated TypeScript type says. */
function primitiveOk(tsType: string, v: unknown): boolean {
  switch (tsType) {
    case 'boolean': return typeof v === 'boolean';
    case 'number': return typeof v === 'number';
    case 'bigint': return typeof v === 'bigint';
    case 'string': return typeof v === 'string';
    case 'Buffer': return Buffer.isBuffer(v);
    default: throw new Error(`unexpected primitive TypeScript type ${tsType}`);
  }
}

function checkStruct(models: Models, iface: TsInterface, value: Decoded, where: string, problems: string[]): void {
  const known = new Set(iface.properties.map((p) => p.field.name));
  for (const key of Object.keys(value)) {
    if (key !== UNKNOWN_TAGS && !known.has(key)) problems.push(`${where}.${key}: not in ${iface.name}`);
  }
  for (const p of iface.properties) {
    const at = `${where}.${p.field.name}`;
    if (!(p.field.name in value)) { if (!p.optional) problems.push(`${at}: required by the type, absent`); continue; }
    const v = value[p.field.name];
    if (v === null) { if (!p.nullable) problems.push(`${at}: null, type not nullable`); continue; }
    if (v === undefined) { problems.push(`${at}: undefined`); continue; }
    const isArray = p.tsType.endsWith('[]');
    const elem = isArray ? p.tsType.slice(0, -2) : p.tsType;
    const check = (e: unknown, path: string) => {
      const nested = models.get(elem);
      if (nested) {
        if (typeof e !== 'object' || e === null || Array.isArray(e) || Buffer.isBuffer(e)) problems.push(`${path}: not a ${elem}`);
        else checkStruct(models, nested, e as Decoded, path, problems);
      } else if (!primitiveOk(elem, e)) problems.push(`${path}: ${typeof e} ${String(e).slice(0, 30)}, type ${elem}`);
    };
    if (isArray) {
      if (!Array.isArray(v)) problems.push(`${at}: not an array`);
      else v.forEach((e, i) => check(e, `${at}[${i}]`));
    } else check(v, at);
  }
}

test('the type mapping is the codec\'s: int64 bigint, uuid string, bytes/records Buffer', () => {
  assert.deepEqual({ ...TS_TYPE }, {
    bool: 'boolean', int8: 'number', int16: 'number', uint16: 'number', int32: 'number', uint32: 'number',
    int64: 'bigint', float64: 'number', string: 'string', uuid: 'string', bytes: 'Buffer', records: 'Buffer',
  });
});

test('decoded messages of every API, side and version have the generated types', () => {
  const rng = new Prng(0x9e3779b9);
  let messages = 0;
  const problems: string[] = [];
  for (const api of API_SCHEMAS.values()) {
    for (const schema of [api.request, api.response]) {
      const models = modelsOf(schema);
      const r = parseRange(schema.validVersions)!;
      for (let v = r.min; v <= r.max; v++) {
        for (let i = 0; i < 6; i++) {
          const body = encodeMessage(schema, v, randomMessage(rng, schema, v));
          const decoded = decodeMessage(schema, v, body);
          checkStruct(models, models.get(schema.name)!, decoded, `${schema.name} v${v}`, problems);
          messages++;
          if (problems.length > 20) break;
        }
      }
    }
  }
  assert.deepEqual(problems.slice(0, 20), []);
  console.log(`${messages} decoded messages checked against the generated types`);
});

test('typed decode / encode by API key (checked by tsc)', () => {
  const body = encodeRequest(API_KEY.CreateTopics, 7, {
    Topics: [{ Name: 't', NumPartitions: 3, ReplicationFactor: 1, Assignments: [], Configs: [{ Name: 'retention.ms', Value: null }] }],
    timeoutMs: 1000, validateOnly: false,
  });
  const req: CreateTopicsRequest = decodeRequest(API_KEY.CreateTopics, 7, body);
  const name: string = req.Topics[0].Name;
  const value: string | null = req.Topics[0].Configs[0].Value;
  assert.equal(name, 't');
  assert.equal(value, null);

  const res: CreateTopicsResponse = { ThrottleTimeMs: 0, Topics: [{ Name: 't', TopicId: 'AAAAAAAAAAAAAAAAAAAAAA', ErrorCode: 0, ErrorMessage: null, NumPartitions: 3, ReplicationFactor: 1, Configs: null }] };
  const back = decodeResponse(API_KEY.CreateTopics, 7, encodeResponse(API_KEY.CreateTopics, 7, res));
  const topicId: string | undefined = back.Topics[0].TopicId;
  assert.equal(topicId, 'AAAAAAAAAAAAAAAAAAAAAA');

  const produce: ProduceResponse = decodeResponse(API_KEY.Produce, 11, encodeResponse(API_KEY.Produce, 11, {
    Responses: [{ Name: 't', PartitionResponses: [{ Index: 0, ErrorCode: 0, BaseOffset: 42n, LogAppendTimeMs: -1n, LogStartOffset: 0n, RecordErrors: [], ErrorMessage: null }] }],
    ThrottleTimeMs: 0,
    NodeEndpoints: [{ NodeId: 1, Host: 'h', Port: 9092, Rack: null }],
  }));
  const offset: bigint = produce.Responses[0].PartitionResponses[0].BaseOffset;
  const hints: ProduceResponse.NodeEndpoint[] | undefined = produce.NodeEndpoints;
  assert.equal(offset, 42n);
  assert.equal(hints?.[0].Host, 'h');

  const fetchRecords: FetchResponse.PartitionData['Records'] = Buffer.from('x');
  assert.ok(Buffer.isBuffer(fetchRecords));
});

test('protocol facts: header versions, flexibility, NodeEndpoints', () => {
  assert.equal(requestHeaderVersion(API_KEY.Produce, 8), 1);
  assert.equal(requestHeaderVersion(API_KEY.Produce, 9), 2);
  assert.equal(requestHeaderVersion(API_KEY.ControlledShutdown, 0), 0);
  assert.equal(requestHeaderVersion(API_KEY.ControlledShutdown, 1), 1);
  assert.equal(requestHeaderVersion(API_KEY.ApiVersions, 3), 2);
  assert.equal(requestHeaderVersion(999, 0), undefined);
  assert.equal(responseHeaderVersion(API_KEY.ApiVersions, 4), 0);
  assert.equal(responseHeaderVersion(API_KEY.Metadata, 9), 1);
  assert.equal(responseHeaderVersion(API_KEY.Metadata, 8), 0);
  assert.equal(responseHeaderVersion(999, 0), undefined);
  // Every other API: header versions follow the message's flexibility.
  for (const api of API_SCHEMAS.values()) {
    const r = parseRange(api.request.validVersions)!;
    for (let v = r.min; v <= r.max; v++) {
      if (api.apiKey !== API_KEY.ControlledShutdown || v > 0) assert.equal(requestHeaderVersion(api.apiKey, v), inRange(v, api.request.flexibleVersions) ? 2 : 1);
      if (api.apiKey !== API_KEY.ApiVersions) assert.equal(responseHeaderVersion(api.apiKey, v), inRange(v, api.response.flexibleVersions) ? 1 : 0);
    }
  }
  assert.deepEqual(LEADER_HINTS_FROM, { [API_KEY.Produce]: 10, [API_KEY.Fetch]: 16 });
  assert.ok(!carriesNodeEndpoints(API_KEY.Produce, 9) && carriesNodeEndpoints(API_KEY.Produce, 10) && carriesNodeEndpoints(API_KEY.Produce, 13));
  assert.ok(!carriesNodeEndpoints(API_KEY.Fetch, 15) && carriesNodeEndpoints(API_KEY.Fetch, 16));
  const clientFacing = [...NODE_ENDPOINTS.values()].filter((f) => f.listeners.includes('broker')).map((f) => `${apiName(f.apiKey)}${f.tag === undefined ? '' : ' (tagged)'}`);
  assert.deepEqual(clientFacing.sort(), ['Fetch (tagged)', 'Produce (tagged)', 'ShareAcknowledge', 'ShareFetch']);
});
