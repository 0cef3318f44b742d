/** Groups: DeleteGroups, DescribeGroups, ListGroups, OffsetDelete, and the share groups' offsets and descriptions. */
import { API_KEY } from '../../../protocol/registry.js';
import { defineApi } from './api.js';
import { clusterResource, firstError, int64, pairByKey, withTopLevel } from './shared.js';

export const deleteGroups = defineApi({
  apiKey: API_KEY.DeleteGroups,
  category: 'management',
  operations(b, req, res) {
    // DeleteGroups results carry no ErrorMessage: Kafka's default message is used.
    for (const { req: g, res: r } of pairByKey(req.GroupsNames, (g) => g, res?.Results, (r) => r.GroupId)) {
      b.add({ type: 'Group', name: g ?? r!.GroupId }, 'Delete', { code: r?.ErrorCode });
    }
  },
  refusal: (req) => ({ Results: req.GroupsNames.map((g) => ({ GroupId: g })) }),
});

export const describeGroups = defineApi({
  apiKey: API_KEY.DescribeGroups,
  category: 'describe',
  operations(b, req, res) {
    for (const { req: g, res: r } of pairByKey(req.Groups, (g) => g, res?.Groups, (r) => r.GroupId)) {
      b.add({ type: 'Group', name: g ?? r!.GroupId }, 'Describe', { code: r?.ErrorCode, message: r?.ErrorMessage });
    }
  },
});

export const listGroups = defineApi({
  apiKey: API_KEY.ListGroups,
  category: 'describe',
  operations(b, req, res, ctx) {
    const details = {
      statesFilter: req.StatesFilter?.length ? req.StatesFilter : undefined,
      typesFilter: req.TypesFilter?.length ? req.TypesFilter : undefined,
      groupCount: res ? res.Groups.length : undefined,
    };
    b.add(clusterResource(ctx), 'Describe', { code: res?.ErrorCode }, details);
  },
});

export const offsetDelete = defineApi({
  apiKey: API_KEY.OffsetDelete,
  category: 'management',
  operations(b, req, res) {
    const details = { topics: req.Topics.map((t) => ({ topic: t.Name, partitions: t.Partitions.map((p) => p.PartitionIndex) })) };
    const outcome = withTopLevel(res, () => ({ code: firstError((res?.Topics ?? []).flatMap((t) => t.Partitions)).code }));
    b.add({ type: 'Group', name: req.GroupId }, 'Delete', outcome, details);
  },
  refusal: () => ({ Topics: [] }),
});

/** Per topic, each partition's committed offset and, once the answer came, the broker's error code for it. */
function committedOffsets(
  topics: ReadonlyArray<{ Name: string; Partitions: ReadonlyArray<{ PartitionIndex: number; CommittedOffset: bigint }> }>,
  results: ReadonlyArray<{ Name: string; Partitions: ReadonlyArray<{ PartitionIndex: number; ErrorCode: number }> }> | undefined,
) {
  const codes = new Map<string, number>();
  for (const t of results ?? []) for (const p of t.Partitions) codes.set(`${t.Name}\u0000${p.PartitionIndex}`, p.ErrorCode);
  return topics.map((t) => ({
    topic: t.Name,
    partitions: t.Partitions.map((p) => ({
      partition: p.PartitionIndex, offset: int64(p.CommittedOffset), errorCode: codes.get(`${t.Name}\u0000${p.PartitionIndex}`),
    })),
  }));
}

/**
 * Committed consumer offsets (consume category: audited when the rules switch it on; `first-per-connection` keeps
 * one event per group and connection). A commit from outside the group's membership (no generation, no member:
 * `kafka-consumer-groups --reset-offsets`, AdminClient.alterConsumerGroupOffsets, or a consumer that assigns its
 * partitions itself) says so in `groupMember: false`; an offset reset comes on a connection of its own, so it is
 * always among the events kept. The outcome is the first error; each partition's own code is in the details, so a
 * commit the broker executed in part (one topic denied, another committed) shows what was committed.
 */
