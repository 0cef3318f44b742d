import type { ApiSchema } from '../schema.js';

/** v6 (per-group ErrorMessage) is new in Kafka 4.x. */
export const DescribeGroups: ApiSchema = {
  apiKey: 15,
  name: 'DescribeGroups',
  request: {
    apiKey: 15,
    name: 'DescribeGroupsRequest',
    type: 'request',
    validVersions: '0-6',
    flexibleVersions: '5+',
    fields: [
      { name: 'Groups', type: '[]string', versions: '0+' },
      { name: 'IncludeAuthorizedOperations', type: 'bool', versions: '3+' },
    ],
  },
  response: {
    apiKey: 15,
    name: 'DescribeGroupsResponse',
    type: 'response',
    validVersions: '0-6',
    flexibleVersions: '5+',
    fields: [
      { name: 'ThrottleTimeMs', type: 'int32', versions: '1+' },
      {
        name: 'Groups', type: '[]DescribedGroup', versions: '0+', fields: [
          { name: 'ErrorCode', type: 'int16', versions: '0+' },
          { name: 'ErrorMessage', type: 'string', versions: '6+', nullableVersions: '6+' },
          { name: 'GroupId', type: 'string', versions: '0+' },
          { name: 'GroupState', type: 'string', versions: '0+' },
          { name: 'ProtocolType', type: 'string', versions: '0+' },
          { name: 'ProtocolData', type: 'string', versions: '0+' },
          {
            name: 'Members', type: '[]DescribedGroupMember', versions: '0+', fields: [
              { name: 'MemberId', type: 'string', versions: '0+' },
              { name: 'GroupInstanceId', type: 'string', versions: '4+', nullableVersions: '4+' },
              { name: 'ClientId', type: 'string', versions: '0+' },
              { name: 'ClientHost', type: 'string', versions: '0+' },
              { name: 'MemberMetadata', type: 'bytes', versions: '0+' },
              { name: 'MemberAssignment', type: 'bytes', versions: '0+' },
            ],
          },
          { name: 'AuthorizedOperations', type: 'int32', versions: '3+' },
        ],
      },
    ],
  },
};
