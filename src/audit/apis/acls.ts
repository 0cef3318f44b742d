/** ACLs: CreateAcls, DeleteAcls, DescribeAcls. */
import { kafkaError } from '../../../protocol/errors.js';
import { API_KEY } from '../../../protocol/registry.js';
import { defineApi } from './api.js';
import {
  ACL_OPERATION, ACL_PERMISSION, ACL_RESOURCE_TITLE, ACL_RESOURCE_TYPE, clusterResource, enumName, firstError, PATTERN_LITERAL, PATTERN_TYPE,
  type Details, type ExtractContext, type Outcome, type Resource,
} from './shared.js';

/**
 * The resource of an ACL binding or filter: the named resource when the type is a concrete one (TOPIC ... USER)
 * and the name is not null; otherwise (ANY/UNKNOWN type, or a filter matching any name) the cluster, which is
 * what the broker authorizes (ALTER or DESCRIBE on CLUSTER) — `concrete` is then false.
 */
function aclResource(type: number, name: string | null, patternType: number, ctx: ExtractContext): { resource: Resource; concrete: boolean } {
  const title = ACL_RESOURCE_TITLE[type];
  if (title === undefined || name == null) return { resource: clusterResource(ctx), concrete: false };
  return { resource: { type: title, name, patternType: enumName(PATTERN_TYPE, patternType) }, concrete: true };
}

interface AclBinding {
  ResourceType: number; ResourceName: string; Principal: string; Host: string; Operation: number; PermissionType: number; ErrorCode?: number;
}

function aclBinding(a: AclBinding, pattern: number): Details {
  const d: Details = {
    resourceType: enumName(ACL_RESOURCE_TYPE, a.ResourceType),
    resourceName: a.ResourceName,
    patternType: enumName(PATTERN_TYPE, pattern),
    principal: a.Principal,
    host: a.Host,
    operation: enumName(ACL_OPERATION, a.Operation),
    permissionType: enumName(ACL_PERMISSION, a.PermissionType),
  };
  if (typeof a.ErrorCode === 'number' && a.ErrorCode !== 0) d.error = kafkaError(a.ErrorCode).name;
  return d;
}

interface AclFilter {
  ResourceTypeFilter: number; ResourceNameFilter: string | null; PrincipalFilter: string | null; HostFilter: string | null;
  Operation: number; PermissionType: number;
}

function aclFilter(f: AclFilter, pattern: number): Details {
  return {
    resourceType: enumName(ACL_RESOURCE_TYPE, f.ResourceTypeFilter),
    resourceName: f.ResourceNameFilter,
    patternType: enumName(PATTERN_TYPE, pattern),
    principal: f.PrincipalFilter,
    host: f.HostFilter,
    operation: enumName(ACL_OPERATION, f.Operation),
    permissionType: enumName(ACL_PERMISSION, f.PermissionType),
  };
}

export const createAcls = defineApi({
  apiKey: API_KEY.CreateAcls,
  category: 'management',
  operations(b, req, res, ctx) {
    const results = res?.Results ?? [];
    req.Creations.forEach((c, i) => {
      const pattern = c.ResourcePatternType ?? PATTERN_LITERAL; // v0: literal
      const { resource, concrete } = aclResource(c.ResourceType, c.ResourceName, pattern, ctx);
      const details: Details = {
        principal: c.Principal,
        host: c.Host,
        operation: enumName(ACL_OPERATION, c.Operation),
        permissionType: enumName(ACL_PERMISSION, c.PermissionType),
      };
      if (!concrete) {
        details.resourceType = enumName(ACL_RESOURCE_TYPE, c.ResourceType);
        details.resourceName = c.ResourceName;
        details.patternType = enumName(PATTERN_TYPE, pattern);
      }
      const r = results[i];
      b.add(resource, 'Alter', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
    });
  },
  refusal: (req) => ({ Results: req.Creations.map(() => ({})) }),
});

export const deleteAcls = defineApi({
  apiKey: API_KEY.DeleteAcls,
  category: 'management',
  operations(b, req, res, ctx) {
    const results = res?.FilterResults ?? [];
    req.Filters.forEach((f, i) => {
      const pattern = f.PatternTypeFilter ?? PATTERN_LITERAL; // v0: literal
      const { resource } = aclResource(f.ResourceTypeFilter, f.ResourceNameFilter, pattern, ctx);
      const r = results[i];
      const matching = r?.MatchingAcls ?? [];
      const details: Details = {
        filter: aclFilter(f, pattern),
        matchingAclCount: r ? matching.length : undefined,
        matchingAcls: r ? matching.map((a) => aclBinding(a, a.PatternType ?? PATTERN_LITERAL)) : undefined,
      };
      const outcome: Outcome = !r ? { code: undefined } : r.ErrorCode !== 0 ? { code: r.ErrorCode, message: r.ErrorMessage } : firstError(matching);
      b.add(resource, 'Alter', outcome, details);
    });
  },
  refusal: (req) => ({ FilterResults: req.Filters.map(() => ({ MatchingAcls: [] })) }),
});

export const describeAcls = defineApi({
  apiKey: API_KEY.DescribeAcls,
  category: 'describe',
  operations(b, req, res, ctx) {
    const resources = res?.Resources ?? [];
    const details = {
      filter: aclFilter(req, req.PatternTypeFilter ?? PATTERN_LITERAL),
      matchingResourceCount: res ? resources.length : undefined,
      matchingAclCount: res ? resources.reduce((n, r) => n + r.Acls.length, 0) : undefined,
    };
    b.add(clusterResource(ctx), 'Describe', { code: res?.ErrorCode, message: res?.ErrorMessage }, details);
  },
});
