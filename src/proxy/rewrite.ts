/**
 * Response rewrites: every broker address a client can see is replaced by the proxy's address for that
 * broker, and ApiVersions is capped where the proxy must decode an API. Each function mutates a decoded
 * response body and returns true when the body must be re-encoded.
 */
import type { Decoded } from '../../protocol/codec.js';
import { API_KEY, API_SCHEMAS } from '../../protocol/registry.js';
import { parseRange } from '../../protocol/schema.js';
import type { BrokerMap } from './broker-map.js';
import type { TopicIdMap } from './topic-ids.js';

function rewriteEndpoint(map: BrokerMap, e: Decoded, idField: string): void {
  const nodeId = e[idField] as number;
  if (nodeId < 0 || typeof e.Host !== 'string') return;
  map.learn(nodeId, e.Host, e.Port);
  e.Host = map.host;
  e.Port = map.portFor(nodeId);
}

export function rewriteMetadata(body: Decoded, map: BrokerMap, topics: TopicIdMap): boolean {
  for (const b of body.Brokers ?? []) rewriteEndpoint(map, b, 'NodeId');
  for (const t of body.Topics ?? []) {
    if (t.TopicId && t.Name) topics.set(t.TopicId, t.Name);
  }
  return (body.Brokers ?? []).length > 0;
}

export function rewriteFindCoordinator(body: Decoded, map: BrokerMap): boolean {
  if (Array.isArray(body.Coordinators)) {
    for (const c of body.Coordinators) if (c.ErrorCode === 0) rewriteEndpoint(map, c, 'NodeId');
    return body.Coordinators.length > 0;
  }
  if (body.ErrorCode !== 0) return false;
  rewriteEndpoint(map, body, 'NodeId');
  return true;
}

export function rewriteDescribeCluster(body: Decoded, map: BrokerMap): boolean {
  for (const b of body.Brokers ?? []) rewriteEndpoint(map, b, 'BrokerId');
  return (body.Brokers ?? []).length > 0;
}

/** Produce v10+ and Fetch v16+ carry leader hints in the top-level NodeEndpoints tagged field. */
export function rewriteNodeEndpoints(body: Decoded, map: BrokerMap): boolean {
  const eps = body.NodeEndpoints as Decoded[] | undefined;
  if (!eps || eps.length === 0) return false;
  for (const e of eps) rewriteEndpoint(map, e, 'NodeId');
  return true;
}

/**
 * Caps each API the proxy decodes at the highest version its schema knows, so a client never picks a
 * version the proxy would have to pass through blind. APIs the proxy does not decode keep the broker's range.
 */
export function capApiVersions(body: Decoded): boolean {
  let changed = false;
  for (const k of body.ApiKeys ?? []) {
    const schema = API_SCHEMAS.get(k.ApiKey);
    if (!schema) continue;
    const max = parseRange(schema.request.validVersions)!.max;
    if (k.MaxVersion > max) { k.MaxVersion = max; changed = true; }
  }
  return changed;
}

/** Topic ids named in responses (CreateTopics v7+, Metadata v10+) feed the id → name map. */
export function learnTopicIds(apiKey: number, body: Decoded, topics: TopicIdMap): void {
  if (apiKey === API_KEY.CreateTopics) {
    for (const t of body.Topics ?? []) if (t.TopicId && t.Name && t.ErrorCode === 0) topics.set(t.TopicId, t.Name);
  }
}
