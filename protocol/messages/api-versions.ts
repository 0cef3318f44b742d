import type { ApiSchema } from '../schema.js';

/** ApiVersions (key 18): versions 0-4 in both Kafka 3.9 and 4.1. */
export const ApiVersions: ApiSchema = {
  apiKey: 18,
  name: 'ApiVersions',
  request: {
    apiKey: 18,
    name: 'ApiVersionsRequest',
    type: 'request',
    validVersions: '0-4',
    flexibleVersions: '3+',
    fields: [
      { name: 'ClientSoftwareName', type: 'string', versions: '3+' },
      { name: 'ClientSoftwareVersion', type: 'string', versions: '3+' },
    ],
  },
  response: {
    apiKey: 18,
    name: 'ApiVersionsResponse',
    type: 'response',
    validVersions: '0-4',
    flexibleVersions: '3+',
    fields: [
      { name: 'ErrorCode', type: 'int16', versions: '0+' },
      {
        name: 'ApiKeys', type: '[]ApiVersion', versions: '0+', fields: [
          { name: 'ApiKey', type: 'int16', versions: '0+' },
          { name: 'MinVersion', type: 'int16', versions: '0+' },
          { name: 'MaxVersion', type: 'int16', versions: '0+' },
        ],
      },
      { name: 'ThrottleTimeMs', type: 'int32', versions: '1+' },
      {
        name: 'SupportedFeatures', type: '[]SupportedFeatureKey', versions: '3+', tag: 0, taggedVersions: '3+', fields: [
          { name: 'Name', type: 'string', versions: '3+' },
          { name: 'MinVersion', type: 'int16', versions: '3+' },
          { name: 'MaxVersion', type: 'int16', versions: '3+' },
        ],
      },
      { name: 'FinalizedFeaturesEpoch', type: 'int64', versions: '3+', tag: 1, taggedVersions: '3+' },
      {
        name: 'FinalizedFeatures', type: '[]FinalizedFeatureKey', versions: '3+', tag: 2, taggedVersions: '3+', fields: [
          { name: 'Name', type: 'string', versions: '3+' },
          { name: 'MaxVersionLevel', type: 'int16', versions: '3+' },
          { name: 'MinVersionLevel', type: 'int16', versions: '3+' },
        ],
      },
      { name: 'ZkMigrationReady', type: 'bool', versions: '3+', tag: 3, taggedVersions: '3+' },
    ],
  },
};
