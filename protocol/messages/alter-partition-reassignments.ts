import type { ApiSchema } from '../schema.js';

/** v1 (AllowReplicationFactorChange) is new in Kafka 4.x. */
export const AlterPartitionReassignments: ApiSchema = {
  apiKey: 45,
  name: 'AlterPartitionReassignments',
  request: {
    apiKey: 45,
    name: 'AlterPartitionReassignmentsRequest',
    type: 'request',
    validVersions: '0-1',
    flexibleVersions: '0+',
    fields: [
      { name: 'TimeoutMs', type: 'int32', versions: '0+' },
      { name: 'AllowReplicationFactorChange', type: 'bool', versions: '1+' },
      {
        name: 'Topics', type: '[]ReassignableTopic', versions: '0+', fields: [
          { name: 'Name', type: 'string', versions: '0+' },
          {
            name: 'Partitions', type: '[]ReassignablePartition', versions: '0+', fields: [
              { name: 'PartitionIndex', type: 'int32', versions: '0+' },
              { name: 'Replicas', type: '[]int32', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 45,
    name: 'AlterPartitionReassignmentsResponse',
    type: 'response',
    validVersions: '0-1',
    flexibleVersions: '0+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '0+' },
      { name: 'AllowReplicationFactorChange', type: 'bool', versions: '1+' },
      { name: 'ErrorCode', type: 'int16', versions: '0+' },
      { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      {
        name: 'Responses', type: '[]ReassignableTopicResponse', versions: '0+', fields: [
          { name: 'Name', type: 'string', versions: '0+' },
          {
            name: 'Partitions', type: '[]ReassignablePartitionResponse', versions: '0+', fields: [
              { name: 'PartitionIndex', type: 'int32', versions: '0+' },
              { name: 'ErrorCode', type: 'int16', versions: '0+' },
              { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
    ],
  },
};
