import type { ApiSchema } from '../schema.js';

/** DescribeCluster (key 60): 0-1 in Kafka 3.9, 0-2 in 4.1 (v2 adds fenced brokers); flexible from v0. */
export const DescribeCluster: ApiSchema = {
  apiKey: 60,
  name: 'DescribeCluster',
  request: {
    apiKey: 60,
    name: 'DescribeClusterRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '0+',
    fields: [
      { name: 'IncludeClusterAuthorizedOperations', type: 'bool', versions: '0+' },
      { name: 'EndpointType', type: 'int8', versions: '1+' },
      { name: 'IncludeFencedBrokers', type: 'bool', versions: '2+' },
    ],
  },
  response: {
    apiKey: 60,
    name: 'DescribeClusterResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '0+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '0+' },
      { name: 'ErrorCode', type: 'int16', versions: '0+' },
      { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'EndpointType', type: 'int8', versions: '1+' },
      { name: 'ClusterId', type: 'string', versions: '0+' },
      { name: 'ControllerId', type: 'int32', versions: '0+' },
      {
        name: 'Brokers', type: '[]DescribeClusterBroker', versions: '0+', fields: [
          { name: 'BrokerId', type: 'int32', versions: '0+' },
          { name: 'Host', type: 'string', versions: '0+' },
          { name: 'Port', type: 'int32', versions: '0+' },
          { name: 'Rack', type: 'string', versions: '0+', nullableVersions: '0+' },
          { name: 'IsFenced', type: 'bool', versions: '2+' },
        ],
      },
      { name: 'ClusterAuthorizedOperations', type: 'int32', versions: '0+' },
    ],
  },
};
