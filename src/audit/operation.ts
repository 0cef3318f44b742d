/**
 * What the proxy knows about one audited operation on one resource, before it becomes an audit event.
 * The extractor (src/audit/extract.ts) produces these from decoded request/response pairs and SASL exchanges;
 * the event builder (src/audit/event.ts) turns each into a CloudEvent.
 */

/** Category of an operation, used by the audit rules to switch groups of events on and off. */
export type AuditCategory = 'authentication' | 'management' | 'describe' | 'produce' | 'consume' | 'lifecycle';

/** Kafka resource types as the ACL API names them (ResourceType enum names, title case). */
export type ResourceType =
  | 'Cluster' | 'Topic' | 'Group' | 'TransactionalId' | 'DelegationToken' | 'User' | 'Acl' | 'ClientQuota' | 'Broker';

export interface ConnectionInfo {
  /** Proxy-assigned id of the client connection, unique within this proxy instance. */
  connectionId: string;
  /** "ip:port" of the client as seen by the proxy. */
  clientAddress: string;
  /** Principal as "User:alice"; "User:ANONYMOUS" before or without SASL. */
  principal: string;
  /** SASL mechanism, e.g. "SCRAM-SHA-256"; undefined without SASL. */
  saslMechanism?: string;
  /** True when the principal was read from an unverified token (OAUTHBEARER) and not yet accepted. */
  principalClaimed?: boolean;
  /** Security protocol of the client side: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. */
  securityProtocol: string;
  /** KIP-511 client software name/version from ApiVersions v3+, when sent. */
  clientSoftwareName?: string;
  clientSoftwareVersion?: string;
}

export interface AuditOperation {
  category: AuditCategory;
  /** Kafka API name, e.g. "CreateTopics", or "Authentication" for SASL logins, or "ProxyStarted" for lifecycle. */
  method: string;
  apiKey?: number;
  apiVersion?: number;
  correlationId?: number;
  clientId?: string | null;
  connection?: ConnectionInfo;
  resource: {
    type: ResourceType;
    /** Resource name (topic name, group id, ...); for Cluster the cluster id or "kafka-cluster". */
    name: string;
    /** ACL pattern type where one applies (LITERAL, PREFIXED, MATCH, ANY). */
    patternType?: string;
  };
  /** The ACL operation the broker checks for this API on this resource (e.g. "Create", "Delete", "Alter"). */
  operation: string;
  result: {
    /** Kafka error code; 0 on success. undefined when the connection closed before a response. */
    errorCode?: number;
    /** Kafka error name, e.g. "TOPIC_AUTHORIZATION_FAILED"; "NONE" on success. */
    errorName?: string;
    /** The broker's error message when it sent one, else a short description of the error code. */
    message?: string;
  };
  /** Non-secret request details worth keeping (partitions, replication factor, config keys changed, ACL bindings). */
  details?: Record<string, unknown>;
  /** Operation start time (request seen) in ms since epoch. */
  timeMs: number;
}
