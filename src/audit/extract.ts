/**
 * Turns a decoded request/response pair of an audited admin API into AuditOperations: one per resource the
 * request acts on (CreateTopics of three topics gives three operations).
 *
 * Inputs are what protocol/codec.ts decodes: plain objects with Kafka's field names per version, int64 as
 * bigint, uuid as base64url strings, bytes as Buffers. The response is undefined when the connection closed
 * before the broker answered.
 *
 * Result of each operation:
 * - errorCode / errorName from the per-resource error code (Kafka's Errors names, protocol/errors.ts); where an
 *   API has a top-level error code as well, a non-zero top-level code wins (it applies to every resource), and an
 *   API that only reports per-partition codes takes the first non-zero one. *_AUTHORIZATION_FAILED names are
 *   passed through unchanged; the event builder makes authorization events of them.
 * - message: the broker's ErrorMessage when it sent a non-empty one, else Kafka's default message for a non-zero
 *   code, '' for success.
 * - no response: `{ message: 'no response: connection closed' }` with errorCode/errorName undefined.
 * - a resource of the request that the response does not mention: `{ message: 'no result for this resource in
 *   the response' }`, also without a code. Resources only the response names are audited too (no details).
 *
 * Details never carry secrets: config values of sensitive-looking keys are "[REDACTED]", SCRAM salts and salted
 * passwords are never read, a delegation token's HMAC is never copied (Renew/Expire name the token by a SHA-256
 * fingerprint of it). int64 values come out as numbers, or as decimal strings when beyond 2^53.
 *
 * Metadata (3) and DescribeCluster (60) are describe APIs but yield no operations: every client sends them
 * constantly (metadata refresh), so auditing them would drown everything else. They are not in AUDITED_API_KEYS.
 */
import { createHash } from 'node:crypto';
import type { Decoded } from '../../protocol/codec.js';
import { ZERO_UUID } from '../../protocol/codec.js';
import { apiName } from '../../protocol/registry.js';
import { kafkaError } from '../../protocol/errors.js';
import type { AuditCategory, AuditOperation, ConnectionInfo, ResourceType } from './operation.js';

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

const API = {
  Metadata: 3, DescribeGroups: 15, ListGroups: 16, CreateTopics: 19, DeleteTopics: 20, DeleteRecords: 21,
  DescribeAcls: 29, CreateAcls: 30, DeleteAcls: 31, DescribeConfigs: 32, AlterConfigs: 33, CreatePartitions: 37,
  CreateDelegationToken: 38, RenewDelegationToken: 39, ExpireDelegationToken: 40, DeleteGroups: 42,
  ElectLeaders: 43, IncrementalAlterConfigs: 44, AlterPartitionReassignments: 45, OffsetDelete: 47,
  AlterClientQuotas: 49, AlterUserScramCredentials: 51, DescribeCluster: 60, AlterShareGroupOffsets: 91,
  DeleteShareGroupOffsets: 92,
} as const;

/** API keys for which extractOperations produces operations. */
export const AUDITED_API_KEYS: ReadonlySet<number> = new Set<number>([
  API.DescribeGroups, API.ListGroups, API.CreateTopics, API.DeleteTopics, API.DeleteRecords, API.DescribeAcls,
  API.CreateAcls, API.DeleteAcls, API.DescribeConfigs, API.AlterConfigs, API.CreatePartitions,
  API.CreateDelegationToken, API.RenewDelegationToken, API.ExpireDelegationToken, API.DeleteGroups,
  API.ElectLeaders, API.IncrementalAlterConfigs, API.AlterPartitionReassignments, API.OffsetDelete,
  API.AlterClientQuotas, API.AlterUserScramCredentials, API.AlterShareGroupOffsets, API.DeleteShareGroupOffsets,
]);

/**
 * Produce and Fetch: audited only when the rules switch the produce/consume categories on (they are off by
 * default), because auditing them means decoding data-path frames. One operation per topic, never payloads.
 */
export const DATA_API_KEYS: ReadonlySet<number> = new Set<number>([0, 1]);

// ------------------------------------------------------------------------------------------------------------
// Categories

const AUTHENTICATION_KEYS = new Set<number>([17, 36]); // SaslHandshake, SaslAuthenticate
/** Writing records: Produce and the transactional producer's calls. */
const PRODUCE_KEYS = new Set<number>([0, 22, 24, 26]); // Produce, InitProducerId, AddPartitionsToTxn, EndTxn
/** Reading records and consumer/share/streams group membership and offsets. */
const CONSUME_KEYS = new Set<number>([
  1, 2, 8, 9, 11, 12, 13, 14, 23, 25, 28, // Fetch, ListOffsets, OffsetCommit, OffsetFetch, Join/Heartbeat/Leave/SyncGroup, OffsetForLeaderEpoch, AddOffsetsToTxn, TxnOffsetCommit
  68, 76, 78, 79, 88, // ConsumerGroupHeartbeat, ShareGroupHeartbeat, ShareFetch, ShareAcknowledge, StreamsGroupHeartbeat
]);
/** Read-only admin and discovery APIs. */
const DESCRIBE_KEYS = new Set<number>([
  3, 10, 15, 16, 18, 29, 32, 35, 41, 46, 48, 50, 55, 60, 61, 65, 66, 69, 74, 75, 77, 89, 90,
]);

