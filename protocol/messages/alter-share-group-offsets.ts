import type { ApiSchema } from '../schema.js';

/** New in Kafka 4.1 (KIP-932 share groups); not in 3.9. */
export const AlterShareGroupOffsets: ApiSchema = {
  apiKey: 91,
  name: 'AlterShareGroupOffsets',
  request: {
    apiKey: 91,
    name: 'AlterShareGroupOffsetsRequest',
    type: 'request',
    validVersions: '0',
    flexibleVersions: '0+',
    fields: [
      { name: 'GroupId', type: 'string', versions: '0+' },
      {
        name: 'Topics', type: '[]AlterShareGroupOffsetsRequestTopic', versions: '0+', fields: [
          { name: 'TopicName', type: 'string', versions: '0+' },
          {
            name: 'Partitions', type: '[]AlterShareGroupOffsetsRequestPartition', versions: '0+', fields: [
              { name: 'PartitionIndex', type: 'int32', versions: '0+' },
              { name: 'StartOffset', type: 'int64', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 91,
    name: 'AlterShareGroupOffsetsResponse',
    type: 'response',
    validVersions: '0',
    flexibleVersions: '0+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '0+' },
      { name: 'ErrorCode', type: 'int16', versions: '0+' },
      { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      {
        name: 'Responses', type: '[]AlterShareGroupOffsetsResponseTopic', versions: '0+', fields: [
          { name: 'TopicName', type: 'string', versions: '0+' },
          { name: 'TopicId', type: 'uuid', versions: '0+' },
          {
            name: 'Partitions', type: '[]AlterShareGroupOffsetsResponsePartition', versions: '0+', fields: [
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