export const offsetCommit = defineApi({
  apiKey: API_KEY.OffsetCommit,
  category: 'consume',
  operations(b, req, res) {
    const groupMember = (req.GenerationIdOrMemberEpoch ?? -1) >= 0 || (req.MemberId ?? '') !== '';
    const details = { groupMember, topics: committedOffsets(req.Topics, res?.Topics) };
    b.add({ type: 'Group', name: req.GroupId }, 'Read', res ? firstError(res.Topics.flatMap((t) => t.Partitions)) : { code: undefined }, details);
  },
});

/**
 * Consumer offsets committed inside a transaction (a transactional producer's sendOffsetsToTransaction; they take
 * effect when EndTxn commits): the same consumer offsets as OffsetCommit, so the same (consume) category.
 */
export const txnOffsetCommit = defineApi({
  apiKey: API_KEY.TxnOffsetCommit,
  category: 'consume',
  operations(b, req, res) {
    const groupMember = (req.GenerationId ?? -1) >= 0 || (req.MemberId ?? '') !== '';
    const details = { groupMember, transactionalId: req.TransactionalId, topics: committedOffsets(req.Topics, res?.Topics) };
    b.add({ type: 'Group', name: req.GroupId }, 'Read', res ? firstError(res.Topics.flatMap((t) => t.Partitions)) : { code: undefined }, details);
  },
});

export const alterShareGroupOffsets = defineApi({
  apiKey: API_KEY.AlterShareGroupOffsets,
  category: 'management',
  operations(b, req, res) {
    const details = {
      topics: req.Topics.map((t) => ({
        topic: t.TopicName,
        partitions: t.Partitions.map((p) => ({ partition: p.PartitionIndex, startOffset: int64(p.StartOffset) })),
      })),
    };
    const outcome = withTopLevel(res, () => firstError((res?.Responses ?? []).flatMap((t) => t.Partitions)));
    b.add({ type: 'Group', name: req.GroupId }, 'Alter', outcome, details);
  },
  refusal: () => ({ Responses: [] }),
});

export const deleteShareGroupOffsets = defineApi({
  apiKey: API_KEY.DeleteShareGroupOffsets,
  category: 'management',
  operations(b, req, res) {
    const details = { topics: req.Topics.map((t) => t.TopicName) };
    const outcome = withTopLevel(res, () => firstError(res?.Responses ?? []));
    b.add({ type: 'Group', name: req.GroupId }, 'Delete', outcome, details);
  },
  refusal: () => ({ Responses: [] }),
});

/** Share groups described, one operation per group (KIP-932 administration). */
export const shareGroupDescribe = defineApi({
  apiKey: API_KEY.ShareGroupDescribe,
  category: 'describe',
  operations(b, req, res) {
    for (const { req: g, res: r } of pairByKey(req.GroupIds, (g) => g, res?.Groups, (r) => r.GroupId)) {
      b.add({ type: 'Group', name: g ?? r!.GroupId }, 'Describe', { code: r?.ErrorCode, message: r?.ErrorMessage });
    }
  },
});

/** A share group's offsets read, one operation per group (KIP-932 administration). */
export const describeShareGroupOffsets = defineApi({
  apiKey: API_KEY.DescribeShareGroupOffsets,
  category: 'describe',
  operations(b, req, res) {
    for (const { req: g, res: r } of pairByKey(req.Groups, (g) => g.GroupId, res?.Groups, (r) => r.GroupId)) {
      const details = g?.Topics ? { topics: g.Topics.map((t) => t.TopicName) } : undefined;
      const outcome = withTopLevel(r, () => (r ? firstError(r.Topics.flatMap((t) => t.Partitions)) : { code: undefined }));
      b.add({ type: 'Group', name: (g ?? r)!.GroupId }, 'Describe', outcome, details);
    }
  },
});
