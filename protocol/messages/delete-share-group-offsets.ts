import type { ApiSchema } from '../schema.js';

/** New in Kafka 4.1 (KIP-932 share groups); not in 3.9. */
export const DeleteShareGroupOffsets: ApiSchema = {
  apiKey: 92,
  name: 'DeleteShareGroupOffsets',
  request: {
    apiKey: 92,
    name: 'DeleteShareGroupOffsetsRequest',
    type: 'request',
    validVersions: '0',
    flexibleVersions: '0+',
    fields: [
      { name: 'GroupId', type: 'string', versions: '0+' },
      {
        name: 'Topics', type: '[]DeleteShareGroupOffsetsRequestTopic', versions: '0+', fields: [
          { name: 'TopicName', type: 'string', versions: '0+' },
        ],
      },
    ],
  },
  response: {
    apiKey: 92,
    name: 'DeleteShareGroupOffsetsResponse',
    type: 'response',
    validVersions: '0',
    flexibleVersions: '0+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '0+' },
      { name: 'ErrorCode', type: 'int16', versions: '0+' },
      { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      {
        name: 'Responses', type: '[]DeleteShareGroupOffsetsResponseTopic', versions: '0+', fields: [
          { name: 'TopicName', type: 'string', versions: '0+' },
          { name: 'TopicId', type: 'uuid', versions: '0+' },
          { name: 'ErrorCode', type: 'int16', versions: '0+' },
          { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
        ],
      },
    ],
  },
};
