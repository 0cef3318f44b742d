/**
 * Produce and Fetch: audited only when the rules switch the produce/consume categories on (off by default),
 * because auditing them means decoding data-path frames. One operation per topic, never payloads.
 */
import { ZERO_UUID } from '../../../protocol/codec.js';
import { API_KEY } from '../../../protocol/registry.js';
import { defineApi } from './api.js';
import { firstError, pairByKey, withTopLevel, type ExtractContext } from './shared.js';

/** Topic name of a Produce/Fetch topic entry: by name up to v12, by id from v13. */
function dataTopicName(name: string | null | undefined, id: string | undefined, ctx: ExtractContext): string {
  if (name != null) return name;
  return (id ? ctx.topicName(id) : undefined) ?? `topicId:${id ?? ZERO_UUID}`;
}

export const produce = defineApi({
  apiKey: API_KEY.Produce,
  category: 'produce',
  operations(b, req, res, ctx) {
    const reqKey = (t: { Name?: string; TopicId?: string }) => dataTopicName(t.Name, t.TopicId, ctx);
    for (const { req: t, res: r } of pairByKey(req.TopicData, reqKey, res?.Responses, reqKey)) {
      const parts = t?.PartitionData ?? [];
      const details = t ? {
        partitions: parts.map((p) => p.Index),
        bytes: parts.reduce((n, p) => n + (p.Records?.length ?? 0), 0),
        acks: req.Acks, transactionalId: req.TransactionalId ?? undefined,
      } : undefined;
      b.add({ type: 'Topic', name: reqKey((t ?? r)!) }, 'Write', r ? firstError(r.PartitionResponses) : { code: undefined }, details);
    }
  },
});

export const fetch = defineApi({
  apiKey: API_KEY.Fetch,
  category: 'consume',
  operations(b, req, res, ctx) {
    const key = (t: { Topic?: string; TopicId?: string }) => dataTopicName(t.Topic, t.TopicId, ctx);
    for (const { req: t, res: r } of pairByKey(req.Topics, key, res?.Responses, key)) {
      const details = {
        partitions: t ? t.Partitions.map((p) => p.Partition) : (r?.Partitions ?? []).map((p) => p.PartitionIndex),
        bytes: (r?.Partitions ?? []).reduce((n, p) => n + (p.Records?.length ?? 0), 0),
        sessionId: req.SessionId || undefined,
      };
      const outcome = withTopLevel(res, () => (r ? firstError(r.Partitions) : { code: undefined }));
      b.add({ type: 'Topic', name: key((t ?? r)!) }, 'Read', outcome, details);
    }
  },
});
