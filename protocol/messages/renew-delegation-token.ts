import type { ApiSchema } from '../schema.js';

/** v0 was removed in Kafka 4.0; its layout comes from 3.9. */
export const RenewDelegationToken: ApiSchema = {
  apiKey: 39,
  name: 'RenewDelegationToken',
  request: {
    apiKey: 39,
    name: 'RenewDelegationTokenRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '2+',
    fields: [
      { name: 'Hmac', type: 'bytes', versions: '0+' },
      { name: 'RenewPeriodMs', type: 'int64', versions: '0+' },
    ],
  },
  response: {
    apiKey: 39,
    name: 'RenewDelegationTokenResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '2+',
    fields: [
      { name: 'ErrorCode', type: 'int16', versions: '0+' },
      { name: 'ExpiryTimestampMs', type: 'int64', versions: '0+' },
      { name: 'ThrottleTimeMs', type: 'int32', versions: '0+' },
    ],
  },
};
