import type { ApiSchema } from '../schema.js';
import { DescribeGroups } from './describe-groups.js';
import { ListGroups } from './list-groups.js';
import { DescribeAcls } from './describe-acls.js';
import { CreateAcls } from './create-acls.js';
import { DeleteAcls } from './delete-acls.js';
import { AlterConfigs } from './alter-configs.js';
import { CreateDelegationToken } from './create-delegation-token.js';
import { RenewDelegationToken } from './renew-delegation-token.js';
import { ExpireDelegationToken } from './expire-delegation-token.js';
import { DeleteGroups } from './delete-groups.js';
import { ElectLeaders } from './elect-leaders.js';
import { IncrementalAlterConfigs } from './incremental-alter-configs.js';
import { AlterPartitionReassignments } from './alter-partition-reassignments.js';
import { OffsetDelete } from './offset-delete.js';
import { AlterClientQuotas } from './alter-client-quotas.js';
import { AlterUserScramCredentials } from './alter-user-scram-credentials.js';
import { AlterShareGroupOffsets } from './alter-share-group-offsets.js';
import { DeleteShareGroupOffsets } from './delete-share-group-offsets.js';

/** Group B: group, ACL, config, quota, SCRAM, delegation-token and share-group-offset admin APIs (by API key). */
export const GROUP_B: ApiSchema[] = [
  DescribeGroups, // 15
  ListGroups, // 16
  DescribeAcls, // 29
  CreateAcls, // 30
  DeleteAcls, // 31
  AlterConfigs, // 33
  CreateDelegationToken, // 38
  RenewDelegationToken, // 39
  ExpireDelegationToken, // 40
  DeleteGroups, // 42
  ElectLeaders, // 43
  IncrementalAlterConfigs, // 44
  AlterPartitionReassignments, // 45
  OffsetDelete, // 47
  AlterClientQuotas, // 49
  AlterUserScramCredentials, // 51
  AlterShareGroupOffsets, // 91
  DeleteShareGroupOffsets, // 92
];
