/**
 * The audited APIs: every descriptor, and every table derived from them. A management API without a descriptor
 * of its own is audited too, with one operation on the cluster (genericManagementApi), so a mutating request is
 * never forwarded unaudited because nobody wrote its extractor.
 */
import { API_SCHEMAS, apiName } from '../../../protocol/registry.js';
import type { AuditCategory } from '../operation.js';
import type { AuditedApi } from './api.js';
import { alterClientQuotas, alterConfigs, describeConfigs, incrementalAlterConfigs } from './configs.js';
import { createAcls, deleteAcls, describeAcls } from './acls.js';
import { alterPartitionReassignments, electLeaders, genericManagementApi, metadataAutoCreate } from './cluster.js';
import { alterUserScramCredentials, createDelegationToken, expireDelegationToken, renewDelegationToken } from './credentials.js';
import { fetch, produce } from './data.js';
import {
  alterShareGroupOffsets, deleteGroups, deleteShareGroupOffsets, describeGroups, describeShareGroupOffsets, listGroups, offsetCommit, offsetDelete,
  shareGroupDescribe, txnOffsetCommit,
} from './groups.js';
import { createPartitions, createTopics, deleteRecords, deleteTopics } from './topics.js';

export const AUDITED_APIS: readonly AuditedApi[] = [
  createTopics, deleteTopics, createPartitions, deleteRecords,
  alterPartitionReassignments, electLeaders, metadataAutoCreate,
  deleteGroups, offsetDelete, alterShareGroupOffsets, deleteShareGroupOffsets,
  describeGroups, listGroups, shareGroupDescribe, describeShareGroupOffsets,
  createAcls, deleteAcls, describeAcls,
  alterConfigs, incrementalAlterConfigs, describeConfigs, alterClientQuotas,
  alterUserScramCredentials, createDelegationToken, renewDelegationToken, expireDelegationToken,
  produce, fetch, offsetCommit, txnOffsetCommit,
];

// ------------------------------------------------------------------------------------------------------------
// Categories of the APIs without a descriptor (descriptors say their own)

const AUTHENTICATION_KEYS = new Set<number>([17, 36]); // SaslHandshake, SaslAuthenticate
/**
 * Writing records: Produce and the transactional producer's calls. TxnOffsetCommit (28) is listed for the record,
 * but its descriptor puts it with OffsetCommit in 'consume': it moves a group's committed offsets.
 */
const PRODUCE_KEYS = new Set<number>([0, 22, 24, 25, 26, 28]); // Produce, InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit
/** Reading records and consumer/share/streams group membership and offsets. */
const CONSUME_KEYS = new Set<number>([
  1, 2, 8, 9, 11, 12, 13, 14, 23, // Fetch, ListOffsets, OffsetCommit, OffsetFetch, Join/Heartbeat/Leave/SyncGroup, OffsetForLeaderEpoch
  68, 76, 78, 79, 88, // ConsumerGroupHeartbeat, ShareGroupHeartbeat, ShareFetch, ShareAcknowledge, StreamsGroupHeartbeat
]);
/** Read-only admin and discovery APIs, and client telemetry (KIP-714: clients push their own metrics). */
const DESCRIBE_KEYS = new Set<number>([
  3, 10, 15, 16, 18, 29, 32, 35, 41, 46, 48, 50, 55, 60, 61, 65, 66, 69, 71, 72, 74, 75, 77, 89, 90,
]);

function listedCategory(apiKey: number): AuditCategory {
  if (AUTHENTICATION_KEYS.has(apiKey)) return 'authentication';
  if (DESCRIBE_KEYS.has(apiKey)) return 'describe';
  if (PRODUCE_KEYS.has(apiKey)) return 'produce';
  if (CONSUME_KEYS.has(apiKey)) return 'consume';
  return 'management';
}

const BY_KEY = new Map<number, AuditedApi>(AUDITED_APIS.map((a) => [a.apiKey, a]));
// Every other management API Kafka defines gets the generic descriptor.
for (const apiKey of API_SCHEMAS.keys()) {
  if (!BY_KEY.has(apiKey) && listedCategory(apiKey) === 'management') BY_KEY.set(apiKey, genericManagementApi(apiKey, apiName(apiKey)));
}

/** The descriptor of an audited API, or undefined when requests of this key are not audited. */
export function auditedApi(apiKey: number): AuditedApi | undefined { return BY_KEY.get(apiKey); }

/**
 * Audit category of an API: its descriptor's, else from Kafka's API list. An API key no schema knows counts as
 * 'management': it cannot be decoded, so the audit refuses it rather than let it pass unaudited.
 */
export function categoryOf(apiKey: number): AuditCategory {
  return BY_KEY.get(apiKey)?.category ?? listedCategory(apiKey);
}

const isData = (a: AuditedApi) => a.category === 'produce' || a.category === 'consume';

/** API keys audited whatever the rules say of produce/consume (management and describe). */
export const AUDITED_API_KEYS: ReadonlySet<number> = new Set([...BY_KEY.values()].filter((a) => !isData(a)).map((a) => a.apiKey));
/** Produce and Fetch: audited only when the rules switch their categories on. */
export const DATA_API_KEYS: ReadonlySet<number> = new Set([...BY_KEY.values()].filter(isData).map((a) => a.apiKey));
/** API keys the proxy can refuse with a response of their own (the management APIs). */
export const REFUSABLE_API_KEYS: ReadonlySet<number> = new Set([...BY_KEY.values()].filter((a) => a.refusal).map((a) => a.apiKey));
