import type { ApiSchema } from '../schema.js';

/** DeleteTopics (key 20): 0-6 in Kafka 3.9, 1-6 in 4.1 (v0 from 3.9's JSON); v6 deletes by name or TopicId. */
export const DeleteTopics: ApiSchema = {
  apiKey: 20,
  name: 'DeleteTopics',
  request: {
    apiKey: 20,
    name: 'DeleteTopicsRequest',
    type: 'request',
    validVersions: '0-6',
    flexibleVersions: '4+',
    fields: [
      {
        name: 'Topics', type: '[]DeleteTopicState', versions: '6+', fields: [
          { name: 'Name', type: 'string', versions: '6+', nullableVersions: '6+' },
          { name: 'TopicId', type: 'uuid', versions: '6+' },
        ],
      },
      { name: 'TopicNames', type: '[]string', versions: '0-5' },
      { name: 'TimeoutMs', type: 'int32', versions: '0+' },
    ],
  },
  response: {
    apiKey: 20,
    name: 'DeleteTopicsResponse',
    type: 'response',
    validVersions: '0-6',
    flexibleVersions: '4+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '1+' },
      {
        name: 'Responses', type: '[]DeletableTopicResult', versions: '0+', fields: [
          { name: 'Name', type: 'string', versions: '0+', nullableVersions: '6+' },
          { name: 'TopicId', type: 'uuid', versions: '6+' },
          { name: 'ErrorCode', type: 'int16', versions: '0+' },
          { name: 'ErrorMessage', type: 'string', versions: '5+', nullableVersions: '5+' },
        ],
      },
    ],
  },
};
