import type { ApiSchema } from '../schema.js';

/** v0 was removed in Kafka 4.0; its layout comes from 3.9. */
export const DeleteAcls: ApiSchema = {
  apiKey: 31,
  name: 'DeleteAcls',
  request: {
    apiKey: 31,
    name: 'DeleteAclsRequest',
    type: 'request',
    validVersions: '0-3',
    flexibleVersions: '2+',
    fields: [
      {
        name: 'Filters', type: '[]DeleteAclsFilter', versions: '0+', fields: [
          { name: 'ResourceTypeFilter', type: 'int8', versions: '0+' },
          { name: 'ResourceNameFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
          { name: 'PatternTypeFilter', type: 'int8', versions: '1+' },
          { name: 'PrincipalFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
          { name: 'HostFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
          { name: 'Operation', type: 'int8', versions: '0+' },
          { name: 'PermissionType', type: 'int8', versions: '0+' },
        ],
      },
    ],
  },
  response: {
    apiKey: 31,
    name: 'DeleteAclsResponse',
    type: 'response',
    validVersions: '0-3',
    flexibleVersions: '2+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'FilterResults', type: '[]DeleteAclsFilterResult', versions: '0+', fields: [
          { name: 'ErrorCode', type: 'int16', versions: '0+' },
          { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
          {
            name: 'MatchingAcls', type: '[]DeleteAclsMatchingAcl', versions: '0+', fields: [
              { name: 'ErrorCode', type: 'int16', versions: '0+' },
              { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
              { name: 'ResourceType', type: 'int8', versions: '0+' },
              { name: 'ResourceName', type: 'string', versions: '0+' },
              { name: 'PatternType', type: 'int8', versions: '1+' },
              { name: 'Principal', type: 'string', versions: '0+' },
              { name: 'Host', type: 'string', versions: '0+' },
              { name: 'Operation', type: 'int8', versions: '0+' },
              { name: 'PermissionType', type: 'int8', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
};
