/**
 * Address rewrites: every broker address a client can see is replaced by the proxy's address for that broker.
 * Each function mutates a decoded response body and returns true when the body must be re-encoded.
 */
import type { Decoded } from '../../protocol/codec.js';
import type { BrokerMap } from './broker-map.js';

function rewriteEndpoint(map: BrokerMap, e: Decoded, idField: string): void {
  const nodeId = e[idField] as number;
  if (nodeId < 0 || typeof e.Host !== 'string') return;
  map.learn(nodeId, e.Host, e.Port);
  e.Host = map.host;
  e.Port = map.portFor(nodeId);
}

export function rewriteMetadata(body: Decoded, map: BrokerMap): boolean {
  for (const b of body.Brokers ?? []) rewriteEndpoint(map, b, 'NodeId');
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
