/**
 * The APIs the proxy understands, by API key. Every other key is forwarded as opaque bytes.
 */
import type { ApiSchema, MessageSchema } from './schema.js';
import { inRange, parseRange } from './schema.js';
import { GROUP_A } from './messages/group-a.js';
import { GROUP_B } from './messages/group-b.js';

export const API_SCHEMAS: ReadonlyMap<number, ApiSchema> = new Map([...GROUP_A, ...GROUP_B].map((s) => [s.apiKey, s]));

export function apiSchema(apiKey: number): ApiSchema | undefined { return API_SCHEMAS.get(apiKey); }

/** Highest version of an API our schema decodes, or undefined for APIs we do not know. */
export function maxDecodableVersion(apiKey: number): number | undefined {
  const s = API_SCHEMAS.get(apiKey);
  return s ? parseRange(s.request.validVersions)!.max : undefined;
}

export function isFlexible(message: MessageSchema, version: number): boolean {
  return inRange(version, message.flexibleVersions);
}

export const API_KEY = {
  Produce: 0, Fetch: 1, Metadata: 3, FindCoordinator: 10, SaslHandshake: 17, ApiVersions: 18,
  CreateTopics: 19, DeleteTopics: 20, SaslAuthenticate: 36, CreateDelegationToken: 38, DescribeCluster: 60,
} as const;

/** Names of API keys for metrics and logs, including keys the proxy does not decode (Kafka 4.1 list). */
const API_NAMES: Record<number, string> = {
  0: 'Produce', 1: 'Fetch', 2: 'ListOffsets', 3: 'Metadata', 8: 'OffsetCommit', 9: 'OffsetFetch', 10: 'FindCoordinator',
  11: 'JoinGroup', 12: 'Heartbeat', 13: 'LeaveGroup', 14: 'SyncGroup', 15: 'DescribeGroups', 16: 'ListGroups',
  17: 'SaslHandshake', 18: 'ApiVersions', 19: 'CreateTopics', 20: 'DeleteTopics', 21: 'DeleteRecords',
  22: 'InitProducerId', 23: 'OffsetForLeaderEpoch', 24: 'AddPartitionsToTxn', 25: 'AddOffsetsToTxn', 26: 'EndTxn',
  27: 'WriteTxnMarkers', 28: 'TxnOffsetCommit', 29: 'DescribeAcls', 30: 'CreateAcls', 31: 'DeleteAcls',
  32: 'DescribeConfigs', 33: 'AlterConfigs', 34: 'AlterReplicaLogDirs', 35: 'DescribeLogDirs', 36: 'SaslAuthenticate',
  37: 'CreatePartitions', 38: 'CreateDelegationToken', 39: 'RenewDelegationToken', 40: 'ExpireDelegationToken',
  41: 'DescribeDelegationToken', 42: 'DeleteGroups', 43: 'ElectLeaders', 44: 'IncrementalAlterConfigs',
  45: 'AlterPartitionReassignments', 46: 'ListPartitionReassignments', 47: 'OffsetDelete', 48: 'DescribeClientQuotas',
  49: 'AlterClientQuotas', 50: 'DescribeUserScramCredentials', 51: 'AlterUserScramCredentials', 55: 'DescribeQuorum',
  57: 'UpdateFeatures', 60: 'DescribeCluster', 61: 'DescribeProducers', 64: 'UnregisterBroker', 65: 'DescribeTransactions',
  66: 'ListTransactions', 68: 'ConsumerGroupHeartbeat', 69: 'ConsumerGroupDescribe', 71: 'GetTelemetrySubscriptions',
  72: 'PushTelemetry', 74: 'ListClientMetricsResources', 75: 'DescribeTopicPartitions', 76: 'ShareGroupHeartbeat',
  77: 'ShareGroupDescribe', 78: 'ShareFetch', 79: 'ShareAcknowledge', 80: 'AddRaftVoter', 81: 'RemoveRaftVoter',
  90: 'DescribeShareGroupOffsets', 91: 'AlterShareGroupOffsets', 92: 'DeleteShareGroupOffsets',
};

export function apiName(apiKey: number): string { return API_SCHEMAS.get(apiKey)?.name ?? API_NAMES[apiKey] ?? `Api${apiKey}`; }
