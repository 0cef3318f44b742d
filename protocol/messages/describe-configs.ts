import type { ApiSchema } from '../schema.js';

/**
 * DescribeConfigs (key 32): 0-4 in Kafka 3.9, 1-4 in 4.1. v0 (3.9's JSON only) has IsDefault instead of
 * ConfigSource; 4.1's JSON dropped IsDefault together with v0.
 */
export const DescribeConfigs: ApiSchema = {
  apiKey: 32,
  name: 'DescribeConfigs',
  request: {
    apiKey: 32,
    name: 'DescribeConfigsRequest',
    type: 'request',
    validVersions: '0-4',
    flexibleVersions: '4+',
    fields: [
      {
        name: 'Resources', type: '[]DescribeConfigsResource', versions: '0+', fields: [
          { name: 'ResourceType', type: 'int8', versions: '0+' },
          { name: 'ResourceName', type: 'string', versions: '0+' },
          { name: 'ConfigurationKeys', type: '[]string', versions: '0+', nullableVersions: '0+' },
        ],
      },
      { name: 'IncludeSynonyms', type: 'bool', versions: '1+' },
      { name: 'IncludeDocumentation', type: 'bool', versions: '3+' },
    ],
  },
  response: {
    apiKey: 32,
    name: 'DescribeConfigsResponse',
    type: 'response',
    validVersions: '0-4',
    flexibleVersions: '4+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'Results', type: '[]DescribeConfigsResult', versions: '0+', fields: [
          { name: 'ErrorCode', type: 'int16', versions: '0+' },
          { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
          { name: 'ResourceType', type: 'int8', versions: '0+' },
          { name: 'ResourceName', type: 'string', versions: '0+' },
          {
            name: 'Configs', type: '[]DescribeConfigsResourceResult', versions: '0+', fields: [
              { name: 'Name', type: 'string', versions: '0+' },
              { name: 'Value', type: 'string', versions: '0+', nullableVersions: '0+' },
              { name: 'ReadOnly', type: 'bool', versions: '0+' },
              { name: 'IsDefault', type: 'bool', versions: '0' },
              { name: 'ConfigSource', type: 'int8', versions: '1+' },
              { name: 'IsSensitive', type: 'bool', versions: '0+' },
              {
                name: 'Synonyms', type: '[]DescribeConfigsSynonym', versions: '1+', fields: [
                  { name: 'Name', type: 'string', versions: '1+' },
                  // Kafka declares nullableVersions "0+" although the field only exists from v1.
                  { name: 'Value', type: 'string', versions: '1+', nullableVersions: '0+' },
                  { name: 'Source', type: 'int8', versions: '1+' },
                ],
              },
              { name: 'ConfigType', type: 'int8', versions: '3+' },
              { name: 'Documentation', type: 'string', versions: '3+', nullableVersions: '0+' },
            ],
          },
        ],
      },
    ],
  },
};
