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
  /** Delegation token id → owner principal, from CreateDelegationToken responses seen by this proxy. */
  tokenOwners: { get(id: string): string | undefined; set(id: string, owner: string): unknown };
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
  /** Whether authorization denials in any API's answer are audited (the rules' authorize-denied). */
  auditDenials(): boolean;
  /** Whether requests of this API must have their operations durable (written ahead) before they are forwarded. */
  writeAheadFor(apiKey: number): boolean;
  /** Writes a request's operations ahead; resolves with the intent to pass to auditOutcome once durable. */
  intend(ops: AuditOperation[]): Promise<string>;
  /** Records the outcome events of a request (with its intent when it was written ahead). */
  auditOutcome(intent: string | undefined, ops: AuditOperation[]): void;
  /** Strikes off an intent whose request was never forwarded. */
  abandonIntent(intent: string): void;
  /** In fail-closed mode, why a request with these operations must be refused now (their events cannot be made durable). */
  auditAdmission(ops: readonly AuditOperation[]): string | undefined;
  /** True the first time a given undecodable (api, version, side, principal) is seen process-wide. */
  reportUndecodableOnce(key: string): boolean;
  onConnectionClosed(conn: ProxyConnection): void;
}
