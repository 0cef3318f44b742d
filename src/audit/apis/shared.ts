/**
 * What the audited APIs' descriptors share: the builder of operations (one per resource), how results are read
 * (per-resource codes, top-level codes that apply to all, no response), request/response pairing by key, Kafka's
 * enum names, and the redaction of secret-looking configs.
 *
 * Inputs are what protocol/codec.ts decodes (typed by protocol/messages/): Kafka's field names per version, int64
 * as bigint, uuid as base64url strings, bytes as Buffers. The response is undefined when none came.
 */
import { createHash } from 'node:crypto';
import { kafkaError } from '../../../protocol/errors.js';
import type { AuditCategory, AuditOperation, ConnectionInfo, ResourceType } from '../operation.js';

export interface ExtractContext {
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  connection: ConnectionInfo;
  timeMs: number;
  clusterId: string;
  /** Resolves a topic id (base64url) to its name from what the proxy has seen in Metadata responses. */
  topicName(id: string): string | undefined;
}

export type Resource = AuditOperation['resource'];
export type Details = Record<string, unknown>;

export const NO_RESPONSE = 'no response: connection closed';
export const NOT_IN_RESPONSE = 'no result for this resource in the response';
export const REDACTED = '[REDACTED]';
/** Config keys whose values may be secrets (passwords, JAAS configs, keys, tokens, credentials, SASL settings). */
const SENSITIVE_CONFIG = /password|secret|jaas|key|token|credential|sasl/i;

/** An error code (undefined = the resource is missing from the response) and the broker's message for it. */
export interface Outcome { code: number | undefined; message?: string | null }

function result(answered: boolean, outcome: Outcome): AuditOperation['result'] {
  if (!answered) return { message: NO_RESPONSE };
  if (outcome.code === undefined) return { message: NOT_IN_RESPONSE };
  const e = kafkaError(outcome.code);
  const message = outcome.message ? outcome.message : outcome.code === 0 ? '' : e.message;
  return { errorCode: outcome.code, errorName: e.name, message };
}

/** An entry of a result list: its error code and, where the API has one, its message. */
interface ErrorEntry { ErrorCode: number; ErrorMessage?: string | null }

/** The first non-zero ErrorCode (with that entry's ErrorMessage), else success; an empty list is success. */
export function firstError(entries: readonly ErrorEntry[]): Outcome {
  for (const e of entries) if (e.ErrorCode !== 0) return { code: e.ErrorCode, message: e.ErrorMessage };
  return { code: 0 };
}

/** A non-zero top-level error applies to everything; else `perResource` decides. */
export function withTopLevel(response: Partial<ErrorEntry> | undefined, perResource: () => Outcome): Outcome {
  if (response && typeof response.ErrorCode === 'number' && response.ErrorCode !== 0) {
    return { code: response.ErrorCode, message: response.ErrorMessage };
  }
  return perResource();
}

/** int64 → number when exactly representable, else its decimal string. */
export function int64(v: bigint | number): number | string {
  if (typeof v === 'number') return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v.toString();
}

export function clusterResource(ctx: ExtractContext): Resource { return { type: 'Cluster', name: ctx.clusterId || 'kafka-cluster' }; }

function isSensitiveConfig(name: string): boolean { return SENSITIVE_CONFIG.test(name); }
export function configValue(name: string, value: string | null | undefined): string | null {
  return value !== null && value !== undefined && isSensitiveConfig(name) ? REDACTED : value ?? null;
}
export function configMap(configs: readonly { Name: string; Value: string | null }[] | null | undefined): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const c of configs ?? []) out[c.Name] = configValue(c.Name, c.Value);
  return out;
}

export function enumName(names: Readonly<Record<number, string>>, v: number): string { return names[v] ?? String(v); }

/** Names a token known only by its HMAC (a secret): "hmac-sha256:" + the first 16 hex chars of SHA-256(hmac). */
export function hmacFingerprint(hmac: Buffer): string {
  return `hmac-sha256:${createHash('sha256').update(hmac).digest('hex').slice(0, 16)}`;
}

export interface Paired<Q, R> { req?: Q; res?: R }

/**
 * Pairs request items with response items by key: request order (duplicates in the request collapse into one),
 * then response items whose key the request did not have. The first response item of a key wins.
 */
