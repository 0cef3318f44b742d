import type { ApiSchema } from '../schema.js';

/** v0 was removed in Kafka 4.0; its layout comes from 3.9. */
export const CreateAcls: ApiSchema = {
  apiKey: 30,
  name: 'CreateAcls',
  request: {
    apiKey: 30,
    name: 'CreateAclsRequest',
    type: 'request',
    validVersions: '0-3',
    flexibleVersions: '2+',
    fields: [
      {
        name: 'Creations', type: '[]AclCreation', versions: '0+', fields: [
          { name: 'ResourceType', type: 'int8', versions: '0+' },
          { name: 'ResourceName', type: 'string', versions: '0+' },
          { name: 'ResourcePatternType', type: 'int8', versions: '1+' },
          { name: 'Principal', type: 'string', versions: '0+' },
          { name: 'Host', type: 'string', versions: '0+' },
          { name: 'Operation', type: 'int8', versions: '0+' },
          { name: 'PermissionType', type: 'int8', versions: '0+' },
        ],
      },
    ],
  },
  response: {
    apiKey: 30,
    name: 'CreateAclsResponse',
    type: 'response',
    validVersions: '0-3',
    flexibleVersions: '2+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'Results', type: '[]AclCreationResult', versions: '0+', fields: [
          { name: 'ErrorCode', type: 'int16', versions: '0+' },
          { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
        ],
      },
    ],
  },
};
