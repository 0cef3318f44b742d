import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AuditOperation } from '../audit/operation.js';
import type { ProxyMetrics } from '../metrics.js';
import type { ProxyConfig } from '../config.js';
import type { BrokerMap } from './broker-map.js';
import type { TopicIdMap } from './topic-ids.js';
import type { ProxyConnection } from './connection.js';

/** What a connection needs from the proxy around it; implemented by ProxyServer. */
export interface ProxyContext {
  config: ProxyConfig;
  log: Logger;
  metrics: ProxyMetrics;
  brokers: BrokerMap;
  topicIds: TopicIdMap;
  /** Security protocol clients use to reach the proxy (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL). */
  clientSecurityProtocol: string;
  clusterId(): string;
  /** Resolves when newly opened broker listeners are bound; undefined when none is pending. */
  listenersReady(): Promise<void> | undefined;
  /** Records the upstream cluster id seen in Metadata / DescribeCluster responses. */
  setClusterId(id: string | null | undefined): void;
  connectUpstream(target: { kind: 'bootstrap' } | { kind: 'broker'; nodeId: number }): Promise<Socket>;
  /** Hands an operation to the audit pipeline. */
  audit(op: AuditOperation): void;
  /** Whether the audit rules want operations of this API at all (if not, its frames are not decoded). */
  auditEnabled(apiKey: number): boolean;
  /** In fail-closed mode, why audited operations must be refused now (events cannot be made durable). */
  auditRefusal(): string | undefined;
  /** True the first time a given undecodable (api, version, side, principal) is seen process-wide. */
  reportUndecodableOnce(key: string): boolean;
  onConnectionClosed(conn: ProxyConnection): void;
}
