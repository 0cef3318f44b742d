import type { ApiSchema } from '../schema.js';

/**
 * Produce (key 0): 0-11 in Kafka 3.9, 3-13 in 4.1. v0-2 come from 3.9's JSON only; v13 (4.1, KIP-516) replaces
 * the topic Name by a TopicId in both the request and the response.
 */
export const Produce: ApiSchema = {
  apiKey: 0,
  name: 'Produce',
  request: {
    apiKey: 0,
    name: 'ProduceRequest',
    type: 'request',
    validVersions: '0-13',
    flexibleVersions: '9+',
    fields: [
      { name: 'TransactionalId', type: 'string', versions: '3+', nullableVersions: '3+' },
      { name: 'Acks', type: 'int16', versions: '0+' },
      { name: 'TimeoutMs', type: 'int32', versions: '0+' },
      {
        name: 'TopicData', type: '[]TopicProduceData', versions: '0+', fields: [
          { name: 'Name', type: 'string', versions: '0-12' },
          { name: 'TopicId', type: 'uuid', versions: '13+' },
          {
            name: 'PartitionData', type: '[]PartitionProduceData', versions: '0+', fields: [
              { name: 'Index', type: 'int32', versions: '0+' },
              { name: 'Records', type: 'records', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 0,
    name: 'ProduceResponse',
    type: 'response',
    validVersions: '0-13',
    flexibleVersions: '9+',
    fields: [
      {
        name: 'Responses', type: '[]TopicProduceResponse', versions: '0+', fields: [
          { name: 'Name', type: 'string', versions: '0-12' },
          { name: 'TopicId', type: 'uuid', versions: '13+' },
          {
            name: 'PartitionResponses', type: '[]PartitionProduceResponse', versions: '0+', fields: [
              { name: 'Index', type: 'int32', versions: '0+' },
              { name: 'ErrorCode', type: 'int16', versions: '0+' },
              { name: 'BaseOffset', type: 'int64', versions: '0+' },
              { name: 'LogAppendTimeMs', type: 'int64', versions: '2+' },
              { name: 'LogStartOffset', type: 'int64', versions: '5+' },
              {
                name: 'RecordErrors', type: '[]BatchIndexAndErrorMessage', versions: '8+', fields: [
                  { name: 'BatchIndex', type: 'int32', versions: '8+' },
                  { name: 'BatchIndexErrorMessage', type: 'string', versions: '8+', nullableVersions: '8+' },
                ],
              },
              { name: 'ErrorMessage', type: 'string', versions: '8+', nullableVersions: '8+' },
              {
                name: 'CurrentLeader', type: 'LeaderIdAndEpoch', versions: '10+', tag: 0, taggedVersions: '10+', fields: [
                  { name: 'LeaderId', type: 'int32', versions: '10+' },
                  { name: 'LeaderEpoch', type: 'int32', versions: '10+' },
                ],
              },
            ],
          },
        ],
      },
      { name: 'ThrottleTimeMs', type: 'int32', versions: '1+' },
      {
        name: 'NodeEndpoints', type: '[]NodeEndpoint', versions: '10+', tag: 0, taggedVersions: '10+', fields: [
          { name: 'NodeId', type: 'int32', versions: '10+' },
          { name: 'Host', type: 'string', versions: '10+' },
          { name: 'Port', type: 'int32', versions: '10+' },
          { name: 'Rack', type: 'string', versions: '10+', nullableVersions: '10+' },
        ],
      },
    ],
  },
};
