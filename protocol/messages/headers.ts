import type { MessageSchema } from '../schema.js';

/**
 * Request and response headers (RequestHeader.json / ResponseHeader.json). Kafka's JSON has no apiKey for
 * headers; we use -1. Request header v0 (3.9 only; 4.x dropped it) has no ClientId. ClientId is never a compact
 * string, even in flexible header versions (flexibleVersions "none"), so that a broker can always read it.
 */
export const RequestHeader: MessageSchema = {
  apiKey: -1,
  name: 'RequestHeader',
  type: 'request',
  validVersions: '0-2',
  flexibleVersions: '2+',
  fields: [
    { name: 'RequestApiKey', type: 'int16', versions: '0+' },
    { name: 'RequestApiVersion', type: 'int16', versions: '0+' },
    { name: 'CorrelationId', type: 'int32', versions: '0+' },
    { name: 'ClientId', type: 'string', versions: '1+', nullableVersions: '1+', flexibleVersions: 'none' },
  ],
};

export const ResponseHeader: MessageSchema = {
  apiKey: -1,
  name: 'ResponseHeader',
  type: 'response',
  validVersions: '0-1',
  flexibleVersions: '1+',
  fields: [
    { name: 'CorrelationId', type: 'int32', versions: '0+' },
  ],
};
