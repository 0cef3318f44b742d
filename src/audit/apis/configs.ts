/** Configs and quotas: AlterConfigs, IncrementalAlterConfigs, DescribeConfigs, AlterClientQuotas. */
import { API_KEY } from '../../../protocol/registry.js';
import { defineApi } from './api.js';
import {
  CONFIG_OP, CONFIG_RESOURCE_TITLE, CONFIG_RESOURCE_TYPE, clusterResource, configMap, configValue, enumName, pairByKey,
  type Details, type ExtractContext, type Resource,
} from './shared.js';

/** Audit resource of a ConfigResource; CLIENT_METRICS and unknown types map to the cluster (`concrete` false). */
function configResource(type: number, name: string, ctx: ExtractContext): { resource: Resource; concrete: boolean } {
  const title = CONFIG_RESOURCE_TITLE[type];
  return title ? { resource: { type: title, name }, concrete: true } : { resource: clusterResource(ctx), concrete: false };
}

const configKey = (r: { ResourceType: number; ResourceName: string }): string => `${r.ResourceType}:${r.ResourceName}`;

function configTarget(item: { ResourceType: number; ResourceName: string }, ctx: ExtractContext): { resource: Resource; details: Details } {
  const { resource, concrete } = configResource(item.ResourceType, item.ResourceName, ctx);
  return { resource, details: { configResourceType: enumName(CONFIG_RESOURCE_TYPE, item.ResourceType), configResourceName: concrete ? undefined : item.ResourceName } };
}

export const alterConfigs = defineApi({
  apiKey: API_KEY.AlterConfigs,
  category: 'management',
  operations(b, req, res, ctx) {
    for (const { req: q, res: r } of pairByKey(req.Resources, configKey, res?.Responses, configKey)) {
      const { resource, details } = configTarget((q ?? r)!, ctx);
      if (q) {
        details.configs = configMap(q.Configs);
        if (req.ValidateOnly) details.validateOnly = true;
      }
      b.add(resource, 'AlterConfigs', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
    }
  },
  refusal: (req) => ({ Responses: req.Resources.map((x) => ({ ResourceType: x.ResourceType, ResourceName: x.ResourceName })) }),
});

export const incrementalAlterConfigs = defineApi({
  apiKey: API_KEY.IncrementalAlterConfigs,
  category: 'management',
  operations(b, req, res, ctx) {
    for (const { req: q, res: r } of pairByKey(req.Resources, configKey, res?.Responses, configKey)) {
      const { resource, details } = configTarget((q ?? r)!, ctx);
      if (q) {
        const configs: Record<string, { op: string; value: string | null }> = {};
        for (const c of q.Configs) configs[c.Name] = { op: enumName(CONFIG_OP, c.ConfigOperation), value: configValue(c.Name, c.Value) };
        details.configs = configs;
        if (req.ValidateOnly) details.validateOnly = true;
      }
      b.add(resource, 'AlterConfigs', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
    }
  },
  refusal: (req) => ({ Responses: req.Resources.map((x) => ({ ResourceType: x.ResourceType, ResourceName: x.ResourceName })) }),
});

export const describeConfigs = defineApi({
  apiKey: API_KEY.DescribeConfigs,
  category: 'describe',
  operations(b, req, res, ctx) {
    for (const { req: q, res: r } of pairByKey(req.Resources, configKey, res?.Results, configKey)) {
      const { resource, details } = configTarget((q ?? r)!, ctx);
      details.configurationKeys = q?.ConfigurationKeys ?? undefined;
      b.add(resource, 'DescribeConfigs', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
    }
  },
});

interface QuotaEntity { EntityType: string; EntityName: string | null }

/** "user=alice,client-id=x" in the request's entity order; a null name is the default entity ("<default>"). */
function quotaEntityName(entity: readonly QuotaEntity[]): string {
  return entity.map((e) => `${e.EntityType}=${e.EntityName ?? '<default>'}`).join(',');
}
/** Order-independent key of an entity, for pairing request and response entries. */
function quotaEntityKey(entity: readonly QuotaEntity[] | null | undefined): string {
  return JSON.stringify((entity ?? []).map((e) => [e.EntityType, e.EntityName ?? null]).sort());
}

export const alterClientQuotas = defineApi({
  apiKey: API_KEY.AlterClientQuotas,
  category: 'management',
  operations(b, req, res) {
    for (const { req: q, res: r } of pairByKey(req.Entries, (e) => quotaEntityKey(e.Entity), res?.Entries, (e) => quotaEntityKey(e.Entity))) {
      const details = q ? {
        // "quota", not "key": the event builder drops any details key named "key" as a possible secret.
        ops: q.Ops.map((o) => ({ quota: o.Key, value: o.Value, remove: o.Remove })),
        validateOnly: req.ValidateOnly ? true : undefined,
      } : undefined;
      b.add({ type: 'ClientQuota', name: quotaEntityName((q ?? r)!.Entity ?? []) }, 'AlterConfigs', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
    }
  },
  refusal: (req) => ({ Entries: req.Entries.map((e) => ({ Entity: e.Entity.map((x) => ({ EntityType: x.EntityType, EntityName: x.EntityName })) })) }),
});
