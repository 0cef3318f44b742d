/**
 * Partition placement and leadership (AlterPartitionReassignments, ElectLeaders), topics the broker creates for a
 * Metadata request (auto.create.topics.enable), and every other management API, which has no descriptor of its own.
 */
import { kafkaError } from '../../../protocol/errors.js';
import { API_KEY } from '../../../protocol/registry.js';
import type { Decoded } from '../../../protocol/codec.js';
import { responseErrorCode } from '../../metrics.js';
import type { AuditOperation } from '../operation.js';
import { defineApi, type AuditedApi } from './api.js';
import { clusterResource, ELECTION_TYPE, enumName, firstError, OperationBuilder, pairByKey, withTopLevel, type ExtractContext } from './shared.js';

export const alterPartitionReassignments = defineApi({
  apiKey: API_KEY.AlterPartitionReassignments,
  category: 'management',
  operations(b, req, res) {
    const allow = req.AllowReplicationFactorChange;
    for (const { req: t, res: r } of pairByKey(req.Topics, (t) => t.Name, res?.Responses, (r) => r.Name)) {
      const details = t ? {
        partitions: t.Partitions.map((p) => ({ partition: p.PartitionIndex, replicas: p.Replicas })),
        allowReplicationFactorChange: typeof allow === 'boolean' ? allow : undefined,
      } : undefined;
      const outcome = withTopLevel(res, () => (r ? firstError(r.Partitions) : { code: undefined }));
      b.add({ type: 'Topic', name: (t ?? r)!.Name }, 'Alter', outcome, details);
    }
  },
  refusal: () => ({ Responses: [] }),
});

export const electLeaders = defineApi({
  apiKey: API_KEY.ElectLeaders,
  category: 'management',
  operations(b, req, res, ctx) {
    const electionType = enumName(ELECTION_TYPE, req.ElectionType ?? 0); // v0 has no field: preferred election
    const results = res?.ReplicaElectionResults ?? [];
    if (req.TopicPartitions == null) {
      // null = every partition of the cluster: one operation on the cluster.
      const outcome = withTopLevel(res, () => firstError(results.flatMap((r) => r.PartitionResult)));
      b.add(clusterResource(ctx), 'Alter', outcome, { electionType, allPartitions: true });
      return;
    }
    for (const { req: t, res: r } of pairByKey(req.TopicPartitions, (t) => t.Topic, results, (r) => r.Topic)) {
      const outcome = withTopLevel(res, () => (r ? firstError(r.PartitionResult) : { code: undefined }));
      b.add({ type: 'Topic', name: (t ?? r)!.Topic }, 'Alter', outcome, { electionType, partitions: t ? t.Partitions : undefined });
    }
  },
  refusal: () => ({ ReplicaElectionResults: [] }),
});

const UNKNOWN_TOPIC_OR_PARTITION = 3;
const LEADER_NOT_AVAILABLE = 5;

/**
 * A Metadata request that lets the broker create the topics it names (AllowAutoTopicCreation, honoured where
 * auto.create.topics.enable is on) may create topics: written ahead like any creation, and audited for each topic
 * the broker did not know, which it answers UNKNOWN_TOPIC_OR_PARTITION (KRaft, creating it meanwhile where
 * auto-creation is on) or LEADER_NOT_AVAILABLE. The proxy cannot see the broker's setting, so the event says the
 * creation was requested; the audit interceptor reports each topic once per connection, as clients ask again and
 * again. Metadata without that flag is neither written ahead nor audited (clients send it all the time).
 */
export const metadataAutoCreate = defineApi({
  apiKey: API_KEY.Metadata,
  category: 'management',
  performs: (req) => req.AllowAutoTopicCreation === true && (req.Topics ?? []).length > 0,
  operations(b, req, res) {
    if (req.AllowAutoTopicCreation !== true || !req.Topics) return;
    const details = { autoTopicCreation: 'requested' };
    if (!res) {
      for (const t of req.Topics) if (t.Name != null) b.add({ type: 'Topic', name: t.Name }, 'Create', { code: undefined }, details);
      return;
    }
    for (const t of res.Topics) {
      if ((t.ErrorCode !== UNKNOWN_TOPIC_OR_PARTITION && t.ErrorCode !== LEADER_NOT_AVAILABLE) || t.Name == null) continue;
      const message = `topic auto-creation requested; the broker answered ${kafkaError(t.ErrorCode).name}, and creates the topic where auto.create.topics.enable is on`;
      b.add({ type: 'Topic', name: t.Name }, 'Create', { code: t.ErrorCode, message }, details);
    }
  },
  refusal: (req) => ({ Brokers: [], Topics: (req.Topics ?? []).map((t) => ({ Name: t.Name ?? '', TopicId: t.TopicId })) }),
});

/**
 * A management API without a descriptor of its own (UpdateFeatures, UnregisterBroker, AlterReplicaLogDirs, the
 * KRaft voter APIs, broker-internal APIs sent to a client listener, ...): one operation on the cluster with the
 * response's error (top-level, else the first one in its result lists). Refused, when it must be, with every error
 * code of its response set.
 */
export function genericManagementApi(apiKey: number, name: string): AuditedApi {
  return {
    apiKey, name, category: 'management',
    extract(req: Decoded, res: Decoded | undefined, ctx: ExtractContext): AuditOperation[] {
      const b = new OperationBuilder({ apiKey, name, category: 'management' }, ctx, res !== undefined);
      const code = res === undefined ? undefined : responseErrorCode(res);
      const message = res && typeof res.ErrorMessage === 'string' && res.ErrorCode === code ? res.ErrorMessage : undefined;
      b.add(clusterResource(ctx), name, { code, message }, { requestFields: Object.keys(req).filter((k) => !k.startsWith('_')) });
      return b.ops;
    },
    performs: () => true,
    refusal: () => ({}),
  };
}
