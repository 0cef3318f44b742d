/**
 * Address rewrites: every broker address a client can see is replaced by the proxy's address for that broker.
 * Each function mutates a decoded response body (typed by protocol/messages/) and returns true when the body must
 * be re-encoded.
 */
import type { ResponseOf } from '../../protocol/registry.js';
import type { BrokerMap } from './broker-map.js';

/** A broker address in a response: its node id (under some name), host and port. */
interface Endpoint { Host: string; Port: number }

function rewriteEndpoint(map: BrokerMap, nodeId: number, e: Endpoint): void {
  if (nodeId < 0 || typeof e.Host !== 'string') return;
  map.learn(nodeId, e.Host, e.Port);
  e.Host = map.hostFor(nodeId);
  e.Port = map.portFor(nodeId);
}

export function rewriteMetadata(body: ResponseOf<3>, map: BrokerMap): boolean {
  for (const b of body.Brokers) rewriteEndpoint(map, b.NodeId, b);
  return body.Brokers.length > 0;
}

export function rewriteFindCoordinator(body: ResponseOf<10>, map: BrokerMap): boolean {
  if (Array.isArray(body.Coordinators)) { // v4+: one entry per key
    for (const c of body.Coordinators) if (c.ErrorCode === 0) rewriteEndpoint(map, c.NodeId, c);
    return body.Coordinators.length > 0;
  }
  // v0-3: the coordinator's fields at the top level.
  if (body.ErrorCode !== 0 || body.NodeId === undefined || body.Host === undefined || body.Port === undefined) return false;
  const top = { Host: body.Host, Port: body.Port };
  rewriteEndpoint(map, body.NodeId, top);
  body.Host = top.Host;
  body.Port = top.Port;
  return true;
}

export function rewriteDescribeCluster(body: ResponseOf<60>, map: BrokerMap): boolean {
  for (const b of body.Brokers) rewriteEndpoint(map, b.BrokerId, b);
  return body.Brokers.length > 0;
}

/** The NodeEndpoints of Produce v10+ / Fetch v16+ (leader hints) and ShareFetch / ShareAcknowledge responses. */
export function rewriteNodeEndpoints(body: { NodeEndpoints?: Array<Endpoint & { NodeId: number }> }, map: BrokerMap): boolean {
  const eps = body.NodeEndpoints;
  if (!eps || eps.length === 0) return false;
  for (const e of eps) rewriteEndpoint(map, e.NodeId, e);
  return true;
}
