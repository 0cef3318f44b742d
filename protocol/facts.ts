/**
 * Protocol facts, said once. What Kafka's message JSON says (API keys, versions, flexibility, which responses carry
 * NodeEndpoints) is read from the generated schemas; what only Kafka's code says (the header version exceptions of
 * ApiVersions and ControlledShutdown, from the generator of org.apache.kafka.common.message.ApiMessageType) is
 * written here.
 */
import { inRange, parseRange, type ParsedRange } from './schema.js';
import { API_KEY, API_SCHEMAS, apiSchema } from './registry.js';

export { API_KEY };

/**
 * `fn` remembered per (API key, version) in small arrays: the facts below are asked for every request and response
 * on the data path (header versions, whether a version is known), where a schema lookup and a version-range parse
 * per frame showed in profiles. Keys and versions outside what Kafka uses (the wire allows any int16) are computed
 * each time rather than stored, so a hostile client cannot grow the tables.
 */
function perVersion<T>(fn: (apiKey: number, apiVersion: number) => T): (apiKey: number, apiVersion: number) => T {
  const rows: Array<Array<{ v: T } | undefined> | undefined> = [];
  return (apiKey, apiVersion) => {
    if (!(apiKey >= 0 && apiKey < 256 && apiVersion >= 0 && apiVersion < 128)) return fn(apiKey, apiVersion);
    const row = rows[apiKey] ??= [];
    return (row[apiVersion] ??= { v: fn(apiKey, apiVersion) }).v;
  };
}

/** Whether a request version is flexible (compact strings and arrays, tagged fields); false for unknown APIs. */
export const isFlexibleRequest = perVersion((apiKey, apiVersion): boolean => {
  const s = apiSchema(apiKey);
  return s !== undefined && inRange(apiVersion, s.request.flexibleVersions);
});

/** Whether a response version is flexible; false for unknown APIs. */
export const isFlexibleResponse = perVersion((apiKey, apiVersion): boolean => {
  const s = apiSchema(apiKey);
  return s !== undefined && inRange(apiVersion, s.response.flexibleVersions);
});

/** Whether the schema knows this request version (its validVersions); false for unknown APIs. */
export const knownRequestVersion = perVersion((apiKey, apiVersion): boolean => {
  const s = apiSchema(apiKey);
  return s !== undefined && inRange(apiVersion, s.request.validVersions);
});

/**
 * The request header version (RequestHeader.json) of an API version: 2 (tagged fields after the client id) when
 * the request version is flexible, else 1. ControlledShutdown v0 (Kafka 3.9's ZooKeeper-mode brokers only) has
 * header v0, without a client id. Undefined for API keys without a schema: their header cannot be told.
 * Versions beyond the schema's follow its flexibleVersions, which Kafka writes open-ended ("12+").
 */
export const requestHeaderVersion = perVersion((apiKey, apiVersion): 0 | 1 | 2 | undefined => {
  if (!API_SCHEMAS.has(apiKey)) return undefined;
  if (apiKey === API_KEY.ControlledShutdown && apiVersion === 0) return 0;
  return isFlexibleRequest(apiKey, apiVersion) ? 2 : 1;
});

/**
 * The response header version (ResponseHeader.json): 1 (tagged fields after the correlation id) when the response
 * version is flexible, else 0 — except ApiVersions, whose responses always have header v0 (KIP-511: a client that
 * sent a version the broker does not support must still read the answer, which the broker writes as v0).
 * Undefined for API keys without a schema.
 */
export const responseHeaderVersion = perVersion((apiKey, apiVersion): 0 | 1 | undefined => {
  if (!API_SCHEMAS.has(apiKey)) return undefined;
  if (apiKey === API_KEY.ApiVersions) return 0;
  return isFlexibleResponse(apiKey, apiVersion) ? 1 : 0;
});

/** A response whose top level carries NodeEndpoints: broker addresses (node id, host, port, rack). */
export interface NodeEndpointsField {
  apiKey: number;
  /** The response versions that have the field. */
  versions: ParsedRange;
  /** The tag when the field is a top-level tagged field (the KIP-951 leader hints), else undefined. */
  tag?: number;
  /** Kafka's listeners taking the API: client-facing when it includes "broker". */
  listeners: readonly string[];
}

/**
 * Every response with a top-level NodeEndpoints field, by API key: the leader hints of Produce v10+ and Fetch v16+
 * (KIP-951, tagged), of ShareFetch and ShareAcknowledge (every version, not tagged), and of the KRaft controller
 * APIs (Vote, BeginQuorumEpoch, EndQuorumEpoch, FetchSnapshot).
 */
export const NODE_ENDPOINTS: ReadonlyMap<number, NodeEndpointsField> = new Map(
  [...API_SCHEMAS.values()].flatMap((api) => {
    const f = api.response.fields.find((x) => x.name === 'NodeEndpoints');
    if (!f) return [];
    const versions = parseRange(f.versions);
    if (!versions) return [];
    const tag = f.tag !== undefined && f.taggedVersions !== undefined ? f.tag : undefined;
    return [[api.apiKey, { apiKey: api.apiKey, versions, tag, listeners: api.listeners ?? [] }] as const];
  }),
);

/** Whether a response version carries NodeEndpoints at its top level (see NODE_ENDPOINTS). */
export function carriesNodeEndpoints(apiKey: number, apiVersion: number): boolean {
  const f = NODE_ENDPOINTS.get(apiKey);
  return f !== undefined && apiVersion >= f.versions.min && apiVersion <= f.versions.max;
}

/**
 * The first version of the Produce and Fetch responses with leader hints (NodeEndpoints, a top-level tagged field
 * the proxy rewrites while the response streams): { [API_KEY.Produce]: 10, [API_KEY.Fetch]: 16 }.
 */
export const LEADER_HINTS_FROM: Readonly<Record<number, number>> = Object.fromEntries(
  [API_KEY.Produce, API_KEY.Fetch].map((k) => {
    const f = NODE_ENDPOINTS.get(k);
    if (!f || f.tag === undefined) throw new Error(`${k}: the response schema has no tagged NodeEndpoints`);
    return [k, f.versions.min];
  }),
);