/**
 * Audit category of an API. The audited keys: 'describe' for DescribeAcls, DescribeConfigs, DescribeGroups and
 * ListGroups (and Metadata/DescribeCluster, which yield no operations), 'management' for the mutating ones. Other
 * keys are classified too (authentication, produce, consume, describe); anything not listed, including API keys
 * newer than Kafka 4.1, counts as 'management' so that it is audited rather than silently filtered.
 */
export function categoryOf(apiKey: number): AuditCategory {
  if (AUTHENTICATION_KEYS.has(apiKey)) return 'authentication';
  if (DESCRIBE_KEYS.has(apiKey)) return 'describe';
  if (PRODUCE_KEYS.has(apiKey)) return 'produce';
  if (CONSUME_KEYS.has(apiKey)) return 'consume';
  return 'management';
}

// ------------------------------------------------------------------------------------------------------------
// Shared helpers

type Result = AuditOperation['result'];
type Resource = AuditOperation['resource'];
type Details = Record<string, unknown>;

const NO_RESPONSE = 'no response: connection closed';
const NOT_IN_RESPONSE = 'no result for this resource in the response';
export const REDACTED = '[REDACTED]';
/** Config keys whose values may be secrets (passwords, JAAS configs, keys, tokens, credentials, SASL settings). */
const SENSITIVE_CONFIG = /password|secret|jaas|key|token|credential|sasl/i;

/** An error code (undefined = the resource is missing from the response) and the broker's message for it. */
interface Outcome { code: number | undefined; message?: string | null }

function result(response: Decoded | undefined, outcome: Outcome): Result {
  if (response === undefined) return { message: NO_RESPONSE };
  if (outcome.code === undefined) return { message: NOT_IN_RESPONSE };
  const e = kafkaError(outcome.code);
  const message = outcome.message ? outcome.message : outcome.code === 0 ? '' : e.message;
  return { errorCode: outcome.code, errorName: e.name, message };
}

/** The first non-zero ErrorCode (with that entry's ErrorMessage), else success; an empty list is success. */
function firstError(entries: readonly Decoded[]): Outcome {
  for (const e of entries) if (e.ErrorCode !== 0) return { code: e.ErrorCode, message: e.ErrorMessage };
  return { code: 0 };
}

/** A non-zero top-level error applies to everything; else `perResource` decides. */
function withTopLevel(response: Decoded | undefined, perResource: () => Outcome): Outcome {
  if (response && typeof response.ErrorCode === 'number' && response.ErrorCode !== 0) {
    return { code: response.ErrorCode, message: response.ErrorMessage };
  }
  return perResource();
}

/** int64 → number when exactly representable, else its decimal string. */
function int64(v: bigint | number): number | string {
  if (typeof v === 'number') return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v.toString();
}

function clusterName(ctx: ExtractContext): string { return ctx.clusterId || 'kafka-cluster'; }
function clusterResource(ctx: ExtractContext): Resource { return { type: 'Cluster', name: clusterName(ctx) }; }

function isSensitiveConfig(name: string): boolean { return SENSITIVE_CONFIG.test(name); }
function configValue(name: string, value: string | null): string | null {
  return value !== null && value !== undefined && isSensitiveConfig(name) ? REDACTED : value ?? null;
}
function configMap(configs: readonly Decoded[] | null | undefined): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const c of configs ?? []) out[c.Name] = configValue(c.Name, c.Value);
  return out;
}

function enumName(names: Readonly<Record<number, string>>, v: number): string { return names[v] ?? String(v); }

interface Paired<Q, R> { req?: Q; res?: R }

/**
 * Pairs request items with response items by key: request order (duplicates in the request collapse into one),
 * then response items whose key the request did not have. The first response item of a key wins.
 */