export function pairByKey<Q, R>(reqs: readonly Q[] | null | undefined, reqKey: (q: Q) => string,
  ress: readonly R[] | null | undefined, resKey: (r: R) => string): Paired<Q, R>[] {
  const byKey = new Map<string, R>();
  for (const r of ress ?? []) { const k = resKey(r); if (!byKey.has(k)) byKey.set(k, r); }
  const out: Paired<Q, R>[] = [];
  const seen = new Set<string>();
  for (const q of reqs ?? []) {
    const k = reqKey(q);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ req: q, res: byKey.get(k) });
  }
  for (const [k, r] of byKey) if (!seen.has(k)) out.push({ res: r });
  return out;
}

/** Collects the operations of one request/response pair. */
export class OperationBuilder {
  readonly ops: AuditOperation[] = [];
  constructor(
    private readonly api: { apiKey: number; name: string; category: AuditCategory },
    private readonly ctx: ExtractContext,
    private readonly answered: boolean,
  ) {}

  add(resource: Resource, operation: string, outcome: Outcome, details?: Details): void {
    const op: AuditOperation = {
      category: this.api.category,
      method: this.api.name,
      apiKey: this.api.apiKey,
      apiVersion: this.ctx.apiVersion,
      correlationId: this.ctx.correlationId,
      clientId: this.ctx.clientId,
      connection: this.ctx.connection,
      resource,
      operation,
      result: result(this.answered, outcome),
      timeMs: this.ctx.timeMs,
    };
    if (details) {
      const clean: Details = {};
      for (const [k, v] of Object.entries(details)) if (v !== undefined) clean[k] = v;
      if (Object.keys(clean).length > 0) op.details = clean;
    }
    this.ops.push(op);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Enums (Kafka 4.1: resource/ResourceType, resource/PatternType, acl/AclOperation, acl/AclPermissionType,
// config/ConfigResource.Type, clients/admin/AlterConfigOp.OpType, ScramMechanism, ElectionType)

export const ACL_RESOURCE_TYPE: Record<number, string> = {
  0: 'UNKNOWN', 1: 'ANY', 2: 'TOPIC', 3: 'GROUP', 4: 'CLUSTER', 5: 'TRANSACTIONAL_ID', 6: 'DELEGATION_TOKEN', 7: 'USER',
};
export const ACL_RESOURCE_TITLE: Record<number, ResourceType> = {
  2: 'Topic', 3: 'Group', 4: 'Cluster', 5: 'TransactionalId', 6: 'DelegationToken', 7: 'User',
};
export const PATTERN_TYPE: Record<number, string> = { 0: 'UNKNOWN', 1: 'ANY', 2: 'MATCH', 3: 'LITERAL', 4: 'PREFIXED' };
export const PATTERN_LITERAL = 3;
export const ACL_OPERATION: Record<number, string> = {
  0: 'UNKNOWN', 1: 'ANY', 2: 'ALL', 3: 'READ', 4: 'WRITE', 5: 'CREATE', 6: 'DELETE', 7: 'ALTER', 8: 'DESCRIBE',
  9: 'CLUSTER_ACTION', 10: 'DESCRIBE_CONFIGS', 11: 'ALTER_CONFIGS', 12: 'IDEMPOTENT_WRITE', 13: 'CREATE_TOKENS',
  14: 'DESCRIBE_TOKENS', 15: 'TWO_PHASE_COMMIT',
};
export const ACL_PERMISSION: Record<number, string> = { 0: 'UNKNOWN', 1: 'ANY', 2: 'DENY', 3: 'ALLOW' };
export const CONFIG_RESOURCE_TYPE: Record<number, string> = {
  0: 'UNKNOWN', 2: 'TOPIC', 4: 'BROKER', 8: 'BROKER_LOGGER', 16: 'CLIENT_METRICS', 32: 'GROUP',
};
export const CONFIG_RESOURCE_TITLE: Record<number, ResourceType> = { 2: 'Topic', 4: 'Broker', 8: 'Broker', 32: 'Group' };
export const CONFIG_OP: Record<number, string> = { 0: 'SET', 1: 'DELETE', 2: 'APPEND', 3: 'SUBTRACT' };
export const SCRAM_MECHANISM: Record<number, string> = { 0: 'UNKNOWN', 1: 'SCRAM-SHA-256', 2: 'SCRAM-SHA-512' };
export const ELECTION_TYPE: Record<number, string> = { 0: 'PREFERRED', 1: 'UNCLEAN' };
