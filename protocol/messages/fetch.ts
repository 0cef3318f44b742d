import type { ApiSchema } from '../schema.js';

/**
 * Fetch (key 1): 0-17 in Kafka 3.9, 4-18 in 4.1. v0-3 come from 3.9's JSON only; v18 (4.1) adds the follower's
 * tagged HighWatermark per partition. v13+ identify topics by TopicId instead of name.
 */
export const Fetch: ApiSchema = {
  apiKey: 1,
  name: 'Fetch',
  request: {
    apiKey: 1,
    name: 'FetchRequest',
    type: 'request',
    validVersions: '0-18',
    flexibleVersions: '12+',
    fields: [
      { name: 'ClusterId', type: 'string', versions: '12+', nullableVersions: '12+', tag: 0, taggedVersions: '12+' },
      { name: 'ReplicaId', type: 'int32', versions: '0-14' },
      {
        name: 'ReplicaState', type: 'ReplicaState', versions: '15+', tag: 1, taggedVersions: '15+', fields: [
          { name: 'ReplicaId', type: 'int32', versions: '15+' },
          { name: 'ReplicaEpoch', type: 'int64', versions: '15+' },
        ],
      },
      { name: 'MaxWaitMs', type: 'int32', versions: '0+' },
      { name: 'MinBytes', type: 'int32', versions: '0+' },
      { name: 'MaxBytes', type: 'int32', versions: '3+' },
      { name: 'IsolationLevel', type: 'int8', versions: '4+' },
      { name: 'SessionId', type: 'int32', versions: '7+' },
      { name: 'SessionEpoch', type: 'int32', versions: '7+' },
      {
        name: 'Topics', type: '[]FetchTopic', versions: '0+', fields: [
          { name: 'Topic', type: 'string', versions: '0-12' },
          { name: 'TopicId', type: 'uuid', versions: '13+' },
          {
            name: 'Partitions', type: '[]FetchPartition', versions: '0+', fields: [
              { name: 'Partition', type: 'int32', versions: '0+' },
              { name: 'CurrentLeaderEpoch', type: 'int32', versions: '9+' },
              { name: 'FetchOffset', type: 'int64', versions: '0+' },
              { name: 'LastFetchedEpoch', type: 'int32', versions: '12+' },
              { name: 'LogStartOffset', type: 'int64', versions: '5+' },
              { name: 'PartitionMaxBytes', type: 'int32', versions: '0+' },
              { name: 'ReplicaDirectoryId', type: 'uuid', versions: '17+', tag: 0, taggedVersions: '17+' },
              { name: 'HighWatermark', type: 'int64', versions: '18+', tag: 1, taggedVersions: '18+' },
            ],
          },
        ],
      },
      {
        name: 'ForgottenTopicsData', type: '[]ForgottenTopic', versions: '7+', fields: [
          { name: 'Topic', type: 'string', versions: '7-12' },
          { name: 'TopicId', type: 'uuid', versions: '13+' },
          { name: 'Partitions', type: '[]int32', versions: '7+' },
        ],
      },
      { name: 'RackId', type: 'string', versions: '11+' },
    ],
  },
  response: {
    apiKey: 1,
    name: 'FetchResponse',
    type: 'response',
    validVersions: '0-18',
    flexibleVersions: '12+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '1+' },
      { name: 'ErrorCode', type: 'int16', versions: '7+' },
      { name: 'SessionId', type: 'int32', versions: '7+' },
      {
        name: 'Responses', type: '[]FetchableTopicResponse', versions: '0+', fields: [
          { name: 'Topic', type: 'string', versions: '0-12' },
          { name: 'TopicId', type: 'uuid', versions: '13+' },
          {
            name: 'Partitions', type: '[]PartitionData', versions: '0+', fields: [
              { name: 'PartitionIndex', type: 'int32', versions: '0+' },
              { name: 'ErrorCode', type: 'int16', versions: '0+' },
              { name: 'HighWatermark', type: 'int64', versions: '0+' },
              { name: 'LastStableOffset', type: 'int64', versions: '4+' },
              { name: 'LogStartOffset', type: 'int64', versions: '5+' },
              {
                name: 'DivergingEpoch', type: 'EpochEndOffset', versions: '12+', tag: 0, taggedVersions: '12+', fields: [
                  { name: 'Epoch', type: 'int32', versions: '12+' },
                  { name: 'EndOffset', type: 'int64', versions: '12+' },
                ],
              },
              {
                name: 'CurrentLeader', type: 'LeaderIdAndEpoch', versions: '12+', tag: 1, taggedVersions: '12+', fields: [
                  { name: 'LeaderId', type: 'int32', versions: '12+' },
                  { name: 'LeaderEpoch', type: 'int32', versions: '12+' },
                ],
              },
              {
                // Kafka writes the nested ranges as "0+"; the struct itself only exists from v12.
                name: 'SnapshotId', type: 'SnapshotId', versions: '12+', tag: 2, taggedVersions: '12+', fields: [
                  { name: 'EndOffset', type: 'int64', versions: '0+' },
                  { name: 'Epoch', type: 'int32', versions: '0+' },
                ],
              },
              {
                name: 'AbortedTransactions', type: '[]AbortedTransaction', versions: '4+', nullableVersions: '4+', fields: [
                  { name: 'ProducerId', type: 'int64', versions: '4+' },
                  { name: 'FirstOffset', type: 'int64', versions: '4+' },
                ],
              },
              { name: 'PreferredReadReplica', type: 'int32', versions: '11+' },
              { name: 'Records', type: 'records', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
      {
        name: 'NodeEndpoints', type: '[]NodeEndpoint', versions: '16+', tag: 0, taggedVersions: '16+', fields: [
          { name: 'NodeId', type: 'int32', versions: '16+' },
          { name: 'Host', type: 'string', versions: '16+' },
          { name: 'Port', type: 'int32', versions: '16+' },
          { name: 'Rack', type: 'string', versions: '16+', nullableVersions: '16+' },
        ],
      },
    ],
  },
};