function pairByKey<Q, R>(reqs: readonly Q[] | null | undefined, reqKey: (q: Q) => string,
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

class Builder {
  readonly ops: AuditOperation[] = [];
  constructor(private readonly apiKey: number, private readonly ctx: ExtractContext, readonly response: Decoded | undefined) {}

  add(resource: Resource, operation: string, outcome: Outcome, details?: Details): void {
    const op: AuditOperation = {
      category: categoryOf(this.apiKey),
      method: apiName(this.apiKey),
      apiKey: this.apiKey,
      apiVersion: this.ctx.apiVersion,
      correlationId: this.ctx.correlationId,
      clientId: this.ctx.clientId,
      connection: this.ctx.connection,
      resource,
      operation,
      result: result(this.response, outcome),
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

const ACL_RESOURCE_TYPE: Record<number, string> = {
  0: 'UNKNOWN', 1: 'ANY', 2: 'TOPIC', 3: 'GROUP', 4: 'CLUSTER', 5: 'TRANSACTIONAL_ID', 6: 'DELEGATION_TOKEN', 7: 'USER',
};
const ACL_RESOURCE_TITLE: Record<number, ResourceType> = {
  2: 'Topic', 3: 'Group', 4: 'Cluster', 5: 'TransactionalId', 6: 'DelegationToken', 7: 'User',
};
const PATTERN_TYPE: Record<number, string> = { 0: 'UNKNOWN', 1: 'ANY', 2: 'MATCH', 3: 'LITERAL', 4: 'PREFIXED' };
const PATTERN_LITERAL = 3;
const ACL_OPERATION: Record<number, string> = {
  0: 'UNKNOWN', 1: 'ANY', 2: 'ALL', 3: 'READ', 4: 'WRITE', 5: 'CREATE', 6: 'DELETE', 7: 'ALTER', 8: 'DESCRIBE',
  9: 'CLUSTER_ACTION', 10: 'DESCRIBE_CONFIGS', 11: 'ALTER_CONFIGS', 12: 'IDEMPOTENT_WRITE', 13: 'CREATE_TOKENS',
  14: 'DESCRIBE_TOKENS', 15: 'TWO_PHASE_COMMIT',
};
const ACL_PERMISSION: Record<number, string> = { 0: 'UNKNOWN', 1: 'ANY', 2: 'DENY', 3: 'ALLOW' };
const CONFIG_RESOURCE_TYPE: Record<number, string> = {
  0: 'UNKNOWN', 2: 'TOPIC', 4: 'BROKER', 8: 'BROKER_LOGGER', 16: 'CLIENT_METRICS', 32: 'GROUP',
};
const CONFIG_RESOURCE_TITLE: Record<number, ResourceType> = { 2: 'Topic', 4: 'Broker', 8: 'Broker', 32: 'Group' };
const CONFIG_OP: Record<number, string> = { 0: 'SET', 1: 'DELETE', 2: 'APPEND', 3: 'SUBTRACT' };
const SCRAM_MECHANISM: Record<number, string> = { 0: 'UNKNOWN', 1: 'SCRAM-SHA-256', 2: 'SCRAM-SHA-512' };
const ELECTION_TYPE: Record<number, string> = { 0: 'PREFERRED', 1: 'UNCLEAN' };

// ------------------------------------------------------------------------------------------------------------
// Topics, partitions, records

function createTopics(b: Builder, req: Decoded, res: Decoded | undefined): void {
  for (const { req: t, res: r } of pairByKey<Decoded, Decoded>(req.Topics, (t) => t.Name, res?.Topics, (r) => r.Name)) {
    const name: string = (t ?? r)!.Name;
    let details: Details | undefined;
    if (t) {
      details = {
        numPartitions: t.NumPartitions,
        replicationFactor: t.ReplicationFactor,
        configs: configMap(t.Configs),
        assignments: t.Assignments?.length
          ? t.Assignments.map((a: Decoded) => ({ partition: a.PartitionIndex, brokers: a.BrokerIds }))
          : undefined,
        validateOnly: req.validateOnly ? true : undefined,
      };
    }
    if (r?.TopicId && r.TopicId !== ZERO_UUID) (details ??= {}).topicId = r.TopicId;
    b.add({ type: 'Topic', name }, 'Create', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
  }
}

function deleteTopics(b: Builder, req: Decoded, res: Decoded | undefined, ctx: ExtractContext): void {
  const results: Decoded[] = res?.Responses ?? [];
  if (ctx.apiVersion < 6) {
    const reqs = (req.TopicNames ?? []) as string[];
    for (const { req: n, res: r } of pairByKey<string, Decoded>(reqs, (n) => n, results, (r) => r.Name)) {
      b.add({ type: 'Topic', name: (n ?? r!.Name) as string }, 'Delete', { code: r?.ErrorCode, message: r?.ErrorMessage });
    }
    return;
  }
  // v6+: by name (TopicId all-zero) or by id (Name null). The broker shuffles the results and fills in the name
  // of an id it resolved (null when the caller may not even describe the topic), so match by id, else by name.
  const byId = new Map<string, Decoded>();
  const byName = new Map<string, Decoded>();
  for (const r of results) {
    if (r.TopicId && r.TopicId !== ZERO_UUID && !byId.has(r.TopicId)) byId.set(r.TopicId, r);
    if (r.Name != null && !byName.has(r.Name)) byName.set(r.Name, r);
  }
  const used = new Set<Decoded>();
  const seen = new Set<string>();
  const emit = (name: string | null, id: string | undefined, r: Decoded | undefined): void => {
    const topicId = id && id !== ZERO_UUID ? id : undefined;
    const resolved = name ?? (topicId ? ctx.topicName(topicId) : undefined) ?? `topicId:${topicId ?? ZERO_UUID}`;
    b.add({ type: 'Topic', name: resolved }, 'Delete', { code: r?.ErrorCode, message: r?.ErrorMessage }, { topicId });
  };
  for (const t of (req.Topics ?? []) as Decoded[]) {
    const hasId = t.TopicId && t.TopicId !== ZERO_UUID;
    const key = hasId ? `id:${t.TopicId}` : `name:${t.Name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const r = hasId ? byId.get(t.TopicId) : t.Name != null ? byName.get(t.Name) : undefined;
    if (r) used.add(r);
    emit(t.Name ?? r?.Name ?? null, hasId ? t.TopicId : r?.TopicId, r);
  }
  for (const r of results) if (!used.has(r)) emit(r.Name ?? null, r.TopicId, r);
}

/** Topic name of a Produce/Fetch topic entry: by name up to v12, by id from v13. */
function dataTopicName(t: Decoded, nameField: string, ctx: ExtractContext): string {
  if (t[nameField] != null) return t[nameField];
  const id = t.TopicId as string | undefined;
  return (id ? ctx.topicName(id) : undefined) ?? `topicId:${id ?? ZERO_UUID}`;
}

function produce(b: Builder, req: Decoded, res: Decoded | undefined, ctx: ExtractContext): void {
  const key = (t: Decoded) => dataTopicName(t, 'Name', ctx);
  for (const { req: t, res: r } of pairByKey<Decoded, Decoded>(req.TopicData, key, res?.Responses, key)) {
    const parts: Decoded[] = t?.PartitionData ?? [];
    const details = t ? {
      partitions: parts.map((p) => p.Index),
      bytes: parts.reduce((n, p) => n + (p.Records?.length ?? 0), 0),
      acks: req.Acks, transactionalId: req.TransactionalId ?? undefined,
    } : undefined;
    b.add({ type: 'Topic', name: key((t ?? r)!) }, 'Write', r ? firstError(r.PartitionResponses ?? []) : { code: undefined }, details);
  }
}

function fetch(b: Builder, req: Decoded, res: Decoded | undefined, ctx: ExtractContext): void {
  const key = (t: Decoded) => dataTopicName(t, 'Topic', ctx);
  for (const { req: t, res: r } of pairByKey<Decoded, Decoded>(req.Topics, key, res?.Responses, key)) {
    const details = {
      partitions: (t?.Partitions ?? r?.Partitions ?? []).map((p: Decoded) => p.Partition ?? p.PartitionIndex),
      bytes: (r?.Partitions ?? []).reduce((n: number, p: Decoded) => n + (p.Records?.length ?? 0), 0),
      sessionId: req.SessionId || undefined,
    };
    const outcome = withTopLevel(res, () => (r ? firstError(r.Partitions ?? []) : { code: undefined }));
    b.add({ type: 'Topic', name: key((t ?? r)!) }, 'Read', outcome, details);
  }
}

function createPartitions(b: Builder, req: Decoded, res: Decoded | undefined): void {
  for (const { req: t, res: r } of pairByKey<Decoded, Decoded>(req.Topics, (t) => t.Name, res?.Results, (r) => r.Name)) {
    const details = t ? {
      count: t.Count,
      assignments: t.Assignments ? t.Assignments.map((a: Decoded) => a.BrokerIds) : undefined,
      validateOnly: req.ValidateOnly ? true : undefined,
    } : undefined;
    b.add({ type: 'Topic', name: (t ?? r)!.Name }, 'Alter', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
  }
}

function deleteRecords(b: Builder, req: Decoded, res: Decoded | undefined): void {
  for (const { req: t, res: r } of pairByKey<Decoded, Decoded>(req.Topics, (t) => t.Name, res?.Topics, (r) => r.Name)) {
    const details = t ? {
      partitions: (t.Partitions ?? []).map((p: Decoded) => ({ partition: p.PartitionIndex, offset: int64(p.Offset) })),
    } : undefined;
    // No ErrorMessage in this API: the first failing partition's code, with Kafka's message for it.
    const outcome: Outcome = r ? { code: firstError(r.Partitions ?? []).code } : { code: undefined };
    b.add({ type: 'Topic', name: (t ?? r)!.Name }, 'Delete', outcome, details);
  }
}

function alterPartitionReassignments(b: Builder, req: Decoded, res: Decoded | undefined): void {
  const allow = req.AllowReplicationFactorChange;
  for (const { req: t, res: r } of pairByKey<Decoded, Decoded>(req.Topics, (t) => t.Name, res?.Responses, (r) => r.Name)) {
    const details = t ? {
      partitions: (t.Partitions ?? []).map((p: Decoded) => ({ partition: p.PartitionIndex, replicas: p.Replicas })),
      allowReplicationFactorChange: typeof allow === 'boolean' ? allow : undefined,
    } : undefined;
    const outcome = withTopLevel(res, () => (r ? firstError(r.Partitions ?? []) : { code: undefined }));
    b.add({ type: 'Topic', name: (t ?? r)!.Name }, 'Alter', outcome, details);
  }
}

function electLeaders(b: Builder, req: Decoded, res: Decoded | undefined, ctx: ExtractContext): void {
  const electionType = enumName(ELECTION_TYPE, req.ElectionType ?? 0); // v0 has no field: preferred election
  const results: Decoded[] = res?.ReplicaElectionResults ?? [];
  if (req.TopicPartitions == null) {
    // null = every partition of the cluster: one operation on the cluster.
    const outcome = withTopLevel(res, () => firstError(results.flatMap((r) => r.PartitionResult ?? [])));
    b.add(clusterResource(ctx), 'Alter', outcome, { electionType, allPartitions: true });
    return;
  }
  for (const { req: t, res: r } of pairByKey<Decoded, Decoded>(req.TopicPartitions, (t) => t.Topic, results, (r) => r.Topic)) {
    const details = { electionType, partitions: t ? t.Partitions : undefined };
    const outcome = withTopLevel(res, () => (r ? firstError(r.PartitionResult ?? []) : { code: undefined }));
    b.add({ type: 'Topic', name: (t ?? r)!.Topic }, 'Alter', outcome, details);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Groups

function deleteGroups(b: Builder, req: Decoded, res: Decoded | undefined): void {
  // DeleteGroups results carry no ErrorMessage: Kafka's default message is used.
  for (const { req: g, res: r } of pairByKey<string, Decoded>(req.GroupsNames, (g) => g, res?.Results, (r) => r.GroupId)) {
    b.add({ type: 'Group', name: (g ?? r!.GroupId) as string }, 'Delete', { code: r?.ErrorCode });
  }
}

function describeGroups(b: Builder, req: Decoded, res: Decoded | undefined): void {
  for (const { req: g, res: r } of pairByKey<string, Decoded>(req.Groups, (g) => g, res?.Groups, (r) => r.GroupId)) {
    b.add({ type: 'Group', name: (g ?? r!.GroupId) as string }, 'Describe', { code: r?.ErrorCode, message: r?.ErrorMessage });
  }
}

function listGroups(b: Builder, req: Decoded, res: Decoded | undefined, ctx: ExtractContext): void {
  const details = {
    statesFilter: req.StatesFilter?.length ? req.StatesFilter : undefined,
    typesFilter: req.TypesFilter?.length ? req.TypesFilter : undefined,
    groupCount: res ? (res.Groups ?? []).length : undefined,
  };
  b.add(clusterResource(ctx), 'Describe', { code: res?.ErrorCode }, details);
}

function offsetDelete(b: Builder, req: Decoded, res: Decoded | undefined): void {
  const details = {
    topics: (req.Topics ?? []).map((t: Decoded) => ({ topic: t.Name, partitions: (t.Partitions ?? []).map((p: Decoded) => p.PartitionIndex) })),
  };
  const outcome = withTopLevel(res, () => ({ code: firstError((res?.Topics ?? []).flatMap((t: Decoded) => t.Partitions ?? [])).code }));
  b.add({ type: 'Group', name: req.GroupId }, 'Delete', outcome, details);
}

function alterShareGroupOffsets(b: Builder, req: Decoded, res: Decoded | undefined): void {
  const details = {
    topics: (req.Topics ?? []).map((t: Decoded) => ({
      topic: t.TopicName,
      partitions: (t.Partitions ?? []).map((p: Decoded) => ({ partition: p.PartitionIndex, startOffset: int64(p.StartOffset) })),
    })),
  };
  const outcome = withTopLevel(res, () => firstError((res?.Responses ?? []).flatMap((t: Decoded) => t.Partitions ?? [])));
  b.add({ type: 'Group', name: req.GroupId }, 'Alter', outcome, details);
}

function deleteShareGroupOffsets(b: Builder, req: Decoded, res: Decoded | undefined): void {
  const details = { topics: (req.Topics ?? []).map((t: Decoded) => t.TopicName) };
  const outcome = withTopLevel(res, () => firstError(res?.Responses ?? []));
  b.add({ type: 'Group', name: req.GroupId }, 'Delete', outcome, details);
}

// ------------------------------------------------------------------------------------------------------------
// ACLs

/**
 * The resource of an ACL binding or filter: the named resource when the type is a concrete one (TOPIC ... USER)
 * and the name is not null; otherwise (ANY/UNKNOWN type, or a filter matching any name) the cluster, which is
 * what the broker authorizes (ALTER or DESCRIBE on CLUSTER) — `concrete` is then false.
 */
function aclResource(type: number, name: string | null, patternType: number, ctx: ExtractContext): { resource: Resource; concrete: boolean } {
  const title = ACL_RESOURCE_TITLE[type];
  if (title === undefined || name == null) return { resource: clusterResource(ctx), concrete: false };
  return { resource: { type: title, name, patternType: enumName(PATTERN_TYPE, patternType) }, concrete: true };
}

function aclBinding(a: Decoded, pattern: number): Details {
  const d: Details = {
    resourceType: enumName(ACL_RESOURCE_TYPE, a.ResourceType),
    resourceName: a.ResourceName,
    patternType: enumName(PATTERN_TYPE, pattern),
    principal: a.Principal,
    host: a.Host,
    operation: enumName(ACL_OPERATION, a.Operation),
    permissionType: enumName(ACL_PERMISSION, a.PermissionType),
  };
  if (typeof a.ErrorCode === 'number' && a.ErrorCode !== 0) d.error = kafkaError(a.ErrorCode).name;
  return d;
}

function aclFilter(f: Decoded, pattern: number): Details {
  return {
    resourceType: enumName(ACL_RESOURCE_TYPE, f.ResourceTypeFilter),
    resourceName: f.ResourceNameFilter,
    patternType: enumName(PATTERN_TYPE, pattern),
    principal: f.PrincipalFilter,
    host: f.HostFilter,
    operation: enumName(ACL_OPERATION, f.Operation),
    permissionType: enumName(ACL_PERMISSION, f.PermissionType),
  };
}

function createAcls(b: Builder, req: Decoded, res: Decoded | undefined, ctx: ExtractContext): void {
  const results: Decoded[] = res?.Results ?? [];
  (req.Creations ?? []).forEach((c: Decoded, i: number) => {
    const pattern = c.ResourcePatternType ?? PATTERN_LITERAL; // v0: literal
    const { resource, concrete } = aclResource(c.ResourceType, c.ResourceName, pattern, ctx);
    const details: Details = {
      principal: c.Principal,
      host: c.Host,
      operation: enumName(ACL_OPERATION, c.Operation),
      permissionType: enumName(ACL_PERMISSION, c.PermissionType),
    };
    if (!concrete) {
      details.resourceType = enumName(ACL_RESOURCE_TYPE, c.ResourceType);
      details.resourceName = c.ResourceName;
      details.patternType = enumName(PATTERN_TYPE, pattern);
    }
    const r = results[i];
    b.add(resource, 'Alter', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
  });
}

function deleteAcls(b: Builder, req: Decoded, res: Decoded | undefined, ctx: ExtractContext): void {
  const results: Decoded[] = res?.FilterResults ?? [];
  (req.Filters ?? []).forEach((f: Decoded, i: number) => {
    const pattern = f.PatternTypeFilter ?? PATTERN_LITERAL; // v0: literal
    const { resource } = aclResource(f.ResourceTypeFilter, f.ResourceNameFilter, pattern, ctx);
    const r = results[i];
    const matching: Decoded[] = r?.MatchingAcls ?? [];
    const details: Details = {
      filter: aclFilter(f, pattern),
      matchingAclCount: r ? matching.length : undefined,
      matchingAcls: r ? matching.map((a) => aclBinding(a, a.PatternType ?? PATTERN_LITERAL)) : undefined,
    };
    const outcome: Outcome = !r ? { code: undefined } : r.ErrorCode !== 0 ? { code: r.ErrorCode, message: r.ErrorMessage } : firstError(matching);
    b.add(resource, 'Alter', outcome, details);
  });
}

function describeAcls(b: Builder, req: Decoded, res: Decoded | undefined, ctx: ExtractContext): void {
  const resources: Decoded[] = res?.Resources ?? [];
  const details = {
    filter: aclFilter(req, req.PatternTypeFilter ?? PATTERN_LITERAL),
    matchingResourceCount: res ? resources.length : undefined,
    matchingAclCount: res ? resources.reduce((n, r) => n + (r.Acls ?? []).length, 0) : undefined,
  };
  b.add(clusterResource(ctx), 'Describe', { code: res?.ErrorCode, message: res?.ErrorMessage }, details);
}

// ------------------------------------------------------------------------------------------------------------
// Configs and quotas

/** Audit resource of a ConfigResource; CLIENT_METRICS and unknown types map to the cluster (`concrete` false). */
function configResource(type: number, name: string, ctx: ExtractContext): { resource: Resource; concrete: boolean } {
  const title = CONFIG_RESOURCE_TITLE[type];
  return title ? { resource: { type: title, name }, concrete: true } : { resource: clusterResource(ctx), concrete: false };
}

const configKey = (r: Decoded): string => `${r.ResourceType}:${r.ResourceName}`;

function alterConfigs(b: Builder, req: Decoded, res: Decoded | undefined, ctx: ExtractContext, incremental: boolean): void {
  for (const { req: q, res: r } of pairByKey<Decoded, Decoded>(req.Resources, configKey, res?.Responses, configKey)) {
    const item = (q ?? r)!;
    const { resource, concrete } = configResource(item.ResourceType, item.ResourceName, ctx);
    const details: Details = {
      configResourceType: enumName(CONFIG_RESOURCE_TYPE, item.ResourceType),
      configResourceName: concrete ? undefined : item.ResourceName,
    };
    if (q) {
      if (incremental) {
        const configs: Record<string, { op: string; value: string | null }> = {};
        for (const c of (q.Configs ?? []) as Decoded[]) {
          configs[c.Name] = { op: enumName(CONFIG_OP, c.ConfigOperation), value: configValue(c.Name, c.Value) };
        }
        details.configs = configs;
      } else {
        details.configs = configMap(q.Configs);
      }
      if (req.ValidateOnly) details.validateOnly = true;
    }
    b.add(resource, 'AlterConfigs', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
  }
}

function describeConfigs(b: Builder, req: Decoded, res: Decoded | undefined, ctx: ExtractContext): void {
  for (const { req: q, res: r } of pairByKey<Decoded, Decoded>(req.Resources, configKey, res?.Results, configKey)) {
    const item = (q ?? r)!;
    const { resource, concrete } = configResource(item.ResourceType, item.ResourceName, ctx);
    const details = {
      configResourceType: enumName(CONFIG_RESOURCE_TYPE, item.ResourceType),
      configResourceName: concrete ? undefined : item.ResourceName,
      configurationKeys: q?.ConfigurationKeys ?? undefined,
    };
    b.add(resource, 'DescribeConfigs', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
  }
}

/** "user=alice,client-id=x" in the request's entity order; a null name is the default entity ("<default>"). */
function quotaEntityName(entity: readonly Decoded[]): string {
  return entity.map((e) => `${e.EntityType}=${e.EntityName ?? '<default>'}`).join(',');
}
/** Order-independent key of an entity, for pairing request and response entries. */
function quotaEntityKey(entity: readonly Decoded[] | null | undefined): string {
  return JSON.stringify((entity ?? []).map((e) => [e.EntityType, e.EntityName ?? null]).sort());
}

function alterClientQuotas(b: Builder, req: Decoded, res: Decoded | undefined): void {
  const pairs = pairByKey<Decoded, Decoded>(req.Entries, (e) => quotaEntityKey(e.Entity), res?.Entries, (e) => quotaEntityKey(e.Entity));
  for (const { req: q, res: r } of pairs) {
    const details = q ? {
      // "quota", not "key": the event builder drops any details key named "key" as a possible secret.
      ops: (q.Ops ?? []).map((o: Decoded) => ({ quota: o.Key, value: o.Value, remove: o.Remove })),
      validateOnly: req.ValidateOnly ? true : undefined,
    } : undefined;
    b.add({ type: 'ClientQuota', name: quotaEntityName((q ?? r)!.Entity ?? []) }, 'AlterConfigs', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
  }
}

// ------------------------------------------------------------------------------------------------------------
// SCRAM credentials and delegation tokens

function alterUserScramCredentials(b: Builder, req: Decoded, res: Decoded | undefined): void {
  // Per user, in request order: deletions (mechanism) and upsertions (mechanism, iterations). Salt and
  // SaltedPassword are never read.
  const changes = new Map<string, Details[]>();
  const changesOf = (user: string): Details[] => {
    let c = changes.get(user);
    if (!c) { c = []; changes.set(user, c); }
    return c;
  };
  for (const d of (req.Deletions ?? []) as Decoded[]) changesOf(d.Name).push({ mechanism: enumName(SCRAM_MECHANISM, d.Mechanism), deleted: true });
  for (const u of (req.Upsertions ?? []) as Decoded[]) changesOf(u.Name).push({ mechanism: enumName(SCRAM_MECHANISM, u.Mechanism), iterations: u.Iterations });
  for (const { req: user, res: r } of pairByKey<string, Decoded>([...changes.keys()], (u) => u, res?.Results, (r) => r.User)) {
    const name = (user ?? r!.User) as string;
    b.add({ type: 'User', name }, 'Alter', { code: r?.ErrorCode, message: r?.ErrorMessage }, user !== undefined ? { changes: changes.get(user) } : undefined);
  }
}

/** Names a token known only by its HMAC (a secret): "hmac-sha256:" + the first 16 hex chars of SHA-256(hmac). */
export function hmacFingerprint(hmac: Buffer): string {
  return `hmac-sha256:${createHash('sha256').update(hmac).digest('hex').slice(0, 16)}`;
}

const principalString = (type: string | null | undefined, name: string | null | undefined): string | undefined =>
  type && name ? `${type}:${name}` : undefined;

function createDelegationToken(b: Builder, req: Decoded, res: Decoded | undefined): void {
  const ok = res !== undefined && res.ErrorCode === 0;
  const tokenId: string | undefined = ok && res.TokenId ? res.TokenId : undefined;
  const details = {
    // The owner the broker recorded, else the one requested (v3+); absent = the requester owns the token.
    owner: (ok ? principalString(res.PrincipalType, res.PrincipalName) : undefined)
      ?? principalString(req.OwnerPrincipalType, req.OwnerPrincipalName),
    renewers: (req.Renewers ?? []).map((r: Decoded) => `${r.PrincipalType}:${r.PrincipalName}`),
    maxLifetimeMs: int64(req.MaxLifetimeMs),
  };
  // The Hmac of the response is the token's secret: never read.
  b.add({ type: 'DelegationToken', name: tokenId ?? '(not issued)' }, 'Create', { code: res?.ErrorCode }, details);
}

function renewOrExpireToken(b: Builder, req: Decoded, res: Decoded | undefined, expire: boolean): void {
  const name = hmacFingerprint(Buffer.isBuffer(req.Hmac) ? req.Hmac : Buffer.alloc(0));
  const expiry = res && res.ErrorCode === 0 ? int64(res.ExpiryTimestampMs) : undefined;
  const details = expire
    ? { expiryTimePeriodMs: int64(req.ExpiryTimePeriodMs), expiryTimestampMs: expiry }
    : { renewPeriodMs: int64(req.RenewPeriodMs), expiryTimestampMs: expiry };
  // Renew extends the token's life: Alter. Expire ends it, at once (negative period, Kafka's default) or at the
  // new expiry time, after which the broker removes the token: Delete.
  b.add({ type: 'DelegationToken', name }, expire ? 'Delete' : 'Alter', { code: res?.ErrorCode }, details);
}

// ------------------------------------------------------------------------------------------------------------

/**
 * The audit operations of one request/response pair. `response` undefined = the connection closed before the
 * broker answered. Returns [] for API keys not in AUDITED_API_KEYS (including Metadata and DescribeCluster).
 */
export function extractOperations(apiKey: number, request: Decoded, response: Decoded | undefined, ctx: ExtractContext): AuditOperation[] {
  const b = new Builder(apiKey, ctx, response);
  const req = request;
  const res = response;
  switch (apiKey) {
    case 0: produce(b, req, res, ctx); break;
    case 1: fetch(b, req, res, ctx); break;
    case API.CreateTopics: createTopics(b, req, res); break;
    case API.DeleteTopics: deleteTopics(b, req, res, ctx); break;
    case API.CreatePartitions: createPartitions(b, req, res); break;
    case API.DeleteRecords: deleteRecords(b, req, res); break;
    case API.AlterPartitionReassignments: alterPartitionReassignments(b, req, res); break;
    case API.ElectLeaders: electLeaders(b, req, res, ctx); break;
    case API.DeleteGroups: deleteGroups(b, req, res); break;
    case API.DescribeGroups: describeGroups(b, req, res); break;
    case API.ListGroups: listGroups(b, req, res, ctx); break;
    case API.OffsetDelete: offsetDelete(b, req, res); break;
    case API.AlterShareGroupOffsets: alterShareGroupOffsets(b, req, res); break;
    case API.DeleteShareGroupOffsets: deleteShareGroupOffsets(b, req, res); break;
    case API.CreateAcls: createAcls(b, req, res, ctx); break;
    case API.DeleteAcls: deleteAcls(b, req, res, ctx); break;
    case API.DescribeAcls: describeAcls(b, req, res, ctx); break;
    case API.AlterConfigs: alterConfigs(b, req, res, ctx, false); break;
    case API.IncrementalAlterConfigs: alterConfigs(b, req, res, ctx, true); break;
    case API.DescribeConfigs: describeConfigs(b, req, res, ctx); break;
    case API.AlterClientQuotas: alterClientQuotas(b, req, res); break;
    case API.AlterUserScramCredentials: alterUserScramCredentials(b, req, res); break;
    case API.CreateDelegationToken: createDelegationToken(b, req, res); break;
    case API.RenewDelegationToken: renewOrExpireToken(b, req, res, false); break;
    case API.ExpireDelegationToken: renewOrExpireToken(b, req, res, true); break;
    default: return []; // Metadata, DescribeCluster and everything not audited
  }
  return b.ops;
}
