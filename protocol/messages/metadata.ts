import type { ApiSchema } from '../schema.js';

/** Metadata (key 3): 0-12 in Kafka 3.9, 0-13 in 4.1 (v13 adds the top-level ErrorCode). */
export const Metadata: ApiSchema = {
  apiKey: 3,
  name: 'Metadata',
  request: {
    apiKey: 3,
    name: 'MetadataRequest',
    type: 'request',
    validVersions: '0-13',
    flexibleVersions: '9+',
    fields: [
      {
        name: 'Topics', type: '[]MetadataRequestTopic', versions: '0+', nullableVersions: '1+', fields: [
          { name: 'TopicId', type: 'uuid', versions: '10+' },
          { name: 'Name', type: 'string', versions: '0+', nullableVersions: '10+' },
        ],
      },
      { name: 'AllowAutoTopicCreation', type: 'bool', versions: '4+' },
      { name: 'IncludeClusterAuthorizedOperations', type: 'bool', versions: '8-10' },
      { name: 'IncludeTopicAuthorizedOperations', type: 'bool', versions: '8+' },
    ],
  },
  response: {
    apiKey: 3,
    name: 'MetadataResponse',
    type: 'response',
    validVersions: '0-13',
    flexibleVersions: '9+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '3+' },
      {
        name: 'Brokers', type: '[]MetadataResponseBroker', versions: '0+', fields: [
          { name: 'NodeId', type: 'int32', versions: '0+' },
          { name: 'Host', type: 'string', versions: '0+' },
          { name: 'Port', type: 'int32', versions: '0+' },
          { name: 'Rack', type: 'string', versions: '1+', nullableVersions: '1+' },
        ],
      },
      { name: 'ClusterId', type: 'string', versions: '2+', nullableVersions: '2+' },
      { name: 'ControllerId', type: 'int32', versions: '1+' },
      {
        name: 'Topics', type: '[]MetadataResponseTopic', versions: '0+', fields: [
          { name: 'ErrorCode', type: 'int16', versions: '0+' },
          { name: 'Name', type: 'string', versions: '0+', nullableVersions: '12+' },
          { name: 'TopicId', type: 'uuid', versions: '10+' },
          { name: 'IsInternal', type: 'bool', versions: '1+' },
          {
            name: 'Partitions', type: '[]MetadataResponsePartition', versions: '0+', fields: [
              { name: 'ErrorCode', type: 'int16', versions: '0+' },
              { name: 'PartitionIndex', type: 'int32', versions: '0+' },
              { name: 'LeaderId', type: 'int32', versions: '0+' },
              { name: 'LeaderEpoch', type: 'int32', versions: '7+' },
              { name: 'ReplicaNodes', type: '[]int32', versions: '0+' },
              { name: 'IsrNodes', type: '[]int32', versions: '0+' },
              { name: 'OfflineReplicas', type: '[]int32', versions: '5+' },
            ],
          },
          { name: 'TopicAuthorizedOperations', type: 'int32', versions: '8+' },
        ],
      },
      { name: 'ClusterAuthorizedOperations', type: 'int32', versions: '8-10' },
      { name: 'ErrorCode', type: 'int16', versions: '13+' },
    ],
  },
};
