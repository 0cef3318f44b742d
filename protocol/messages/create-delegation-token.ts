import type { ApiSchema } from '../schema.js';

/** v0 was removed in Kafka 4.0; its layout comes from 3.9. */
export const CreateDelegationToken: ApiSchema = {
  apiKey: 38,
  name: 'CreateDelegationToken',
  request: {
    apiKey: 38,
    name: 'CreateDelegationTokenRequest',
    type: 'request',
    validVersions: '0-3',
    flexibleVersions: '2+',
    fields: [
      { name: 'OwnerPrincipalType', type: 'string', versions: '3+', nullableVersions: '3+' },
      { name: 'OwnerPrincipalName', type: 'string', versions: '3+', nullableVersions: '3+' },
      {
        name: 'Renewers', type: '[]CreatableRenewers', versions: '0+', fields: [
          { name: 'PrincipalType', type: 'string', versions: '0+' },
          { name: 'PrincipalName', type: 'string', versions: '0+' },
        ],
      },
      { name: 'MaxLifetimeMs', type: 'int64', versions: '0+' },
    ],
  },
  response: {
    apiKey: 38,
    name: 'CreateDelegationTokenResponse',
    type: 'response',
    validVersions: '0-3',
    flexibleVersions: '2+',
    fields: [
      { name: 'ErrorCode', type: 'int16', versions: '0+' },
      { name: 'PrincipalType', type: 'string', versions: '0+' },
      { name: 'PrincipalName', type: 'string', versions: '0+' },
      { name: 'TokenRequesterPrincipalType', type: 'string', versions: '3+' },
      { name: 'TokenRequesterPrincipalName', type: 'string', versions: '3+' },
      { name: 'IssueTimestampMs', type: 'int64', versions: '0+' },
      { name: 'ExpiryTimestampMs', type: 'int64', versions: '0+' },
      { name: 'MaxTimestampMs', type: 'int64', versions: '0+' },
      { name: 'TokenId', type: 'string', versions: '0+' },
      { name: 'Hmac', type: 'bytes', versions: '0+' },
      { name: 'ThrottleTimeMs', type: 'int32', versions: '0+' },
    ],
  },
};
