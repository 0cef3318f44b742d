import type { ApiSchema } from '../schema.js';

/**
 * CreateTopics (key 19): 0-7 in Kafka 3.9, 2-7 in 4.1 (v0-1 from 3.9's JSON). Note Kafka's own lower-case field
 * names "timeoutMs" and "validateOnly" in the request.
 */
export const CreateTopics: ApiSchema = {
  apiKey: 19,
  name: 'CreateTopics',
  request: {
    apiKey: 19,
    name: 'CreateTopicsRequest',
    type: 'request',
    validVersions: '0-7',
    flexibleVersions: '5+',
    fields: [
      {
        name: 'Topics', type: '[]CreatableTopic', versions: '0+', fields: [
          { name: 'Name', type: 'string', versions: '0+' },
          { name: 'NumPartitions', type: 'int32', versions: '0+' },
          { name: 'ReplicationFactor', type: 'int16', versions: '0+' },
          {
            name: 'Assignments', type: '[]CreatableReplicaAssignment', versions: '0+', fields: [
              { name: 'PartitionIndex', type: 'int32', versions: '0+' },
              { name: 'BrokerIds', type: '[]int32', versions: '0+' },
            ],
          },
          {
            name: 'Configs', type: '[]CreatableTopicConfig', versions: '0+', fields: [
              { name: 'Name', type: 'string', versions: '0+' },
              { name: 'Value', type: 'string', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
      { name: 'timeoutMs', type: 'int32', versions: '0+' },
      { name: 'validateOnly', type: 'bool', versions: '1+' },
    ],
  },
  response: {
    apiKey: 19,
    name: 'CreateTopicsResponse',
    type: 'response',
    validVersions: '0-7',
    flexibleVersions: '5+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '2+' },
      {
        name: 'Topics', type: '[]CreatableTopicResult', versions: '0+', fields: [
          { name: 'Name', type: 'string', versions: '0+' },
          { name: 'TopicId', type: 'uuid', versions: '7+' },
          { name: 'ErrorCode', type: 'int16', versions: '0+' },
          // Kafka declares nullableVersions "0+" although the field only exists from v1.
          { name: 'ErrorMessage', type: 'string', versions: '1+', nullableVersions: '0+' },
          { name: 'TopicConfigErrorCode', type: 'int16', versions: '5+', tag: 0, taggedVersions: '5+' },
          { name: 'NumPartitions', type: 'int32', versions: '5+' },
          { name: 'ReplicationFactor', type: 'int16', versions: '5+' },
          {
            name: 'Configs', type: '[]CreatableTopicConfigs', versions: '5+', nullableVersions: '5+', fields: [
              { name: 'Name', type: 'string', versions: '5+' },
              { name: 'Value', type: 'string', versions: '5+', nullableVersions: '5+' },
              { name: 'ReadOnly', type: 'bool', versions: '5+' },
              { name: 'ConfigSource', type: 'int8', versions: '5+' },
              { name: 'IsSensitive', type: 'bool', versions: '5+' },
            ],
          },
        ],
      },
    ],
  },
};
