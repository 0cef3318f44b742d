import type { ApiSchema } from '../schema.js';

/** FindCoordinator (key 10): versions 0-6; v4+ batches several keys (KIP-699). */
export const FindCoordinator: ApiSchema = {
  apiKey: 10,
  name: 'FindCoordinator',
  request: {
    apiKey: 10,
    name: 'FindCoordinatorRequest',
    type: 'request',
    validVersions: '0-6',
    flexibleVersions: '3+',
    fields: [
      { name: 'Key', type: 'string', versions: '0-3' },
      { name: 'KeyType', type: 'int8', versions: '1+' },
      { name: 'CoordinatorKeys', type: '[]string', versions: '4+' },
    ],
  },
  response: {
    apiKey: 10,
    name: 'FindCoordinatorResponse',
    type: 'response',
    validVersions: '0-6',
    flexibleVersions: '3+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '1+' },
      { name: 'ErrorCode', type: 'int16', versions: '0-3' },
      { name: 'ErrorMessage', type: 'string', versions: '1-3', nullableVersions: '1-3' },
      { name: 'NodeId', type: 'int32', versions: '0-3' },
      { name: 'Host', type: 'string', versions: '0-3' },
      { name: 'Port', type: 'int32', versions: '0-3' },
      {
        name: 'Coordinators', type: '[]Coordinator', versions: '4+', fields: [
          { name: 'Key', type: 'string', versions: '4+' },
          { name: 'NodeId', type: 'int32', versions: '4+' },
          { name: 'Host', type: 'string', versions: '4+' },
          { name: 'Port', type: 'int32', versions: '4+' },
          { name: 'ErrorCode', type: 'int16', versions: '4+' },
          { name: 'ErrorMessage', type: 'string', versions: '4+', nullableVersions: '4+' },
        ],
      },
    ],
  },
};
