/** Topics, partitions and records: CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords. */
import { ZERO_UUID } from '../../../protocol/codec.js';
import { API_KEY } from '../../../protocol/registry.js';
import { defineApi } from './api.js';
import { configMap, firstError, int64, pairByKey, type Details, type Outcome } from './shared.js';

export const createTopics = defineApi({
  apiKey: API_KEY.CreateTopics,
  category: 'management',
  operations(b, req, res) {
    for (const { req: t, res: r } of pairByKey(req.Topics, (t) => t.Name, res?.Topics, (r) => r.Name)) {
      const name = (t ?? r)!.Name;
      let details: Details | undefined;
      if (t) {
        details = {
          numPartitions: t.NumPartitions,
          replicationFactor: t.ReplicationFactor,
          configs: configMap(t.Configs),
          assignments: t.Assignments?.length ? t.Assignments.map((a) => ({ partition: a.PartitionIndex, brokers: a.BrokerIds })) : undefined,
          validateOnly: req.validateOnly ? true : undefined,
        };
      }
      if (r?.TopicId && r.TopicId !== ZERO_UUID) (details ??= {}).topicId = r.TopicId;
      b.add({ type: 'Topic', name }, 'Create', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
    }
  },
  refusal: (req) => ({ Topics: req.Topics.map((t) => ({ Name: t.Name, NumPartitions: -1, ReplicationFactor: -1, Configs: null })) }),
});

export const deleteTopics = defineApi({
  apiKey: API_KEY.DeleteTopics,
  category: 'management',
  operations(b, req, res, ctx) {
    const results = res?.Responses ?? [];
    if (ctx.apiVersion < 6) {
      for (const { req: n, res: r } of pairByKey(req.TopicNames ?? [], (n) => n, results, (r) => r.Name ?? '')) {
        b.add({ type: 'Topic', name: (n ?? r!.Name) ?? '' }, 'Delete', { code: r?.ErrorCode, message: r?.ErrorMessage });
      }
      return;
    }
    // v6+: by name (TopicId all-zero) or by id (Name null). The broker shuffles the results and fills in the name
    // of an id it resolved (null when the caller may not even describe the topic), so match by id, else by name.
    type Result = (typeof results)[number];
    const byId = new Map<string, Result>();
    const byName = new Map<string, Result>();
    for (const r of results) {
      if (r.TopicId && r.TopicId !== ZERO_UUID && !byId.has(r.TopicId)) byId.set(r.TopicId, r);
      if (r.Name != null && !byName.has(r.Name)) byName.set(r.Name, r);
    }
    const used = new Set<Result>();
    const seen = new Set<string>();
    const emit = (name: string | null, id: string | undefined, r: Result | undefined): void => {
      const topicId = id && id !== ZERO_UUID ? id : undefined;
      const resolved = name ?? (topicId ? ctx.topicName(topicId) : undefined) ?? `topicId:${topicId ?? ZERO_UUID}`;
      b.add({ type: 'Topic', name: resolved }, 'Delete', { code: r?.ErrorCode, message: r?.ErrorMessage }, { topicId });
    };
    for (const t of req.Topics ?? []) {
      const hasId = !!t.TopicId && t.TopicId !== ZERO_UUID;
      const key = hasId ? `id:${t.TopicId}` : `name:${t.Name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const r = hasId ? byId.get(t.TopicId) : t.Name != null ? byName.get(t.Name) : undefined;
      if (r) used.add(r);
      emit(t.Name ?? r?.Name ?? null, hasId ? t.TopicId : r?.TopicId, r);
    }
    for (const r of results) if (!used.has(r)) emit(r.Name ?? null, r.TopicId, r);
  },
  refusal: (req, v) => ({
    Responses: v < 6
      ? (req.TopicNames ?? []).map((n) => ({ Name: n }))
      : (req.Topics ?? []).map((t) => ({ Name: t.Name, TopicId: t.TopicId ?? ZERO_UUID })),
  }),
});

export const createPartitions = defineApi({
  apiKey: API_KEY.CreatePartitions,
  category: 'management',
  operations(b, req, res) {
    for (const { req: t, res: r } of pairByKey(req.Topics, (t) => t.Name, res?.Results, (r) => r.Name)) {
      const details = t ? {
        count: t.Count,
        assignments: t.Assignments ? t.Assignments.map((a) => a.BrokerIds) : undefined,
        validateOnly: req.ValidateOnly ? true : undefined,
      } : undefined;
      b.add({ type: 'Topic', name: (t ?? r)!.Name }, 'Alter', { code: r?.ErrorCode, message: r?.ErrorMessage }, details);
    }
  },
  refusal: (req) => ({ Results: req.Topics.map((t) => ({ Name: t.Name })) }),
});

export const deleteRecords = defineApi({
  apiKey: API_KEY.DeleteRecords,
  category: 'management',
  operations(b, req, res) {
    for (const { req: t, res: r } of pairByKey(req.Topics, (t) => t.Name, res?.Topics, (r) => r.Name)) {
      const details = t ? { partitions: t.Partitions.map((p) => ({ partition: p.PartitionIndex, offset: int64(p.Offset) })) } : undefined;
      // No ErrorMessage in this API: the first failing partition's code, with Kafka's message for it.
      const outcome: Outcome = r ? { code: firstError(r.Partitions).code } : { code: undefined };
      b.add({ type: 'Topic', name: (t ?? r)!.Name }, 'Delete', outcome, details);
    }
  },
  refusal: (req) => ({
    Topics: req.Topics.map((t) => ({ Name: t.Name, Partitions: t.Partitions.map((p) => ({ PartitionIndex: p.PartitionIndex, LowWatermark: -1n })) })),
  }),
});
